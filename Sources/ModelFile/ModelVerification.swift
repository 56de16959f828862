// Verifying a loaded model file against what a model expects: every tensor present with its shape, none
// left over, and a supported format version (DESIGN.md §11; mlx-swift `UpdateError`, llm.c magic/version).
import Foundation

/// Every difference between the tensors a file holds (`found`, name → shape) and those a model expects
/// (`expected`), as errors naming `path`, the tensor and both shapes, in a fixed order: missing tensors,
/// then wrong shapes, then unused tensors, each group sorted by name. Empty when they agree.
public func tensorProblems(found: [String: [Int]], expected: [String: [Int]], path: String) -> [ModelFileError] {
    var missing: [ModelFileError] = []
    var misshapen: [ModelFileError] = []
    var unused: [ModelFileError] = []
    for name in expected.keys.sorted() {
        let want = expected[name]!
        guard let have = found[name] else {
            missing.append(.missingTensor(path: path, name: name, expected: want)); continue
        }
        if have != want { misshapen.append(.shapeMismatch(path: path, name: name, expected: want, found: have)) }
    }
    for name in found.keys.sorted() where expected[name] == nil {
        unused.append(.unusedTensor(path: path, name: name, found: found[name]!))
    }
    return missing + misshapen + unused
}

/// Throws the first of `tensorProblems(found:expected:path:)` (a missing tensor before a wrong shape before
/// an unused tensor), or returns when the file holds exactly the expected tensors with the expected shapes.
public func verifyTensors(found: [String: [Int]], expected: [String: [Int]], path: String) throws {
    if let first = tensorProblems(found: found, expected: expected, path: path).first { throw first }
}

/// `verifyTensors` for loaded float tensors.
public func verifyTensors(_ tensors: [String: TensorData], expected: [String: [Int]], path: String) throws {
    try verifyTensors(found: tensors.mapValues(\.shape), expected: expected, path: path)
}

/// `verifyTensors` for loaded tensors of either kind.
public func verifyTensors(_ tensors: [String: StoredTensor], expected: [String: [Int]], path: String) throws {
    try verifyTensors(found: tensors.mapValues(\.shape), expected: expected, path: path)
}

/// The metadata key that holds our model files' format version (a decimal integer string).
public let formatVersionKey = "format_version"

/// Reads the integer format version from `metadata[key]` and checks it is in `supported`.
///
/// Throws `unsupportedVersion` naming `path`, what was found ("missing", the text that is not an integer, or
/// the number) and the supported range. Returns the version.
@discardableResult
public func checkFormatVersion(_ metadata: [String: String], supported: ClosedRange<Int>, path: String,
                               key: String = formatVersionKey) throws -> Int {
    let supportedText = supported.lowerBound == supported.upperBound
        ? "\(supported.lowerBound)" : "\(supported.lowerBound)...\(supported.upperBound)"
    guard let text = metadata[key] else {
        throw ModelFileError.unsupportedVersion(path: path, found: "missing (no '\(key)' in metadata)", supported: supportedText)
    }
    guard let version = Int(text.trimmingCharacters(in: .whitespaces)) else {
        throw ModelFileError.unsupportedVersion(path: path, found: "'\(text)' (not an integer)", supported: supportedText)
    }
    guard supported.contains(version) else {
        throw ModelFileError.unsupportedVersion(path: path, found: "\(version)", supported: supportedText)
    }
    return version
}
