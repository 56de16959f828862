// BeamSearch: residual encoding that keeps the B best partial paths per stage instead of the greedy one.
// Mirrors the beam search of faiss ResidualQuantizer (max_beam_size), plus a greedy fallback per vector.
// Legend: T vectors, D dimension, K stages, N codebook size, B beam width, P paths kept (≤ B).
import NN

extension ResidualVectorQuantizer {
    /// Beam-search encoding of `vectors` (`[T, D]`) with the first `stages` codebooks, never worse than greedy.
    ///
    /// Runs `beamSearch` and, per vector, keeps the greedy codes (`encode(_:stages:)`) instead when their
    /// reconstruction error is strictly smaller: beam search alone can prune the greedy path and end worse.
    /// `beamWidth = 1` gives exactly the greedy codes. Thread-count independent. Returns codes `[K, T]`.
    public func encode(_ vectors: [Float], beamWidth: Int, stages: Int? = nil) throws -> Codes {
        try beamEncode(vectors, beamWidth: beamWidth, stages: stages, greedyFallback: true).codes
    }

    /// Plain beam search: stage by stage, every kept path `b` (residual `r_b`) is extended by every code `n`,
    /// ranked by `score(r_b, n) = (‖r_b‖² − 2 r_b·e_n) + ‖e_n‖²` (the greedy score, an estimate of the new
    /// residual energy), ties to the lower (path, code); the best `B` are kept (one path at stage 0). At the
    /// end the path with the smallest exact error `Σ(x − decode(path))²` (Double; ties to the
    /// lexicographically smallest codes) wins. With `B ≥ Π N_k` every combination is kept, so this is the
    /// exhaustive optimum. Returns the codes `[K, T]` and each vector's squared error.
    public func beamSearch(_ vectors: [Float], beamWidth: Int, stages: Int? = nil) throws
        -> (codes: Codes, squaredErrors: [Double]) {
        try beamEncode(vectors, beamWidth: beamWidth, stages: stages, greedyFallback: false)
    }

    private func beamEncode(_ vectors: [Float], beamWidth: Int, stages: Int?, greedyFallback: Bool) throws
        -> (codes: Codes, squaredErrors: [Double]) {
        guard beamWidth >= 1 else {
            throw RVQError.invalidParameter(name: "beamWidth", value: "\(beamWidth)", reason: "must be ≥ 1")
        }
        let K = try checkedStages(stages)
        let T = try rowCount(vectors.count, dimension: dimension, what: "vectors")
        try vectors.withUnsafeBufferPointer { try checkFinite($0, dimension: dimension, what: "vectors") }
        var codes = Codes(stages: K, count: T)
        var errors = [Double](repeating: 0, count: T)
        let D = dimension
        let chunk = max(1, searchBlockRowsForBeam(dimension: D) / beamWidth)
        vectors.withUnsafeBufferPointer { x in
        codes.values.withUnsafeMutableBufferPointer { out in
        errors.withUnsafeMutableBufferPointer { err in
            parallelFor(T, minChunk: chunk) { range in
                let work = BeamWorkspace(quantizer: self, stages: K, beam: beamWidth, chunk: chunk)
                defer { work.release() }
                var t0 = range.lowerBound
                while t0 < range.upperBound {
                    let n = min(chunk, range.upperBound - t0)
                    work.run(x.baseAddress! + t0 * D, count: n, greedyFallback: greedyFallback)
                    for t in 0..<n {
                        for k in 0..<K { out[k * T + t0 + t] = work.bestCodes[t * max(K, 1) + k] }
                        err[t0 + t] = work.bestErrors[t]
                    }
                    t0 += n
                }
            }
        }
        }
        }
        return (codes, errors)
    }
}

/// Query rows per chunk of the beam search (vectors × paths), about one L2 block of the search kernel.
private func searchBlockRowsForBeam(dimension: Int) -> Int { max(6, (96 * 1024) / (4 * dimension)) }

/// Buffers of one thread's beam search over a chunk of vectors (all sized for `chunk` vectors, B paths).
private final class BeamWorkspace {
    let quantizer: ResidualVectorQuantizer
    let K: Int, B: Int, chunk: Int, D: Int
    let scratch: SearchScratch
    var residuals: UnsafeMutablePointer<Float>      // [chunk][P][D], P ≤ B paths
    var nextResiduals: UnsafeMutablePointer<Float>  // [chunk][P][D]
    var paths: UnsafeMutablePointer<Int32>          // [chunk][P][K]
    var nextPaths: UnsafeMutablePointer<Int32>      // [chunk][P][K]
    let candidateCodes: UnsafeMutablePointer<Int32> // [chunk·P][k]
    let candidateScores: UnsafeMutablePointer<Float>
    let greedyResidual: UnsafeMutablePointer<Float> // [chunk][D]
    let greedyCodes: UnsafeMutablePointer<Int32>    // [K][chunk]
    let decoded: UnsafeMutablePointer<Float>        // [D]
    /// Result per vector of the chunk: codes `[chunk][K]` and squared error `[chunk]`.
    let bestCodes: UnsafeMutablePointer<Int32>
    let bestErrors: UnsafeMutablePointer<Double>

    init(quantizer: ResidualVectorQuantizer, stages: Int, beam: Int, chunk: Int) {
        self.quantizer = quantizer
        K = stages; B = beam; self.chunk = chunk; D = quantizer.dimension
        let maxK = quantizer.codebooks.prefix(stages).map { min(beam, $0.size) }.max() ?? 1
        scratch = SearchScratch(dimension: D, k: maxK)
        let k1 = max(K, 1)
        residuals = .allocate(capacity: chunk * B * D)
        nextResiduals = .allocate(capacity: chunk * B * D)
        paths = .allocate(capacity: chunk * B * k1)
        nextPaths = .allocate(capacity: chunk * B * k1)
        candidateCodes = .allocate(capacity: chunk * B * maxK)
        candidateScores = .allocate(capacity: chunk * B * maxK)
        greedyResidual = .allocate(capacity: chunk * D)
        greedyCodes = .allocate(capacity: k1 * chunk)
        decoded = .allocate(capacity: D)
        bestCodes = .allocate(capacity: chunk * k1)
        bestErrors = .allocate(capacity: chunk)
    }

