import XCTest
import NN
import RVQ
import TestSupport

final class PrincipalComponentsTests: XCTestCase {
    /// Data stretched along known orthogonal directions: PCA recovers them (up to sign) with their variances.
    func testRecoversKnownAxesAndVariances() throws {
        var rng = SeededRNG(seed: 71)
        let D = 5, N = 20000
        // An orthonormal basis: a rotation of the standard axes in the (0, 1) and (2, 3) planes.
        let c = Float(0.8), s = Float(0.6)
        let axes: [[Float]] = [[c, s, 0, 0, 0], [-s, c, 0, 0, 0], [0, 0, c, -s, 0], [0, 0, s, c, 0], [0, 0, 0, 0, 1]]
        let sigmas: [Float] = [5, 3, 2, 1, 0.5]
        let mean: [Float] = [1, -2, 3, 0.5, 10]
        var x = [Float](repeating: 0, count: N * D)
        for i in 0..<N {
            for a in 0..<D {
                let z = sigmas[a] * rng.normal()
                for d in 0..<D { x[i * D + d] += z * axes[a][d] }
            }
            for d in 0..<D { x[i * D + d] += mean[d] }
        }
        let pca = try x.withUnsafeBufferPointer { try PrincipalComponents(fitting: $0, dimension: D) }
        for d in 0..<D { XCTAssertEqual(pca.mean[d], mean[d], accuracy: 0.1) }
        for a in 0..<D {
            XCTAssertEqual(pca.variances[a], Double(sigmas[a] * sigmas[a]), accuracy: 0.05 * Double(sigmas[a] * sigmas[a]))
            var dot: Float = 0
            for d in 0..<D { dot += pca.components[a * D + d] * axes[a][d] }
            XCTAssertEqual(abs(dot), 1, accuracy: 0.01, "direction \(a)")
        }
        for a in 1..<D { XCTAssertGreaterThanOrEqual(pca.variances[a - 1], pca.variances[a]) }
    }

    func testComponentsAreOrthonormalAndProjectionRoundTrips() throws {
        var rng = SeededRNG(seed: 72)
        let D = 12, N = 500
        var x = rng.floats(N * D)
        for i in 0..<N { x[i * D + 3] = 2 * x[i * D + 1] - x[i * D + 7] } // a dependent coordinate
        let pca = try x.withUnsafeBufferPointer { try PrincipalComponents(fitting: $0, dimension: D) }
        for a in 0..<D {
            for b in 0..<D {
                var dot: Float = 0
                for d in 0..<D { dot += pca.components[a * D + d] * pca.components[b * D + d] }
                XCTAssertEqual(dot, a == b ? 1 : 0, accuracy: 1e-5)
            }
        }
        XCTAssertEqual(pca.variances[D - 1], 0, accuracy: 1e-6, "one direction has no variance")
        let y = x.withUnsafeBufferPointer { pca.project($0) }
        let back = pca.reconstruct(y)
        XCTAssertLessThan(maxAbsDiff(back, x), 1e-5)
        // The leading coordinates are a prefix of the full projection.
        let y3 = x.withUnsafeBufferPointer { pca.project($0, dimensions: 3) }
        for i in 0..<N { for j in 0..<3 { XCTAssertEqual(y3[i * 3 + j], y[i * D + j]) } }
        // Projected coordinates are uncorrelated, with the fitted variances.
        for a in 0..<3 {
            var v = 0.0
            for i in 0..<N { v += Double(y[i * D + a]) * Double(y[i * D + a]) }
            XCTAssertEqual(v / Double(N), pca.variances[a], accuracy: 1e-4 * pca.variances[a])
        }
    }

    func testSameResultForOneAndTwoThreads() throws {
        var rng = SeededRNG(seed: 73)
        let x = rng.floats(9000 * 7)
        let one = try Parallel.withThreads(1) { try x.withUnsafeBufferPointer { try PrincipalComponents(fitting: $0, dimension: 7) } }
        let two = try Parallel.withThreads(2) { try x.withUnsafeBufferPointer { try PrincipalComponents(fitting: $0, dimension: 7) } }
        XCTAssertEqual(one.components, two.components)
        XCTAssertEqual(one.mean, two.mean)
        XCTAssertEqual(one.variances, two.variances)
    }

    func testBadInputThrows() {
        XCTAssertThrowsError(try [Float]().withUnsafeBufferPointer { try PrincipalComponents(fitting: $0, dimension: 3) })
        XCTAssertThrowsError(try [Float](repeating: 1, count: 7).withUnsafeBufferPointer {
            try PrincipalComponents(fitting: $0, dimension: 3)
        })
        XCTAssertThrowsError(try [1, .nan, 3].withUnsafeBufferPointer { try PrincipalComponents(fitting: $0, dimension: 3) })
    }
}
