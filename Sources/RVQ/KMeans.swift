// KMeans: k-means++ seeding (D² sampling, pruned by the triangle inequality) and Lloyd iterations with a
// blocked, multi-threaded assignment; seeded and identical for every thread count.
// Legend: N vectors, D dimension, K clusters.
import Foundation
import NN

/// k-means (Lloyd) with k-means++ seeding, re-seeding of empty clusters and a relative-change stopping rule.
///
/// Each iteration: (1) every centroid moves to the mean of its members (sums in Double) unless that would
/// raise its cluster's squared error; (2) each empty cluster takes the point farthest from its centroid
/// (from clusters of ≥ 2 points); (3) every point moves to its nearest centroid (the blocked search of
/// `Codebook.nearest`), kept only when the exact distance (Double) is smaller. Each step can only lower
/// the objective Σ‖x − c(x)‖² (exact distances summed in Double in a fixed order); an iteration that would
/// still raise it by rounding is undone and ends the run, so the recorded objective never increases.
/// Stops after `maxIterations`, or when `(previous − objective) ≤ tolerance · previous`.
public struct KMeans: Sendable {
    /// K, the number of clusters (≥ 1, ≤ N).
    public var clusterCount: Int
    /// Maximum Lloyd iterations (centroid updates), typically 25.
    public var maxIterations: Int
    /// Relative objective decrease below which the iterations stop (0 runs all of `maxIterations`
    /// unless nothing changes), typically 1e-4.
    public var tolerance: Double
    /// Seed of the k-means++ sampling.
    public var seed: UInt64
    /// How the first centroids are chosen.
    public var initialization: Initialization
    /// 0 or 1: k-means in the data's dimension. S ≥ 2: progressive-dimension k-means in S steps over the
    /// leading principal components (see `fit`), `maxIterations` per step; typically 10 (faiss's default for
    /// residual quantizers), about 2.5× the work of one run in D dimensions.
    public var progressiveSteps: Int
    /// k-means++ runs on a seeded uniform sample of at most this many points (at least K), by default
    /// 16·K: D² sampling needs one pass over its points per centroid, which on all of a large set costs more
    /// than the Lloyd iterations (scikit-learn's MiniBatchKMeans seeds on 3·K points likewise). `Int.max`
    /// seeds on every point.
    public var seedingSampleLimit: Int
    /// Skip points that Hamerly's bounds show cannot change cluster (the result is the same as without;
    /// false searches every point every iteration).
    public var usesBounds: Bool = true

    public enum Initialization: Sendable, Equatable {
        /// k-means++: first centroid uniform, each next one drawn with probability ∝ its squared distance to
        /// the nearest centroid so far (D² sampling).
        case kMeansPlusPlus
        /// K distinct points drawn uniformly (as faiss does).
        case randomPoints
    }

    public init(clusterCount: Int, maxIterations: Int = 25, tolerance: Double = 1e-4, seed: UInt64 = 0,
                initialization: Initialization = .kMeansPlusPlus, seedingSampleLimit: Int? = nil,
                progressiveSteps: Int = 0) {
        self.progressiveSteps = progressiveSteps
        self.clusterCount = clusterCount
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seed = seed
        self.initialization = initialization
        self.seedingSampleLimit = seedingSampleLimit ?? clusterCount.multipliedReportingOverflow(by: 16).partialValue
    }

    /// Clusters `vectors` (row-major `[N, D]`). Throws when the data is empty, is not `[N, D]`, holds a
    /// NaN or infinity, has fewer vectors than clusters, or an option is out of range.
    public func fit(_ vectors: [Float], dimension: Int) throws -> KMeansResult {
        try vectors.withUnsafeBufferPointer { try fit($0, dimension: dimension) }
    }

