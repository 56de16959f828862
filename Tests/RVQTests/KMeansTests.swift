import XCTest
import NN
import RVQ
import TestSupport

/// Seeded Gaussian blobs: `centers` random centres in [-spread, spread]^D, `perCenter` points each with
/// standard deviation `sigma`, interleaved. Returns (data [N, D], centres [C, D]).
func gaussianBlobs(_ rng: inout SeededRNG, centers: Int, perCenter: Int, dimension D: Int, spread: Float = 5,
                   sigma: Float = 0.3) -> ([Float], [Float]) {
    let means = rng.floats(centers * D, -spread, spread)
    var x = [Float](repeating: 0, count: centers * perCenter * D)
    for i in 0..<(centers * perCenter) {
        let c = i % centers
        for d in 0..<D { x[i * D + d] = means[c * D + d] + sigma * rng.normal() }
    }
    return (x, means)
}

final class KMeansTests: XCTestCase {
    func exactObjective(_ x: [Float], _ r: KMeansResult) -> Double {
        let D = r.dimension
        var s = 0.0
        for i in 0..<r.assignments.count {
            let c = Int(r.assignments[i])
            for d in 0..<D { let t = Double(x[i * D + d]) - Double(r.centroids[c * D + d]); s += t * t }
        }
        return s
    }

    func testObjectiveNeverIncreasesOnSeveralSeeds() throws {
        for seed in UInt64(1)...6 {
            var rng = SeededRNG(seed: seed)
            let (x, _) = gaussianBlobs(&rng, centers: 12, perCenter: 150, dimension: 8, spread: 2, sigma: 0.8)
            for initialization in [KMeans.Initialization.kMeansPlusPlus, .randomPoints] {
                let r = try KMeans(clusterCount: 20, maxIterations: 30, tolerance: 0, seed: seed,
                                   initialization: initialization).fit(x, dimension: 8)
                XCTAssertGreaterThan(r.iterations, 2)
                for i in 1..<r.history.count {
                    XCTAssertLessThanOrEqual(r.history[i], r.history[i - 1], "seed \(seed) \(initialization), iteration \(i)")
                }
                XCTAssertLessThan(r.history.last!, r.history.first!)
                XCTAssertEqual(r.objective, r.history.last!)
                XCTAssertEqual(r.objective, exactObjective(x, r), accuracy: 1e-9 * r.objective)
            }
        }
    }

    /// At convergence each point sits at its nearest centroid and each centroid is its cluster's mean.
    func testConvergedSolutionIsAFixedPoint() throws {
        var rng = SeededRNG(seed: 41)
        let D = 5
        let (x, _) = gaussianBlobs(&rng, centers: 6, perCenter: 100, dimension: D, spread: 3, sigma: 1)
        let r = try KMeans(clusterCount: 9, maxIterations: 200, tolerance: 0, seed: 3).fit(x, dimension: D)
        XCTAssertTrue(r.converged)
        let K = 9, N = x.count / D
        var sums = [Double](repeating: 0, count: K * D)
        for i in 0..<N {
            let a = Int(r.assignments[i])
            var nearest = Double.infinity
            for c in 0..<K {
                var s = 0.0
                for d in 0..<D { let t = Double(x[i * D + d]) - Double(r.centroids[c * D + d]); s += t * t }
                nearest = min(nearest, s)
            }
            var own = 0.0
            for d in 0..<D { let t = Double(x[i * D + d]) - Double(r.centroids[a * D + d]); own += t * t; sums[a * D + d] += Double(x[i * D + d]) }
            XCTAssertLessThanOrEqual(own, nearest * (1 + 1e-6) + 1e-9, "point \(i) is not at its nearest centroid")
        }
        let sizes = r.clusterSizes
        XCTAssertEqual(sizes.reduce(0, +), N)
        for c in 0..<K {
            XCTAssertGreaterThan(sizes[c], 0)
            for d in 0..<D { XCTAssertEqual(Double(r.centroids[c * D + d]), sums[c * D + d] / Double(sizes[c]), accuracy: 1e-5) }
        }
    }

