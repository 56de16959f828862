// CodecError: failures of encoding, decoding and token files, naming the file and the reason.

/// Errors from the codec: unsupported settings, mismatched models, bad token files.
public enum CodecError: Error, CustomStringConvertible, Equatable {
    case unsupportedBandwidth(requested: Double, available: [Double])
    case invalidCode(path: String, stage: Int, frame: Int, code: Int, bins: Int)
    case modelMismatch(path: String, reason: String)
    case corruptTokens(path: String, reason: String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .unsupportedBandwidth(requested, available):
            return "bandwidth \(requested) kbps is not offered by this model (available: \(available.map { "\($0)" }.joined(separator: ", ")))"
        case let .invalidCode(path, stage, frame, code, bins):
            return "\(path): code \(code) at stage \(stage), frame \(frame) is out of range (codebook has \(bins) codes)"
        case let .modelMismatch(path, reason): return "\(path): made with another model: \(reason)"
        case let .corruptTokens(path, reason): return "\(path): corrupt token file: \(reason)"
        case let .invalidInput(reason): return reason
        }
    }
}
