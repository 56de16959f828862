import XCTest
import NN
import RVQ
import TestSupport

final class BeamSearchTests: XCTestCase {
    /// Σ_d (x − decode(codes))² per vector, in Double.
    func errors(_ q: ResidualVectorQuantizer, _ x: [Float], _ codes: Codes) throws -> [Double] {
        let D = q.dimension
        let y = try q.decode(codes)
        return (0..<codes.count).map { t in
            (0..<D).reduce(0.0) { s, d in let e = Double(x[t * D + d]) - Double(y[t * D + d]); return s + e * e }
        }
    }

    func testBeamOfOneIsGreedy() throws {
        var rng = SeededRNG(seed: 31)
        for (T, D, sizes) in [(40, 5, [8, 8, 8]), (333, 24, [64, 32, 32, 16]), (7, 128, [20])] {
            let q = randomQuantizer(&rng, dimension: D, sizes: sizes)
            let x = rng.floats(T * D)
            let greedy = try q.encode(x)
            let beam = try q.beamSearch(x, beamWidth: 1)
            XCTAssertEqual(beam.codes, greedy)
            XCTAssertEqual(beam.squaredErrors, try errors(q, x, greedy))
            XCTAssertEqual(try q.encode(x, beamWidth: 1), greedy)
        }
    }

    /// With B ≥ the number of combinations every path survives: the result is the exhaustive optimum
    /// (smallest error, ties to the smallest codes), found here by enumerating all combinations.
    func testWideBeamEqualsBruteForce() throws {
        var rng = SeededRNG(seed: 32)
        let D = 3, T = 60, sizes = [4, 3, 5]
        // Later stages as large as the first, so that greedy is often not optimal.
        let q = try ResidualVectorQuantizer(codebooks: sizes.map { Codebook(size: $0, dimension: D, vectors: rng.floats($0 * D)) })
        let x = rng.floats(T * D, -2, 2)
        let combos = sizes.reduce(1, *)
        for width in [combos, combos + 7] {
            let beam = try q.beamSearch(x, beamWidth: width)
            var greedyWorse = 0
            let greedyErrors = try errors(q, x, q.encode(x))
            for t in 0..<T {
                var best: [Int32] = [], bestError = Double.infinity
                for a in 0..<sizes[0] { for b in 0..<sizes[1] { for c in 0..<sizes[2] {
                    let codes = [Int32(a), Int32(b), Int32(c)]
                    var e = 0.0
                    for d in 0..<D {
                        var y: Float = 0
                        for k in 0..<3 { y = y + q.codebooks[k].vectors[Int(codes[k]) * D + d] }
                        let diff = Double(x[t * D + d]) - Double(y); e += diff * diff
                    }
                    if e < bestError { bestError = e; best = codes }
                } } }
                XCTAssertEqual((0..<3).map { beam.codes[stage: $0, position: t] }, best, "vector \(t)")
                XCTAssertEqual(beam.squaredErrors[t], bestError)
                if greedyErrors[t] > bestError { greedyWorse += 1 }
            }
            XCTAssertGreaterThan(greedyWorse, 0, "the data should have vectors where greedy is not optimal")
        }
    }

    func testBeamNeverWorseThanGreedyAndBetterOnAverage() throws {
        var rng = SeededRNG(seed: 33)
        let D = 8, T = 500
        let q = try ResidualVectorQuantizer(codebooks: [16, 16, 16, 16].map {
            Codebook(size: $0, dimension: D, vectors: rng.floats($0 * D, -0.8, 0.8))
        })
        let x = rng.floats(T * D)
        let greedy = try errors(q, x, q.encode(x))
        for width in [2, 3, 5, 8] {
            let beam = try errors(q, x, q.encode(x, beamWidth: width))
            for t in 0..<T { XCTAssertLessThanOrEqual(beam[t], greedy[t], "beam \(width), vector \(t)") }
            XCTAssertLessThan(beam.reduce(0, +), 0.97 * greedy.reduce(0, +), "beam \(width) should gain on average")
        }
        // Plain beam search (no greedy fallback) reports the errors of the codes it returns.
        let plain = try q.beamSearch(x, beamWidth: 4)
        XCTAssertEqual(plain.squaredErrors, try errors(q, x, plain.codes))
    }

    func testSameCodesForOneAndTwoThreads() throws {
        var rng = SeededRNG(seed: 34)
        let q = randomQuantizer(&rng, dimension: 12, sizes: [64, 64, 32])
        let x = rng.floats(1500 * 12)
        let one = try Parallel.withThreads(1) { try q.encode(x, beamWidth: 4) }
        let two = try Parallel.withThreads(2) { try q.encode(x, beamWidth: 4) }
        XCTAssertEqual(one, two)
    }

    func testBadBeamWidthThrows() {
        var rng = SeededRNG(seed: 35)
        let q = randomQuantizer(&rng, dimension: 2, sizes: [4])
        XCTAssertThrowsError(try q.encode([0, 0], beamWidth: 0)) {
            guard case .invalidParameter(let name, _, _)? = $0 as? RVQError else { return XCTFail("\($0)") }
            XCTAssertEqual(name, "beamWidth")
        }
    }
}
