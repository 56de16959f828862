import XCTest
import RVQ
import TestSupport

final class CodebookTests: XCTestCase {
    func testNearestMatchesBruteForceDistance() {
        var rng = SeededRNG(seed: 7)
        let n = 37, d = 5
        let book = Codebook(size: n, dimension: d, vectors: rng.floats(n * d))
        for _ in 0..<200 {
            let x = rng.floats(d)
            var best = 0; var bestDist = Float.infinity
            for k in 0..<n {
                var s: Float = 0
                for j in 0..<d { let t = x[j] - book.vectors[k * d + j]; s += t * t }
                if s < bestDist { bestDist = s; best = k }
            }
            let got = x.withUnsafeBufferPointer { book.nearestScalar($0) }
            XCTAssertEqual(got, best)
        }
    }
}