    /// `fit` on a buffer, without copying the data.
    public func fit(_ vectors: UnsafeBufferPointer<Float>, dimension D: Int) throws -> KMeansResult {
        guard D > 0 else { throw RVQError.invalidParameter(name: "dimension", value: "\(D)", reason: "must be ≥ 1") }
        let n = try rowCount(vectors.count, dimension: D, what: "k-means data")
        guard n > 0 else { throw RVQError.empty(what: "k-means data") }
        guard clusterCount >= 1 else {
            throw RVQError.invalidParameter(name: "clusterCount", value: "\(clusterCount)", reason: "must be ≥ 1")
        }
        guard maxIterations >= 0 else {
            throw RVQError.invalidParameter(name: "maxIterations", value: "\(maxIterations)", reason: "must be ≥ 0")
        }
        guard tolerance >= 0, tolerance.isFinite else {
            throw RVQError.invalidParameter(name: "tolerance", value: "\(tolerance)", reason: "must be finite and ≥ 0")
        }
        guard n >= clusterCount else { throw RVQError.notEnoughVectors(vectors: n, clusters: clusterCount) }
        try checkFinite(vectors, dimension: D, what: "k-means data")

        guard progressiveSteps >= 0 else {
            throw RVQError.invalidParameter(name: "progressiveSteps", value: "\(progressiveSteps)", reason: "must be ≥ 0")
        }
        var rng = SplitMix64(seed: seed)
        if progressiveSteps > 1 && D > 1 { return try progressiveFit(vectors, count: n, dimension: D, rng: &rng) }
        return lloyd(vectors, count: n, dimension: D, initial: nil, rng: &rng)
    }

    /// Seeds (or takes `initial`), then runs the Lloyd iterations.
    private func lloyd(_ vectors: UnsafeBufferPointer<Float>, count n: Int, dimension D: Int, initial: [Float]?,
                       rng: inout SplitMix64) -> KMeansResult {
        var centroids: [Float]
        if let initial {
            centroids = initial
        } else {
            switch initialization {
            case .kMeansPlusPlus:
                centroids = kMeansPlusPlusSeeds(vectors, count: n, dimension: D, clusters: clusterCount,
                                                sampleLimit: max(clusterCount, seedingSampleLimit), rng: &rng)
            case .randomPoints:
                centroids = randomSeeds(vectors, count: n, dimension: D, clusters: clusterCount, rng: &rng)
            }
        }
        var state = LloydState(x: vectors, count: n, dimension: D, clusters: clusterCount, useBounds: usesBounds)
        state.assignAll(centroids: centroids)
        var objective = state.objective()
        var history = [objective]
        var iterations = 0, reseeded = 0
        var converged = false
        while iterations < maxIterations {
            let saved = (centroids, state.labels, state.distances, state.lower)
            let centroidsMoved = state.updateCentroids(&centroids)
            let reseeds = state.reseedEmptyClusters(&centroids)
            let moves = state.reassign(centroids: centroids)
            let next = state.objective()
            if next > objective {
                // Rounding made this iteration worse: undo it and stop.
                (centroids, state.labels, state.distances, state.lower) = saved
                converged = true
                break
            }
            iterations += 1
            reseeded += reseeds
            history.append(next)
            let previous = objective
            objective = next
            if centroidsMoved == 0 && reseeds == 0 && moves == 0 { converged = true; break }
            if previous - next <= tolerance * previous { converged = true; break }
        }
        return KMeansResult(centroids: centroids, dimension: D, assignments: state.labels, objective: objective,
                            history: history, iterations: iterations, reseededClusters: reseeded, converged: converged)
    }