    func release() {
        scratch.release()
        for p in [residuals, nextResiduals, candidateScores, greedyResidual, decoded] { p.deallocate() }
        for p in [paths, nextPaths, candidateCodes, greedyCodes, bestCodes] { p.deallocate() }
        bestErrors.deallocate()
    }

    /// Beam search of `n` vectors `x[0..<n, :]`, results into `bestCodes`/`bestErrors`.
    func run(_ x: UnsafePointer<Float>, count n: Int, greedyFallback: Bool) {
        let k1 = max(K, 1)
        // Paths of the chunk are stored compactly, [n][P][·] for the current P, so each stage's query rows
        // (vector t, path b) are one contiguous block: row t·P + b.
        residuals.update(from: x, count: n * D)
        var pathCount = 1
        for stage in 0..<K {
            let book = quantizer.codebooks[stage]
            let k = min(B, book.size)
            book.search(residuals, rows: n * pathCount, k: k, codes: candidateCodes, scores: candidateScores,
                        scratch: scratch)
            let newCount = min(B, pathCount * book.size)
            book.vectors.withUnsafeBufferPointer { e in
                var entries: [(score: Float, path: Int, code: Int32)] = []
                entries.reserveCapacity(pathCount * k)
                for t in 0..<n {
                    entries.removeAll(keepingCapacity: true)
                    for b in 0..<pathCount {
                        let row = (t * pathCount + b) * k
                        for j in 0..<k { entries.append((candidateScores[row + j], b, candidateCodes[row + j])) }
                    }
                    entries.sort { ($0.score, $0.path, $0.code) < ($1.score, $1.path, $1.code) }
                    for j in 0..<newCount {
                        let (_, b, c) = entries[j]
                        let src = residuals + (t * pathCount + b) * D, dst = nextResiduals + (t * newCount + j) * D
                        let eRow = e.baseAddress! + Int(c) * D // e[c, :]
                        for d in 0..<D { dst[d] = src[d] - eRow[d] }
                        let srcPath = paths + (t * pathCount + b) * k1, dstPath = nextPaths + (t * newCount + j) * k1
                        for s in 0..<stage { dstPath[s] = srcPath[s] }
                        dstPath[stage] = c
                    }
                }
            }
            swap(&residuals, &nextResiduals)
            swap(&paths, &nextPaths)
            pathCount = newCount
        }
        // The path with the smallest exact error (ties: smallest codes).
        for t in 0..<n {
            let first = paths + t * pathCount * k1 // paths of vector t: [P][K]
            var best = 0
            var bestError = squaredError(x + t * D, path: first, stride: 1)
            for b in 1..<pathCount {
                let e = squaredError(x + t * D, path: first + b * k1, stride: 1)
                if e < bestError || (e == bestError && lexicographicallyLess(first + b * k1, first + best * k1)) {
                    best = b; bestError = e
                }
            }
            (bestCodes + t * k1).update(from: first + best * k1, count: K)
            bestErrors[t] = bestError
        }
        if greedyFallback && B > 1 { applyGreedyFallback(x, count: n) }
    }

    /// Greedy codes of the chunk (the search with k = 1, then r −= e, stage by stage); a vector takes them
    /// when their error is strictly smaller than the beam's.
    private func applyGreedyFallback(_ x: UnsafePointer<Float>, count n: Int) {
        let k1 = max(K, 1)
        greedyResidual.update(from: x, count: n * D)
        for stage in 0..<K {
            let book = quantizer.codebooks[stage]
            let stageCodes = greedyCodes + stage * chunk
            book.search(greedyResidual, rows: n, k: 1, codes: stageCodes, scores: nil, scratch: scratch)
            book.vectors.withUnsafeBufferPointer { e in
                for t in 0..<n {
                    let eRow = e.baseAddress! + Int(stageCodes[t]) * D, rRow = greedyResidual + t * D
                    for d in 0..<D { rRow[d] -= eRow[d] }
                }
            }
        }
        for t in 0..<n {
            let e = squaredError(x + t * D, path: greedyCodes + t, stride: chunk)
            if e < bestErrors[t] {
                bestErrors[t] = e
                for s in 0..<K { bestCodes[t * k1 + s] = greedyCodes[s * chunk + t] }
            }
        }
    }

    /// Σ_d (x_d − x̂_d)² in Double, x̂ decoded as `decode` does (0 + e_0[c_0] + e_1[c_1] + … in Float).
    private func squaredError(_ x: UnsafePointer<Float>, path: UnsafePointer<Int32>, stride: Int) -> Double {
        decoded.update(repeating: 0, count: D)
        for s in 0..<K {
            quantizer.codebooks[s].vectors.withUnsafeBufferPointer { e in
                let eRow = e.baseAddress! + Int(path[s * stride]) * D
                for d in 0..<D { decoded[d] = decoded[d] + eRow[d] }
            }
        }
        var sum = 0.0
        for d in 0..<D { let diff = Double(x[d]) - Double(decoded[d]); sum += diff * diff }
        return sum
    }

    private func lexicographicallyLess(_ a: UnsafePointer<Int32>, _ b: UnsafePointer<Int32>) -> Bool {
        for s in 0..<K where a[s] != b[s] { return a[s] < b[s] }
        return false
    }
}
