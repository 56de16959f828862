// RVQError: the one error type of the RVQ module (bad data handed to training, encoding or decoding).
// Programmer errors (a negative size, a buffer of the wrong length in an internal kernel) are preconditions.

/// A problem with the data given to the RVQ library: each case names what was wrong and where.
public enum RVQError: Error, Equatable, CustomStringConvertible {
    /// A flat `[rows, dimension]` buffer whose length is not a multiple of the dimension.
    case notAMatrix(what: String, count: Int, dimension: Int)
    /// Data and codebooks (or two codebooks) disagree on the vector dimension.
    case dimensionMismatch(what: String, expected: Int, got: Int)
    /// k-means asked for more clusters than there are vectors.
    case notEnoughVectors(vectors: Int, clusters: Int)
    /// A NaN or infinite value at `[row, column]` of `what`.
    case nonFiniteValue(what: String, row: Int, column: Int, value: Float)
    /// A code outside `0..<codebookSize`.
    case codeOutOfRange(stage: Int, position: Int, code: Int32, codebookSize: Int)
    /// More stages requested than the quantizer (or the codes) hold.
    case tooManyStages(requested: Int, available: Int)
    /// An empty input where at least one vector is needed.
    case empty(what: String)
    /// An option outside its valid range.
    case invalidParameter(name: String, value: String, reason: String)

    public var description: String {
        switch self {
        case let .notAMatrix(what, count, dimension):
            return "\(what): \(count) values do not form rows of dimension \(dimension)"
        case let .dimensionMismatch(what, expected, got):
            return "\(what): dimension \(got), expected \(expected)"
        case let .notEnoughVectors(vectors, clusters):
            return "k-means: \(vectors) vectors for \(clusters) clusters (need at least as many vectors as clusters)"
        case let .nonFiniteValue(what, row, column, value):
            return "\(what): non-finite value \(value) at row \(row), column \(column)"
        case let .codeOutOfRange(stage, position, code, size):
            return "codes: code \(code) at stage \(stage), position \(position) is outside 0..<\(size)"
        case let .tooManyStages(requested, available):
            return "\(requested) stages requested, only \(available) available"
        case let .empty(what):
            return "\(what): no vectors"
        case let .invalidParameter(name, value, reason):
            return "\(name) = \(value): \(reason)"
        }
    }
}

/// Throws `.nonFiniteValue` naming the first NaN or infinity in `values` (row-major `[rows, dimension]`).
func checkFinite(_ values: UnsafeBufferPointer<Float>, dimension: Int, what: String) throws {
    for i in 0..<values.count where !values[i].isFinite {
        throw RVQError.nonFiniteValue(what: what, row: i / dimension, column: i % dimension, value: values[i])
    }
}

/// Number of rows of a flat `[rows, dimension]` buffer; throws when the length does not fit.
func rowCount(_ count: Int, dimension: Int, what: String) throws -> Int {
    guard dimension > 0, count % dimension == 0 else {
        throw RVQError.notAMatrix(what: what, count: count, dimension: dimension)
    }
    return count / dimension
}