    /// Progressive-dimension k-means (as faiss's ProgressiveDimClustering): rotate the data to its principal
    /// components, cluster the first `d_s = ⌊D^{(s+1)/S}⌋` coordinates for s = 0..<S (each step starts from the
    /// previous centroids padded with zeros, i.e. the mean), rotate the centroids back, assign in the
    /// original space.
    private func progressiveFit(_ vectors: UnsafeBufferPointer<Float>, count n: Int, dimension D: Int,
                                rng: inout SplitMix64) throws -> KMeansResult {
        let pca = try PrincipalComponents(fitting: vectors, dimension: D)
        let projected = pca.project(vectors)
        var centroids: [Float]? = nil
        var previous = 0
        var last: KMeansResult? = nil
        var iterations = 0, reseeded = 0
        for step in 0..<progressiveSteps {
            var m = Int(pow(Double(D), Double(step + 1) / Double(progressiveSteps)) + 1e-9)
            m = step == progressiveSteps - 1 ? D : min(D, max(1, m))
            if m <= previous { continue }
            var sub = [Float](repeating: 0, count: n * m)
            for i in 0..<n { for j in 0..<m { sub[i * m + j] = projected[i * D + j] } }
            var initial: [Float]? = nil
            if let c = centroids {
                var padded = [Float](repeating: 0, count: clusterCount * m)
                for k in 0..<clusterCount { for j in 0..<previous { padded[k * m + j] = c[k * previous + j] } }
                initial = padded
            }
            let result = sub.withUnsafeBufferPointer {
                lloyd($0, count: n, dimension: m, initial: initial, rng: &rng)
            }
            iterations += result.iterations
            reseeded += result.reseededClusters
            centroids = result.centroids
            previous = m
            last = result
        }
        let back = pca.reconstruct(centroids!, dimensions: D)
        var state = LloydState(x: vectors, count: n, dimension: D, clusters: clusterCount, useBounds: false)
        state.assignAll(centroids: back)
        return KMeansResult(centroids: back, dimension: D, assignments: state.labels, objective: state.objective(),
                            history: last!.history, iterations: iterations, reseededClusters: reseeded,
                            converged: last!.converged)
    }
}

/// What `KMeans.fit` found.
public struct KMeansResult: Sendable {
    /// Centroids, row-major `[K, D]`.
    public let centroids: [Float]
    public let dimension: Int
    /// Cluster of each vector, `[N]` (its nearest centroid as far as the exact-distance check saw).
    public let assignments: [Int32]
    /// Σ_i ‖x_i − c(x_i)‖² with the final centroids and assignments (Double).
    public let objective: Double
    /// The objective after seeding and after each iteration (non-increasing); with `progressiveSteps`, those
    /// of the last step (all D principal coordinates; `objective` is recomputed in the original space).
    public let history: [Double]
    /// Lloyd iterations run.
    public let iterations: Int
    /// Empty clusters re-seeded over all iterations.
    public let reseededClusters: Int
    /// True when the run stopped by the tolerance or because nothing changed, false at `maxIterations`.
    public let converged: Bool

    /// The centroids as a codebook.
    public var codebook: Codebook { Codebook(size: centroids.count / dimension, dimension: dimension, vectors: centroids) }

    /// Number of vectors per cluster, `[K]`.
    public var clusterSizes: [Int] {
        var sizes = [Int](repeating: 0, count: centroids.count / dimension)
        for c in assignments { sizes[Int(c)] += 1 }
        return sizes
    }
}

// MARK: - Seeding

/// K distinct points chosen uniformly (a partial Fisher–Yates shuffle of the indices).
private func randomSeeds(_ x: UnsafeBufferPointer<Float>, count n: Int, dimension D: Int, clusters k: Int,
                         rng: inout SplitMix64) -> [Float] {
    var indices = Array(0..<n)
    var out = [Float](repeating: 0, count: k * D)
    for j in 0..<k {
        let r = j + rng.index(n - j)
        indices.swapAt(j, r)
        for d in 0..<D { out[j * D + d] = x[indices[j] * D + d] }
    }
    return out
}

