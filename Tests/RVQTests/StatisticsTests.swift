import XCTest
import Foundation
import RVQ
import TestSupport

final class StatisticsTests: XCTestCase {
    /// A hand-worked case in one dimension: x = [3, −1, 2.5, 0], stage 0 codes {0, 2, −1, 9 (unused)},
    /// stage 1 codes {0.5, −0.5}.
    func testHandWorkedExample() throws {
        let q = try ResidualVectorQuantizer(codebooks: [
            Codebook(size: 4, dimension: 1, vectors: [0, 2, -1, 9]),
            Codebook(size: 2, dimension: 1, vectors: [0.5, -0.5]),
        ])
        let x: [Float] = [3, -1, 2.5, 0]
        let codes = try q.encode(x)
        // Stage 0: 3→2, −1→−1, 2.5→2, 0→0; residuals 1, 0, 0.5, 0. Stage 1: 1→0.5, 0→0.5 (tie: lowest),
        // 0.5→0.5, 0→0.5; residuals 0.5, −0.5, 0, −0.5.
        XCTAssertEqual(codes.values, [1, 2, 1, 0, 0, 0, 0, 0])
        let s = try q.statistics(x, codes: codes)
        XCTAssertEqual(s.count, 2)
        let signal = 9.0 + 1 + 6.25
        XCTAssertEqual(s[0].residualEnergy, (1 + 0.25) / 4)
        XCTAssertEqual(s[0].relativeResidualEnergy, 1.25 / signal)
        XCTAssertEqual(s[0].snrDecibels, 10 * log10(signal / 1.25), accuracy: 1e-12)
        XCTAssertEqual(s[0].usage, [1, 2, 1, 0])
        XCTAssertEqual(s[0].deadCodes, 1)
        XCTAssertEqual(s[0].entropyBits, 1.5, accuracy: 1e-12)
        XCTAssertEqual(s[0].perplexity, pow(2, 1.5), accuracy: 1e-12)
        XCTAssertEqual(s[0].codebookSize, 4)
        XCTAssertEqual(s[1].residualEnergy, 0.75 / 4)
        XCTAssertEqual(s[1].usage, [4, 0])
        XCTAssertEqual(s[1].deadCodes, 1)
        XCTAssertEqual(s[1].entropyBits, 0)
        XCTAssertEqual(try q.statistics(x), s)
        XCTAssertEqual(try q.statistics(x, stages: 1), [s[0]])
    }

    func testEntropy() {
        XCTAssertEqual(entropyBits([5, 5, 5, 5]), 2, accuracy: 1e-12)
        XCTAssertEqual(entropyBits([0, 7, 0]), 0)
        XCTAssertEqual(entropyBits([]), 0)
        XCTAssertEqual(entropyBits([1, 3]), -(0.25 * log2(0.25) + 0.75 * log2(0.75)), accuracy: 1e-12)
    }

    func testExactReconstructionAndSilence() throws {
        let q = try ResidualVectorQuantizer(codebooks: [Codebook(size: 2, dimension: 2, vectors: [0, 0, 1, 2])])
        let exact = try q.statistics([1, 2, 0, 0])
        XCTAssertEqual(exact[0].snrDecibels, .infinity)
        XCTAssertEqual(exact[0].residualEnergy, 0)
        let silence = try q.statistics([0, 0, 0, 0])
        XCTAssertEqual(silence[0].relativeResidualEnergy, 0)
        XCTAssertEqual(silence[0].snrDecibels, .infinity)
    }

    func testShapeMismatchThrows() throws {
        var rng = SeededRNG(seed: 61)
        let q = randomQuantizer(&rng, dimension: 3, sizes: [4, 4])
        XCTAssertThrowsError(try q.statistics(rng.floats(9), codes: Codes(stages: 2, count: 4))) {
            XCTAssertEqual($0 as? RVQError, .dimensionMismatch(what: "codes (vectors per stage)", expected: 3, got: 4))
        }
        XCTAssertThrowsError(try q.statistics(rng.floats(3), codes: Codes(stages: 3, count: 1)))
        XCTAssertThrowsError(try q.statistics(rng.floats(3), codes: Codes(stages: 1, count: 1, values: [4])))
    }
}