    /// k-means++ puts one centroid in each of 10 well-separated blobs (uniform seeding often does not).
    func testKMeansPlusPlusFindsSeparatedBlobs() throws {
        var rng = SeededRNG(seed: 42)
        let D = 4, C = 10
        let (x, means) = gaussianBlobs(&rng, centers: C, perCenter: 60, dimension: D, spread: 20, sigma: 0.2)
        for seed in UInt64(0)..<4 {
            let r = try KMeans(clusterCount: C, maxIterations: 0, seed: seed).fit(x, dimension: D)
            var blobOf = Set<Int>()
            for c in 0..<C {
                var best = 0, bestD = Float.infinity
                for m in 0..<C {
                    var s: Float = 0
                    for d in 0..<D { let t = r.centroids[c * D + d] - means[m * D + d]; s += t * t }
                    if s < bestD { bestD = s; best = m }
                }
                blobOf.insert(best)
            }
            XCTAssertEqual(blobOf.count, C, "seed \(seed): seeds cover \(blobOf.count) of \(C) blobs")
        }
    }

    /// Duplicate points make uniform seeding pick equal centroids; the empty clusters must be re-seeded
    /// from the farthest points and end up used, with the objective still non-increasing.
    func testEmptyClustersAreReseeded() throws {
        var rng = SeededRNG(seed: 43)
        let D = 3
        var x: [Float] = []
        for _ in 0..<300 { x += [1, 1, 1] }
        x += rng.floats(20 * D, -4, 4)
        let r = try KMeans(clusterCount: 8, maxIterations: 20, tolerance: 0, seed: 5, initialization: .randomPoints)
            .fit(x, dimension: D)
        XCTAssertGreaterThan(r.reseededClusters, 0)
        XCTAssertTrue(r.clusterSizes.allSatisfy { $0 > 0 }, "\(r.clusterSizes)")
        for i in 1..<r.history.count { XCTAssertLessThanOrEqual(r.history[i], r.history[i - 1]) }
    }

    func testDeterministicForSeedAndThreadCount() throws {
        var rng = SeededRNG(seed: 44)
        let (x, _) = gaussianBlobs(&rng, centers: 30, perCenter: 100, dimension: 16, spread: 1, sigma: 1)
        let km = KMeans(clusterCount: 64, maxIterations: 8, tolerance: 0, seed: 9, seedingSampleLimit: 1000)
        let one = try Parallel.withThreads(1) { try km.fit(x, dimension: 16) }
        let two = try Parallel.withThreads(2) { try km.fit(x, dimension: 16) }
        XCTAssertEqual(one.centroids.map { $0.bitPattern }, two.centroids.map { $0.bitPattern })
        XCTAssertEqual(one.assignments, two.assignments)
        XCTAssertEqual(one.history, two.history)
        let other = try KMeans(clusterCount: 64, maxIterations: 8, tolerance: 0, seed: 10, seedingSampleLimit: 1000)
            .fit(x, dimension: 16)
        XCTAssertNotEqual(other.centroids, one.centroids, "another seed gives other centroids")
    }

    /// Hamerly's bounds only skip points that cannot move: the run is identical with and without them
    /// (including runs with re-seeded empty clusters).
    func testBoundsDoNotChangeTheResult() throws {
        var rng = SeededRNG(seed: 47)
        let (blobs, _) = gaussianBlobs(&rng, centers: 10, perCenter: 120, dimension: 12, spread: 2, sigma: 1)
        var duplicates: [Float] = []
        for _ in 0..<200 { duplicates += [1, 1, 1] }
        duplicates += rng.floats(30 * 3, -4, 4)
        for (x, D, K, initialization) in [(blobs, 12, 40, KMeans.Initialization.kMeansPlusPlus),
                                         (blobs, 12, 7, .randomPoints), (duplicates, 3, 9, .randomPoints)] {
            for seed in UInt64(1)...3 {
                var plain = KMeans(clusterCount: K, maxIterations: 30, tolerance: 0, seed: seed, initialization: initialization)
                plain.usesBounds = false
                var bounded = plain
                bounded.usesBounds = true
                let a = try plain.fit(x, dimension: D), b = try bounded.fit(x, dimension: D)
                XCTAssertEqual(a.centroids.map { $0.bitPattern }, b.centroids.map { $0.bitPattern }, "K \(K) seed \(seed)")
                XCTAssertEqual(a.assignments, b.assignments)
                XCTAssertEqual(a.history, b.history)
                XCTAssertEqual(a.reseededClusters, b.reseededClusters)
            }
        }
    }

