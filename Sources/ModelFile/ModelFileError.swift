// ModelFileError: every failure to read, write or verify a model or array file, with the path and the
// tensor involved (DESIGN.md §12: one error enum per module, cases carry context).
import Foundation

/// Errors from reading, writing and verifying model files (safetensors, PyTorch `.th`/`.pt` checkpoints)
/// and array files (`.npy`). Every case names the file; cases about one tensor name it too.
public enum ModelFileError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be opened or read at all (missing, a directory, permissions).
    case unreadable(path: String, reason: String)
    /// The file's structure is broken (truncated, bad magic, invalid header).
    case corrupt(path: String, reason: String)
    /// One tensor's entry is broken (offsets out of bounds or overlapping, size not matching its shape).
    case corruptTensor(path: String, name: String, reason: String)
    /// A tensor the model needs is absent; `expected` is its shape when known.
    case missingTensor(path: String, name: String, expected: [Int]? = nil)
    /// A tensor in the file that the model does not use; `found` is its shape when known.
    case unusedTensor(path: String, name: String, found: [Int]? = nil)
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])
    /// A tensor's element type is not one we read (or not the kind the caller asked for).
    case unsupportedDType(path: String, name: String, dtype: String)
    /// An array file (`.npy`) we refuse: its dtype, order or rank, with the reason.
    case unsupportedArray(path: String, reason: String)
    /// Values that would change in a conversion (an int64 code beyond int32, a float64 beyond float32).
    case valueOutOfRange(path: String, name: String, reason: String)
    case unsupportedVersion(path: String, found: String, supported: String)
    /// A pickle (inside a `.th` checkpoint) that uses an opcode or a global outside what state dicts need.
    case unsupportedPickle(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read \(fileKind(path)): \(reason)"
        case let .corrupt(path, reason): return "\(path): corrupt \(fileKind(path)): \(reason)"
        case let .corruptTensor(path, name, reason): return "\(path): tensor '\(name)' is corrupt: \(reason)"
        case let .missingTensor(path, name, expected):
            if let expected { return "\(path): missing tensor '\(name)' (expected shape \(expected))" }
            return "\(path): missing tensor '\(name)'"
        case let .unusedTensor(path, name, found):
            if let found { return "\(path): unexpected tensor '\(name)' with shape \(found) (not used by this model)" }
            return "\(path): unexpected tensor '\(name)' (not used by this model)"
        case let .shapeMismatch(path, name, expected, found):
            return "\(path): tensor '\(name)' has shape \(found), expected \(expected)"
        case let .unsupportedDType(path, name, dtype): return "\(path): tensor '\(name)' has unsupported dtype \(dtype)"
        case let .unsupportedArray(path, reason): return "\(path): unsupported array file: \(reason)"
        case let .valueOutOfRange(path, name, reason): return "\(path): tensor '\(name)': \(reason)"
        case let .unsupportedVersion(path, found, supported):
            return "\(path): model file version \(found) is not supported (supported: \(supported))"
        case let .unsupportedPickle(path, reason): return "\(path): unsupported pickle content: \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write model file: \(reason)"
        }
    }

    /// The file the error is about.
    public var path: String {
        switch self {
        case let .unreadable(path, _), let .corrupt(path, _), let .corruptTensor(path, _, _),
             let .missingTensor(path, _, _), let .unusedTensor(path, _, _), let .shapeMismatch(path, _, _, _),
             let .unsupportedDType(path, _, _), let .unsupportedArray(path, _), let .valueOutOfRange(path, _, _),
             let .unsupportedVersion(path, _, _), let .unsupportedPickle(path, _), let .unwritable(path, _):
            return path
        }
    }
}

/// What the messages call a file: ".npy file" for arrays (tokens, codebooks), "model file" otherwise.
private func fileKind(_ path: String) -> String {
    (path as NSString).pathExtension.lowercased() == "npy" ? ".npy file" : "model file"
}