/// k-means++ seeding on a uniform sample of at most `sampleLimit` points (all points when N ≤ limit).
///
/// Each point keeps d(x), its squared distance to the nearest seed so far, and which seed that is (a).
/// By the triangle inequality a new seed c can only come closer to x when ‖c − c_a‖² < 4·d(x), so only
/// those points are measured: the exact D² distribution at a fraction of the N·K·D cost. The points are
/// visited in index order (prefetch-friendly) in fixed blocks whose distance sums drive the sampling.
private func kMeansPlusPlusSeeds(_ x: UnsafeBufferPointer<Float>, count n: Int, dimension D: Int, clusters k: Int,
                                 sampleLimit: Int, rng: inout SplitMix64) -> [Float] {
    if n > sampleLimit {
        // A uniform sample without replacement (partial Fisher–Yates), kept in index order.
        var indices = Array(0..<n)
        for j in 0..<sampleLimit { indices.swapAt(j, j + rng.index(n - j)) }
        let chosen = indices[0..<sampleLimit].sorted()
        var sample = [Float](repeating: 0, count: sampleLimit * D)
        for (row, i) in chosen.enumerated() {
            for d in 0..<D { sample[row * D + d] = x[i * D + d] }
        }
        return sample.withUnsafeBufferPointer {
            kMeansPlusPlusSeeds($0, count: sampleLimit, dimension: D, clusters: k, sampleLimit: sampleLimit, rng: &rng)
        }
    }
    let xb = x.baseAddress!
    let block = 1024
    let blocks = (n + block - 1) / block
    var centroids = [Float](repeating: 0, count: k * D)
    var dist = [Float](repeating: 0, count: n)          // d(x): squared distance to the nearest seed
    var nearest = [Int32](repeating: 0, count: n)      // a(x): that seed
    var blockMass = [Double](repeating: 0, count: blocks) // Σ d over each block, in index order
    var centerGap = [Float](repeating: 0, count: k)     // ‖c_new − c_j‖²

    centroids.withUnsafeMutableBufferPointer { cBuf in
    dist.withUnsafeMutableBufferPointer { dist in
    nearest.withUnsafeMutableBufferPointer { nearest in
    blockMass.withUnsafeMutableBufferPointer { mass in
    centerGap.withUnsafeMutableBufferPointer { gap in
        let c = cBuf.baseAddress!
        var seed = rng.index(n)
        for m in 0..<k {
            let cm = c + m * D // new seed c_m
            cm.update(from: xb + seed * D, count: D)
            for j in 0..<m { gap[j] = squaredDistance(cm, c + j * D, D) }
            parallelFor(blocks) { range in
                for b in range {
                    var s = 0.0
                    for i in (b * block)..<min(n, (b + 1) * block) {
                        var di = dist[i]
                        if m == 0 {
                            di = boundedSquaredDistance(xb + i * D, cm, D, bound: .infinity)
                            dist[i] = di; nearest[i] = 0
                        } else if gap[Int(nearest[i])] < 4 * di {
                            let candidate = boundedSquaredDistance(xb + i * D, cm, D, bound: di)
                            if candidate < di { di = candidate; dist[i] = di; nearest[i] = Int32(m) }
                        }
                        s += Double(di)
                    }
                    mass[b] = s
                }
            }
            guard m + 1 < k else { break }
            // D² sampling: a block by its mass, then a point by its distance; all at a seed: uniform.
            var total = 0.0
            for b in 0..<blocks { total += mass[b] }
            seed = -1
            if total > 0 {
                let u = rng.unitDouble() * total
                var acc = 0.0, chosenBlock = -1
                for b in 0..<blocks where mass[b] > 0 {
                    chosenBlock = b
                    if acc + mass[b] > u { break }
                    acc += mass[b]
                }
                for i in (chosenBlock * block)..<min(n, (chosenBlock + 1) * block) where dist[i] > 0 {
                    seed = i
                    acc += Double(dist[i])
                    if acc > u { break }
                }
            }
            if seed < 0 { seed = rng.index(n) }
        }
    }
    }
    }
    }
    }
    return centroids
}

// MARK: - Lloyd iterations

