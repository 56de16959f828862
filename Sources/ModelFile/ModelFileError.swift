// ModelFileError: every failure to read or verify a model file, with the path and the tensor involved.
import Foundation

/// Errors from reading, writing and verifying model files (safetensors, EnCodec `.th` checkpoints).
public enum ModelFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case corrupt(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case unusedTensor(path: String, name: String)
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])
    case unsupportedDType(path: String, name: String, dtype: String)
    case unsupportedVersion(path: String, found: String, supported: String)
    case unsupportedPickle(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read model file: \(reason)"
        case let .corrupt(path, reason): return "\(path): corrupt model file: \(reason)"
        case let .missingTensor(path, name): return "\(path): missing tensor '\(name)'"
        case let .unusedTensor(path, name): return "\(path): unexpected tensor '\(name)' (not used by this model)"
        case let .shapeMismatch(path, name, expected, found):
            return "\(path): tensor '\(name)' has shape \(found), expected \(expected)"
        case let .unsupportedDType(path, name, dtype): return "\(path): tensor '\(name)' has unsupported dtype \(dtype)"
        case let .unsupportedVersion(path, found, supported):
            return "\(path): model file version \(found) is not supported (supported: \(supported))"
        case let .unsupportedPickle(path, reason): return "\(path): unsupported pickle content: \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write model file: \(reason)"
        }
    }
}
