import XCTest
import NN
import RVQ
import TestSupport

final class NearestSearchTests: XCTestCase {
    /// Blocked SIMD search vs the scalar reference on odd sizes (rows not a multiple of the 6-row tile,
    /// codes not a multiple of the 16-code panel, D not a multiple of 8): codes and scores bit for bit.
    func testBlockedSearchMatchesScalarReferenceBitwise() {
        var rng = SeededRNG(seed: 1)
        for (T, D, N) in [(1, 1, 1), (13, 5, 37), (7, 3, 16), (50, 17, 33), (6, 8, 17), (401, 128, 100), (25, 129, 5)] {
            let book = Codebook(size: N, dimension: D, vectors: rng.floats(N * D))
            let x = rng.floats(T * D, -1.5, 1.5)
            var codes = [Int32](repeating: -1, count: T)
            var scores = [Float](repeating: .nan, count: T)
            x.withUnsafeBufferPointer { xb in
                codes.withUnsafeMutableBufferPointer { c in
                    scores.withUnsafeMutableBufferPointer { s in book.nearest(xb, codes: c, scores: s) }
                }
            }
            x.withUnsafeBufferPointer { xb in
                for t in 0..<T {
                    let row = UnsafeBufferPointer(rebasing: xb[t * D ..< (t + 1) * D])
                    let ref = book.nearestScalar(row)
                    XCTAssertEqual(Int(codes[t]), ref, "T \(T) D \(D) N \(N) row \(t)")
                    let refScore = book.scoreScalar(row, squaredNorm: torchOrderSquaredNorm(row), code: ref)
                    XCTAssertEqual(scores[t].bitPattern, refScore.bitPattern, "T \(T) D \(D) N \(N) row \(t)")
                }
            }
        }
    }

    func testTopKMatchesScalarReference() {
        var rng = SeededRNG(seed: 2)
        for (T, D, N, k) in [(9, 7, 20, 3), (31, 16, 33, 5), (4, 3, 5, 5), (20, 12, 40, 1)] {
            // Duplicate a few codes so that equal scores occur and the index order decides.
            var v = rng.floats(N * D)
            for j in 0..<D { v[(N - 1) * D + j] = v[j]; v[3 * D + j] = v[D + j] }
            let book = Codebook(size: N, dimension: D, vectors: v)
            var x = rng.floats(T * D)
            for j in 0..<D { x[j] = v[D + j] } // row 0 sits on codes 1 and 3
            var codes = [Int32](repeating: -1, count: T * k)
            var scores = [Float](repeating: .nan, count: T * k)
            x.withUnsafeBufferPointer { xb in
                codes.withUnsafeMutableBufferPointer { c in
                    scores.withUnsafeMutableBufferPointer { s in book.nearest(xb, count: k, codes: c, scores: s) }
                }
            }
            x.withUnsafeBufferPointer { xb in
                for t in 0..<T {
                    let ref = book.nearestScalar(UnsafeBufferPointer(rebasing: xb[t * D ..< (t + 1) * D]), count: k)
                    XCTAssertEqual(codes[t * k ..< (t + 1) * k].map { Int($0) }, ref.map { $0.code }, "row \(t)")
                    XCTAssertEqual(scores[t * k ..< (t + 1) * k].map { $0.bitPattern }, ref.map { $0.score.bitPattern })
                }
            }
            if k >= 2 { XCTAssertEqual(Array(codes[0..<2]), [1, 3], "equal scores keep the lower code first") }
        }
    }

    func testTopOneEqualsNearest() {
        var rng = SeededRNG(seed: 4)
        let T = 97, D = 24, N = 70
        let book = Codebook(size: N, dimension: D, vectors: rng.floats(N * D))
        let x = rng.floats(T * D)
        var a = [Int32](repeating: 0, count: T), b = [Int32](repeating: 0, count: T)
        var sa = [Float](repeating: 0, count: T), sb = [Float](repeating: 0, count: T)
        x.withUnsafeBufferPointer { xb in
            a.withUnsafeMutableBufferPointer { c in sa.withUnsafeMutableBufferPointer { book.nearest(xb, codes: c, scores: $0) } }
            b.withUnsafeMutableBufferPointer { c in sb.withUnsafeMutableBufferPointer { book.nearest(xb, count: 1, codes: c, scores: $0) } }
        }
        XCTAssertEqual(a, b)
        XCTAssertEqual(sa.map { $0.bitPattern }, sb.map { $0.bitPattern })
    }

    func testAllEqualCodesGiveCodeZero() {
        let D = 4, N = 19
        let book = Codebook(size: N, dimension: D, vectors: [Float](repeating: 0.25, count: N * D))
        let x: [Float] = [1, -2, 0.5, 3, 0.25, 0.25, 0.25, 0.25]
        var codes = [Int32](repeating: -1, count: 2)
        x.withUnsafeBufferPointer { xb in codes.withUnsafeMutableBufferPointer { book.nearest(xb, codes: $0) } }
        XCTAssertEqual(codes, [0, 0])
    }

    func testSameResultForOneAndTwoThreads() {
        var rng = SeededRNG(seed: 5)
        let T = 1000, D = 32, N = 300, k = 4
        let book = Codebook(size: N, dimension: D, vectors: rng.floats(N * D))
        let x = rng.floats(T * D)
        func run() -> ([Int32], [Float], [Int32], [Float]) {
            var c1 = [Int32](repeating: 0, count: T), s1 = [Float](repeating: 0, count: T)
            var ck = [Int32](repeating: 0, count: T * k), sk = [Float](repeating: 0, count: T * k)
            x.withUnsafeBufferPointer { xb in
                c1.withUnsafeMutableBufferPointer { c in s1.withUnsafeMutableBufferPointer { book.nearest(xb, codes: c, scores: $0) } }
                ck.withUnsafeMutableBufferPointer { c in sk.withUnsafeMutableBufferPointer { book.nearest(xb, count: k, codes: c, scores: $0) } }
            }
            return (c1, s1, ck, sk)
        }
        let one = Parallel.withThreads(1) { run() }
        let two = Parallel.withThreads(2) { run() }
        XCTAssertEqual(one.0, two.0)
        XCTAssertEqual(one.1.map { $0.bitPattern }, two.1.map { $0.bitPattern })
        XCTAssertEqual(one.2, two.2)
        XCTAssertEqual(one.3.map { $0.bitPattern }, two.3.map { $0.bitPattern })
    }
}