/// Labels and exact distances of the Lloyd iterations, with the three guarded steps and Hamerly's bounds.
///
/// Bounds: `lower[i]` ≤ the distance (not squared) from x_i to every centroid but its own. When a point's
/// exact distance to its own centroid is below it, no other centroid can pass the exact-distance check, so
/// the point is not searched: the result is the same as searching every point (Hamerly, "Making k-means
/// even faster", 2010). Lower bounds come from the search's second-best score minus a bound on its Float
/// rounding error, and drop by the largest movement of another centroid after each update.
private struct LloydState {
    let x: UnsafeBufferPointer<Float>
    let n: Int, D: Int, k: Int
    let useBounds: Bool
    /// Cluster of each point, `[N]`.
    var labels: [Int32]
    /// Exact ‖x_i − c(x_i)‖² (Double), `[N]`.
    var distances: [Double]
    /// Lower bound of the distance from x_i to any other centroid, `[N]` (0 when unknown).
    var lower: [Double]
    /// ‖x_i‖² (for the rounding bound of the scores), `[N]`.
    let pointNorms: [Double]
    /// How far each centroid moved in the last update and re-seeding, `[K]`.
    var movement: [Double]

    init(x: UnsafeBufferPointer<Float>, count: Int, dimension: Int, clusters: Int, useBounds: Bool) {
        self.x = x; n = count; D = dimension; k = clusters
        self.useBounds = useBounds && clusters > 1
        labels = [Int32](repeating: 0, count: count)
        distances = [Double](repeating: 0, count: count)
        lower = [Double](repeating: 0, count: count)
        movement = [Double](repeating: 0, count: clusters)
        var norms = [Double](repeating: 0, count: count)
        let xb = x.baseAddress!, D = dimension
        norms.withUnsafeMutableBufferPointer { out in
            parallelFor(count, minChunk: 1024) { range in
                for i in range {
                    var s = 0.0
                    for d in 0..<D { s += Double(xb[i * D + d]) * Double(xb[i * D + d]) }
                    out[i] = s
                }
            }
        }
        pointNorms = norms
    }

    /// Σ distances in blocks of 4096 (each summed in order, then the block sums in order): the same value
    /// for every thread count.
    func objective() -> Double {
        let block = 4096
        let blocks = (n + block - 1) / block
        var partial = [Double](repeating: 0, count: blocks)
        distances.withUnsafeBufferPointer { dist in
            partial.withUnsafeMutableBufferPointer { p in
                parallelFor(blocks) { range in
                    for b in range {
                        var s = 0.0
                        for i in (b * block)..<min(n, (b + 1) * block) { s += dist[i] }
                        p[b] = s
                    }
                }
            }
        }
        return partial.reduce(0, +)
    }

    /// A bound on |score − ‖x − e‖²| for the Float score `(‖x‖² − 2 x·e) + ‖e‖²`: each of the three terms is a
    /// sum of D products (relative error ≤ D·u), then two additions; 4·(D + 4)·u·(‖x‖² + max ‖e‖²) covers it.
    func scoreSlack(_ i: Int, _ maxCodeNorm: Double) -> Double {
        4 * Double(D + 4) * 0x1p-24 * (pointNorms[i] + maxCodeNorm)
    }

    /// The two best codes (`[m, 2]`) of the points `rows` (indices into x; nil: all) against `book`, by the
    /// blocked search on the gathered rows.
    func searchTwo(_ rows: [Int32]?, _ book: Codebook) -> ([Int32], [Float]) {
        let m = rows?.count ?? n, D = D, xb = x.baseAddress!
        var codes = [Int32](repeating: 0, count: m * 2)
        var scores = [Float](repeating: 0, count: m * 2)
        func run(_ points: UnsafeBufferPointer<Float>) {
            codes.withUnsafeMutableBufferPointer { c in
                scores.withUnsafeMutableBufferPointer { s in book.nearest(points, count: 2, codes: c, scores: s) }
            }
        }
        if let rows {
            var gathered = [Float](repeating: 0, count: m * D)
            gathered.withUnsafeMutableBufferPointer { g in
                parallelFor(m, minChunk: 1024) { range in
                    for r in range { (g.baseAddress! + r * D).update(from: xb + Int(rows[r]) * D, count: D) }
                }
            }
            gathered.withUnsafeBufferPointer { run($0) }
        } else {
            run(x)
        }
        return (codes, scores)
    }