    func testToleranceStopsEarly() throws {
        var rng = SeededRNG(seed: 45)
        let (x, _) = gaussianBlobs(&rng, centers: 8, perCenter: 200, dimension: 6, spread: 1, sigma: 1)
        let loose = try KMeans(clusterCount: 16, maxIterations: 100, tolerance: 1e-2, seed: 1).fit(x, dimension: 6)
        let tight = try KMeans(clusterCount: 16, maxIterations: 100, tolerance: 0, seed: 1).fit(x, dimension: 6)
        XCTAssertTrue(loose.converged)
        XCTAssertLessThan(loose.iterations, tight.iterations)
        let h = loose.history
        XCTAssertLessThanOrEqual(h[h.count - 2] - h[h.count - 1], 1e-2 * h[h.count - 2])
        XCTAssertLessThanOrEqual(tight.objective, loose.objective)
    }

    /// Progressive-dimension k-means: the final step is a guarded Lloyd run (non-increasing history), the
    /// reported objective is that of the returned centroids in the original space, and on near-isotropic
    /// data (where seeds on data points stay singletons) it uses its codes more evenly than plain k-means.
    func testProgressiveDimensions() throws {
        var rng = SeededRNG(seed: 46)
        let D = 24, N = 3000, K = 64
        var x = [Float](repeating: 0, count: N * D)
        for i in 0..<(N * D) { x[i] = rng.normal() }
        let plain = try KMeans(clusterCount: K, maxIterations: 15, tolerance: 0, seed: 2).fit(x, dimension: D)
        let progressive = try KMeans(clusterCount: K, maxIterations: 15, tolerance: 0, seed: 2, progressiveSteps: 4)
            .fit(x, dimension: D)
        for i in 1..<progressive.history.count {
            XCTAssertLessThanOrEqual(progressive.history[i], progressive.history[i - 1])
        }
        XCTAssertEqual(progressive.objective, exactObjective(x, progressive), accuracy: 1e-9 * progressive.objective)
        XCTAssertEqual(progressive.objective, progressive.history.last!, accuracy: 1e-4 * progressive.objective)
        XCTAssertGreaterThan(progressive.iterations, 15, "several steps ran")
        XCTAssertLessThan(progressive.objective, plain.objective)
        XCTAssertGreaterThan(entropyBits(progressive.clusterSizes), entropyBits(plain.clusterSizes))
        let one = try Parallel.withThreads(1) {
            try KMeans(clusterCount: K, maxIterations: 5, tolerance: 0, seed: 2, progressiveSteps: 3).fit(x, dimension: D)
        }
        let two = try Parallel.withThreads(2) {
            try KMeans(clusterCount: K, maxIterations: 5, tolerance: 0, seed: 2, progressiveSteps: 3).fit(x, dimension: D)
        }
        XCTAssertEqual(one.centroids, two.centroids)
        XCTAssertEqual(one.assignments, two.assignments)
    }

    func testBadInputThrows() {
        XCTAssertThrowsError(try KMeans(clusterCount: 5).fit([Float](repeating: 0, count: 8), dimension: 2)) {
            XCTAssertEqual($0 as? RVQError, .notEnoughVectors(vectors: 4, clusters: 5))
        }
        XCTAssertThrowsError(try KMeans(clusterCount: 1).fit([1, 2, .nan, 4], dimension: 2)) {
            guard case let .nonFiniteValue(_, row, column, _)? = $0 as? RVQError else { return XCTFail("\($0)") }
            XCTAssertEqual([row, column], [1, 0])
        }
        XCTAssertThrowsError(try KMeans(clusterCount: 1).fit([1, 2, 3], dimension: 2)) {
            XCTAssertEqual($0 as? RVQError, .notAMatrix(what: "k-means data", count: 3, dimension: 2))
        }
        XCTAssertThrowsError(try KMeans(clusterCount: 0).fit([1, 2], dimension: 2))
        XCTAssertThrowsError(try KMeans(clusterCount: 1).fit([], dimension: 2)) {
            XCTAssertEqual($0 as? RVQError, .empty(what: "k-means data"))
        }
        XCTAssertThrowsError(try KMeans(clusterCount: 1, tolerance: -1).fit([1, 2], dimension: 2))
        XCTAssertThrowsError(try KMeans(clusterCount: 1, progressiveSteps: -1).fit([1, 2], dimension: 2))
    }

    func testOneClusterIsTheMean() throws {
        let x: [Float] = [0, 0, 2, 0, 4, 6]
        let r = try KMeans(clusterCount: 1, maxIterations: 5, seed: 2).fit(x, dimension: 2)
        XCTAssertEqual(r.centroids, [2, 2])
        XCTAssertEqual(r.objective, 4 + 4 + 0 + 4 + 4 + 16)
    }
}
