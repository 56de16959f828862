// TokensError: failures of token files, layouts, corpus tokenization, shards and manifests, naming the
// file (or argument) and the reason.

/// Errors from the Tokens module.
public enum TokensError: Error, CustomStringConvertible, Equatable {
    /// A token array has the wrong rank, shape or values for what was asked.
    case invalidTokens(path: String, reason: String)
    /// A laid-out sequence does not follow its pattern (wrong length, a special token where a code belongs,
    /// a value outside its codebook's vocabulary range).
    case invalidSequence(path: String, reason: String)
    /// A pattern name, shard spec or other argument that cannot be parsed.
    case invalidArgument(String)
    /// The model cannot be used this way (e.g. segmented models for `.npy` tokens).
    case unsupportedModel(name: String, reason: String)
    /// A manifest line or file that cannot be read.
    case invalidManifest(path: String, line: Int?, reason: String)
    /// Inputs that cannot be tokenized together (missing, duplicate outputs, ...).
    case invalidInput(path: String, reason: String)
    /// Shard manifests that cannot be merged.
    case mergeFailed(directory: String, reason: String)
    /// A file that cannot be written.
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidTokens(path, reason): return "\(path): invalid tokens: \(reason)"
        case let .invalidSequence(path, reason): return "\(path): invalid laid-out sequence: \(reason)"
        case let .invalidArgument(reason): return reason
        case let .unsupportedModel(name, reason): return "model '\(name)': \(reason)"
        case let .invalidManifest(path, line, reason):
            return "\(path)\(line.map { ":\($0)" } ?? ""): invalid manifest: \(reason)"
        case let .invalidInput(path, reason): return "\(path): \(reason)"
        case let .mergeFailed(directory, reason): return "\(directory): cannot merge shard manifests: \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write: \(reason)"
        }
    }
}