    /// First assignment: nearest centroid for every point (no check), exact distances, lower bounds.
    mutating func assignAll(centroids: [Float]) {
        let book = Codebook(size: k, dimension: D, vectors: centroids)
        let xb = x.baseAddress!, D = D
        if useBounds {
            let maxNorm = Double(book.squaredNorms.max() ?? 0)
            let (codes, scores) = searchTwo(nil, book)
            for i in 0..<n {
                labels[i] = codes[2 * i]
                lower[i] = Double(scores[2 * i + 1]) - scoreSlack(i, maxNorm) > 0
                    ? (Double(scores[2 * i + 1]) - scoreSlack(i, maxNorm)).squareRoot() : 0
            }
        } else {
            labels.withUnsafeMutableBufferPointer { book.nearest(x, codes: $0) }
        }
        let labels = labels
        centroids.withUnsafeBufferPointer { c in
            distances.withUnsafeMutableBufferPointer { dist in
                parallelFor(n, minChunk: 1024) { range in
                    for i in range { dist[i] = exactSquaredDistance(xb + i * D, c.baseAddress! + Int(labels[i]) * D, D) }
                }
            }
        }
    }

    /// Points moved to their nearest centroid where the exact distance is smaller; returns how many moved.
    /// With bounds, points whose own distance is below their lower bound are not searched.
    mutating func reassign(centroids: [Float]) -> Int {
        let book = Codebook(size: k, dimension: D, vectors: centroids)
        let xb = x.baseAddress!, D = D
        guard useBounds else {
            var candidate = [Int32](repeating: 0, count: n)
            candidate.withUnsafeMutableBufferPointer { book.nearest(x, codes: $0) }
            var moved = 0
            centroids.withUnsafeBufferPointer { c in
                for i in 0..<n where candidate[i] != labels[i] {
                    let d = exactSquaredDistance(xb + i * D, c.baseAddress! + Int(candidate[i]) * D, D)
                    if d < distances[i] { distances[i] = d; labels[i] = candidate[i]; moved += 1 }
                }
            }
            return moved
        }
        // Lower bounds drop by the largest movement of any other centroid.
        var first = 0.0, firstIndex = -1, second = 0.0
        for j in 0..<k {
            let m = movement[j]
            if m > first { second = first; first = m; firstIndex = j } else if m > second { second = m }
        }
        var active: [Int32] = []
        for i in 0..<n {
            let drop = Int(labels[i]) == firstIndex ? second : first
            lower[i] = max(0, lower[i] - drop)
            // Skip only with a margin for the rounding of the square root and of `distances`.
            if !(distances[i].squareRoot() * (1 + 1e-9) < lower[i]) { active.append(Int32(i)) }
        }
        guard !active.isEmpty else { return 0 }
        let maxNorm = Double(book.squaredNorms.max() ?? 0)
        let (codes, scores) = searchTwo(active, book)
        var moved = 0
        centroids.withUnsafeBufferPointer { c in
            for (r, index) in active.enumerated() {
                let i = Int(index)
                let slack = scoreSlack(i, maxNorm)
                func bound(_ score: Float) -> Double {
                    let v = Double(score) - slack
                    return v > 0 ? v.squareRoot() : 0
                }
                let best = codes[2 * r]
                if best == labels[i] {
                    lower[i] = bound(scores[2 * r + 1])
                    continue
                }
                let d = exactSquaredDistance(xb + i * D, c.baseAddress! + Int(best) * D, D)
                if d < distances[i] {
                    lower[i] = min(distances[i].squareRoot(), bound(scores[2 * r + 1]))
                    distances[i] = d; labels[i] = best; moved += 1
                } else {
                    lower[i] = bound(scores[2 * r])
                }
            }
        }
        return moved
    }

