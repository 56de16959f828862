import XCTest
import RVQ

final class RVQErrorTests: XCTestCase {
    /// Each message names what was wrong, where, and the values involved.
    func testMessagesNameTheProblem() {
        let cases: [(RVQError, [String])] = [
            (.notAMatrix(what: "vectors", count: 10, dimension: 3), ["vectors", "10", "3"]),
            (.dimensionMismatch(what: "codebook 2", expected: 128, got: 64), ["codebook 2", "128", "64"]),
            (.notEnoughVectors(vectors: 100, clusters: 1024), ["100", "1024"]),
            (.nonFiniteValue(what: "training data", row: 7, column: 3, value: .nan), ["training data", "row 7", "column 3", "nan"]),
            (.codeOutOfRange(stage: 1, position: 5, code: 1024, codebookSize: 1024), ["stage 1", "position 5", "1024"]),
            (.tooManyStages(requested: 9, available: 8), ["9", "8"]),
            (.empty(what: "codebooks"), ["codebooks"]),
            (.invalidParameter(name: "beamWidth", value: "0", reason: "must be ≥ 1"), ["beamWidth", "0", "must be ≥ 1"]),
        ]
        for (error, parts) in cases {
            for part in parts { XCTAssertTrue(error.description.contains(part), "\(error.description) lacks \(part)") }
        }
    }
}
