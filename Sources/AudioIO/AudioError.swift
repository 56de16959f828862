// AudioError: every way reading, converting, resampling or writing audio can fail, naming the file.

/// Errors from AudioIO. Each case names the file (where there is one) and the reason.
public enum AudioError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case isDirectory(path: String)
    case emptyFile(path: String)
    case unrecognizedFormat(path: String, reason: String)
    case truncated(path: String, expectedBytes: Int, foundBytes: Int)
    case noAudio(path: String)
    case readFailed(path: String, reason: String)
    case unsupportedChannelConversion(from: Int, to: Int)
    case unsupportedOutputFormat(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case resampler(reason: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .fileNotFound(path): return "\(path): no such file"
        case let .isDirectory(path): return "\(path): is a directory, not an audio file"
        case let .emptyFile(path): return "\(path): file is empty (0 bytes)"
        case let .unrecognizedFormat(path, reason): return "\(path): not a readable audio file: \(reason)"
        case let .truncated(path, expected, found):
            return "\(path): truncated audio file: header announces \(expected) bytes of audio data, file holds \(found)"
        case let .noAudio(path): return "\(path): file holds no audio (0 frames)"
        case let .readFailed(path, reason): return "\(path): read failed: \(reason)"
        case let .unsupportedChannelConversion(from, to):
            return "cannot convert \(from) channels to \(to): only N→1 (mean), 1→N (duplicate) and N→N are supported"
        case let .unsupportedOutputFormat(path, reason): return "\(path): cannot write this format: \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write output: \(reason)"
        case let .writeFailed(path, reason): return "\(path): write failed: \(reason)"
        case let .resampler(reason): return "resampler failed: \(reason)"
        case let .invalidArgument(reason): return reason
        }
    }
}