    /// Members of each cluster in increasing index order (a counting sort): `(offsets [K+1], members [N])`.
    func membersByCluster() -> ([Int], [Int32]) {
        var offsets = [Int](repeating: 0, count: k + 1)
        for c in labels { offsets[Int(c) + 1] += 1 }
        for j in 0..<k { offsets[j + 1] += offsets[j] }
        var fill = offsets
        var members = [Int32](repeating: 0, count: n)
        for i in 0..<n { let c = Int(labels[i]); members[fill[c]] = Int32(i); fill[c] += 1 }
        return (offsets, members)
    }

    /// Moves each non-empty cluster's centroid to its members' mean (Double sums, in index order), kept only
    /// when the cluster's exact squared error does not grow; updates the distances and `movement`. Returns
    /// how many moved.
    mutating func updateCentroids(_ centroids: inout [Float]) -> Int {
        let (offsets, members) = membersByCluster()
        let xb = x.baseAddress!, D = D
        for j in 0..<k { movement[j] = 0 }
        centroids.withUnsafeMutableBufferPointer { cBuf in
        distances.withUnsafeMutableBufferPointer { dist in
        movement.withUnsafeMutableBufferPointer { move in
            let c = cBuf.baseAddress!
            parallelFor(k, minChunk: 8) { range in
                var sum = [Double](repeating: 0, count: D)
                var mean = [Float](repeating: 0, count: D)
                var newDist: [Double] = []
                for j in range where offsets[j + 1] > offsets[j] {
                    let cluster = members[offsets[j]..<offsets[j + 1]]
                    for d in 0..<D { sum[d] = 0 }
                    for i in cluster {
                        let xRow = xb + Int(i) * D // x[i, :]
                        for d in 0..<D { sum[d] += Double(xRow[d]) }
                    }
                    let inv = 1.0 / Double(cluster.count)
                    for d in 0..<D { mean[d] = Float(sum[d] * inv) }
                    var oldError = 0.0, newError = 0.0
                    newDist.removeAll(keepingCapacity: true)
                    mean.withUnsafeBufferPointer { m in
                        for i in cluster {
                            let dn = exactSquaredDistance(xb + Int(i) * D, m.baseAddress!, D)
                            newDist.append(dn)
                            newError += dn
                            oldError += dist[Int(i)]
                        }
                    }
                    let cRow = c + j * D // c[j, :]
                    var same = true
                    for d in 0..<D where cRow[d] != mean[d] { same = false; break }
                    if !same && newError <= oldError {
                        move[j] = mean.withUnsafeBufferPointer { exactSquaredDistance(cRow, $0.baseAddress!, D) }.squareRoot()
                        for d in 0..<D { cRow[d] = mean[d] }
                        for (m, i) in cluster.enumerated() { dist[Int(i)] = newDist[m] }
                    }
                }
            }
        }
        }
        }
        return movement.filter { $0 > 0 }.count
    }

    /// Each empty cluster takes the point farthest from its centroid (largest exact distance, ties to the
    /// lowest index) among clusters that keep at least one point; returns how many were re-seeded.
    mutating func reseedEmptyClusters(_ centroids: inout [Float]) -> Int {
        var sizes = [Int](repeating: 0, count: k)
        for c in labels { sizes[Int(c)] += 1 }
        let empty = (0..<k).filter { sizes[$0] == 0 }
        guard !empty.isEmpty else { return 0 }
        let dist = distances
        let order = (0..<n).sorted { dist[$0] > dist[$1] || (dist[$0] == dist[$1] && $0 < $1) }
        var next = 0, done = 0
        for j in empty {
            while next < order.count && sizes[Int(labels[order[next]])] < 2 { next += 1 }
            guard next < order.count else { break }
            let p = order[next]
            next += 1
            sizes[Int(labels[p])] -= 1
            sizes[j] = 1
            labels[p] = Int32(j)
            distances[p] = 0
            lower[p] = 0
            var jump = 0.0
            for d in 0..<D {
                let t = Double(x[p * D + d]) - Double(centroids[j * D + d])
                jump += t * t
                centroids[j * D + d] = x[p * D + d]
            }
            movement[j] = max(movement[j], jump.squareRoot())
            done += 1
        }
        return done
    }
}

// MARK: - Distances and random numbers

/// ‖a − b‖² in Float: squared differences accumulated (fma) into two 8-lane sums (even and odd groups
/// of 8 dimensions), added, lanes summed in order; the D mod 8 tail scalar. A fixed order for every D.
@inline(__always)
func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ D: Int) -> Float {
    var acc0 = SIMD8<Float>.zero, acc1 = SIMD8<Float>.zero
    var d = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while d + 16 <= D {
        let t0 = ra.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
            - rb.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
        let t1 = ra.loadUnaligned(fromByteOffset: 4 * d + 32, as: SIMD8<Float>.self)
            - rb.loadUnaligned(fromByteOffset: 4 * d + 32, as: SIMD8<Float>.self)
        acc0 = acc0.addingProduct(t0, t0)
        acc1 = acc1.addingProduct(t1, t1)
        d += 16
    }
    if d + 8 <= D {
        let t0 = ra.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
            - rb.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
        acc0 = acc0.addingProduct(t0, t0)
        d += 8
    }
    var s = (acc0 + acc1).sum()
    while d < D { let t = a[d] - b[d]; s = s.addingProduct(t, t); d += 1 }
    return s
}

/// ‖a − b‖² in Float summed 32 dimensions at a time (each block: two 8-lane fma accumulators, added, lanes
/// summed in order; blocks added in order; the D mod 32 tail scalar), returning as soon as the partial sum
/// reaches `bound` (then the result is ≥ bound, not the full distance). A fixed order for every D.
@inline(__always)
func boundedSquaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ D: Int, bound: Float) -> Float {
    var s: Float = 0
    var d = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while d + 32 <= D {
        var acc0 = SIMD8<Float>.zero, acc1 = SIMD8<Float>.zero
        for o in stride(from: 0, to: 32, by: 16) {
            let t0 = ra.loadUnaligned(fromByteOffset: 4 * (d + o), as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: 4 * (d + o), as: SIMD8<Float>.self)
            let t1 = ra.loadUnaligned(fromByteOffset: 4 * (d + o) + 32, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: 4 * (d + o) + 32, as: SIMD8<Float>.self)
            acc0 = acc0.addingProduct(t0, t0)
            acc1 = acc1.addingProduct(t1, t1)
        }
        s += (acc0 + acc1).sum()
        d += 32
        if s >= bound { return s }
    }
    while d < D { let t = a[d] - b[d]; s = s.addingProduct(t, t); d += 1 }
    return s
}

/// ‖a − b‖² in Double (differences of the Float inputs are exact in Double): the distance the k-means
/// objective uses.
@inline(__always)
func exactSquaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ D: Int) -> Double {
    var acc = SIMD4<Double>.zero
    var d = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while d + 4 <= D {
        let t = SIMD4<Double>(ra.loadUnaligned(fromByteOffset: 4 * d, as: SIMD4<Float>.self))
            - SIMD4<Double>(rb.loadUnaligned(fromByteOffset: 4 * d, as: SIMD4<Float>.self))
        acc = acc.addingProduct(t, t)
        d += 4
    }
    var s = (acc[0] + acc[1]) + (acc[2] + acc[3])
    while d < D { let t = Double(a[d]) - Double(b[d]); s = s.addingProduct(t, t); d += 1 }
    return s
}

/// SplitMix64: the seeded generator of the RVQ module (same stream on every platform).
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    mutating func unitDouble() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Uniform in 0..<n (multiply-high, no modulo bias worth noting for n ≪ 2^64).
    mutating func index(_ n: Int) -> Int { Int(next().multipliedFullWidth(by: UInt64(n)).high) }
}
