// ResidualTraining: trains a ResidualVectorQuantizer stage by stage with k-means on the residual of the
// stages before, then optionally refines all codebooks jointly (re-encode, refit each codebook).
// Legend: T vectors, D dimension, K stages, N_k codebook size of stage k.
import NN

/// How to train a residual quantizer: codebook sizes per stage, the k-means settings, refinement passes.
public struct ResidualQuantizerTrainer: Sendable {
    /// N_k for each stage k (K entries, each ≥ 1 and ≤ T), typically 1024.
    public var codebookSizes: [Int]
    /// Lloyd iterations per stage, typically 25.
    public var kMeansIterations: Int
    /// Relative objective change that stops a stage's k-means, typically 1e-4 (0: run all iterations).
    public var tolerance: Double
    /// Seed; stage k's k-means uses a seed derived from it and k.
    public var seed: UInt64
    public var initialization: KMeans.Initialization
    /// Progressive-dimension steps of each stage's k-means (`KMeans.progressiveSteps`; 0: plain k-means),
    /// typically 4. Residuals of later stages are close to isotropic noise, where k-means started from data
    /// points (random or k-means++) leaves most centroids as singletons on their seed point; starting in the
    /// leading principal components gives balanced codebooks (on a 128-D Gaussian mixture, 8 × 1024: greedy
    /// MSE 0.1161 instead of 0.1199, at 1.3× the training time).
    public var progressiveSteps: Int
    /// k-means++ sample limit per stage (`KMeans.seedingSampleLimit`); nil: KMeans's default (16·N_k).
    public var seedingSampleLimit: Int?
    /// Refinement passes after the stage-wise training: each re-encodes the data with all codebooks (greedy,
    /// or beam `beamWidth`), then refits codebook k (in stage order) to the mean of `x − Σ_{j≠k} e_j[c_j]` over
    /// the vectors that use each code. A pass is kept only if it lowers that encoding's reconstruction error;
    /// the first that does not ends the refinement. 0 = none; typically 4 (each pass costs about one
    /// encoding of the data).
    public var refinementPasses: Int
    /// Beam width B of the encoding the training works with (1: greedy). With B > 1, stage k + 1 is trained
    /// on the residuals of the beam encoding with stages 0...k (`encode(_:beamWidth:stages:)`), and the
    /// refinement passes re-encode with beam B and are judged by that encoding's error: codebooks for data
    /// that will be beam-encoded. Costs about (K + 1)/2 · B times the greedy encodings.
    public var beamWidth: Int

    public init(codebookSizes: [Int], kMeansIterations: Int = 25, tolerance: Double = 1e-4, seed: UInt64 = 0,
                initialization: KMeans.Initialization = .kMeansPlusPlus, seedingSampleLimit: Int? = nil,
                progressiveSteps: Int = 4, refinementPasses: Int = 4, beamWidth: Int = 1) {
        self.codebookSizes = codebookSizes
        self.beamWidth = beamWidth
        self.progressiveSteps = progressiveSteps
        self.seedingSampleLimit = seedingSampleLimit
        self.kMeansIterations = kMeansIterations
        self.tolerance = tolerance
        self.seed = seed
        self.initialization = initialization
        self.refinementPasses = refinementPasses
    }

    /// K stages of `codebookSize` codes each.
    public init(stages: Int, codebookSize: Int, kMeansIterations: Int = 25, tolerance: Double = 1e-4,
                seed: UInt64 = 0, initialization: KMeans.Initialization = .kMeansPlusPlus,
                seedingSampleLimit: Int? = nil, progressiveSteps: Int = 4, refinementPasses: Int = 4,
                beamWidth: Int = 1) {
        self.init(codebookSizes: [Int](repeating: codebookSize, count: stages), kMeansIterations: kMeansIterations,
                  tolerance: tolerance, seed: seed, initialization: initialization,
                  seedingSampleLimit: seedingSampleLimit, progressiveSteps: progressiveSteps,
                  refinementPasses: refinementPasses, beamWidth: beamWidth)
    }

    /// Trains on `vectors` (row-major `[T, D]`). Stage k runs k-means on `r_k = x − Σ_{j<k} e_j[c_j]` where the
    /// codes `c_j` are the greedy encoding (`Codebook.nearest`), so the residuals are those `encode` sees
    /// (with `beamWidth` > 1: those of the beam encoding).
    /// `progress` is called after each stage and each refinement pass. Throws on bad data or options (see
    /// `KMeans.fit`), or when there are no stages.
    public func train(_ vectors: [Float], dimension D: Int,
                      progress: ((ResidualTrainingEvent) -> Void)? = nil) throws -> ResidualTrainingResult {
        guard !codebookSizes.isEmpty else {
            throw RVQError.invalidParameter(name: "codebookSizes", value: "[]", reason: "need at least one stage")
        }
        guard beamWidth >= 1 else {
            throw RVQError.invalidParameter(name: "beamWidth", value: "\(beamWidth)", reason: "must be ≥ 1")
        }
        if let (k, size) = codebookSizes.enumerated().first(where: { $0.element < 1 }) {
            throw RVQError.invalidParameter(name: "codebookSizes[\(k)]", value: "\(size)", reason: "must be ≥ 1")
        }
        guard refinementPasses >= 0 else {
            throw RVQError.invalidParameter(name: "refinementPasses", value: "\(refinementPasses)", reason: "must be ≥ 0")
        }
        guard D > 0 else { throw RVQError.invalidParameter(name: "dimension", value: "\(D)", reason: "must be ≥ 1") }
        let T = try rowCount(vectors.count, dimension: D, what: "training data")
        guard T > 0 else { throw RVQError.empty(what: "training data") }
        if let largest = codebookSizes.max(), largest > T { throw RVQError.notEnoughVectors(vectors: T, clusters: largest) }
        try vectors.withUnsafeBufferPointer { try checkFinite($0, dimension: D, what: "training data") }

        var residual = vectors
        var books: [Codebook] = []
        var objectives: [Double] = [], iterations: [Int] = []
        for (stage, size) in codebookSizes.enumerated() {
            let kMeans = KMeans(clusterCount: size, maxIterations: kMeansIterations, tolerance: tolerance,
                                seed: stageSeed(stage), initialization: initialization,
                                seedingSampleLimit: seedingSampleLimit, progressiveSteps: progressiveSteps)
            let result = try kMeans.fit(residual, dimension: D)
            let book = result.codebook
            var codes = [Int32](repeating: 0, count: T)
            residual.withUnsafeMutableBufferPointer { r in
                codes.withUnsafeMutableBufferPointer { c in
                    book.nearest(UnsafeBufferPointer(r), codes: c)
                    subtractCodeVectors(from: r, codes: UnsafeBufferPointer(c), codebook: book)
                }
            }
            books.append(book)
            if beamWidth > 1 && stage > 0 && stage + 1 < codebookSizes.count {
                // The next stage trains on what the beam encoding with stages 0...stage leaves.
                let q = try ResidualVectorQuantizer(codebooks: books)
                let decoded = try q.decode(q.encode(vectors, beamWidth: beamWidth))
                for i in 0..<(T * D) { residual[i] = vectors[i] - decoded[i] }
            }
            objectives.append(result.objective)
            iterations.append(result.iterations)
            progress?(.stageTrained(stage: stage, objective: result.objective, iterations: result.iterations))

        }
        var quantizer = try ResidualVectorQuantizer(codebooks: books)
        var codes = try encodeForTraining(quantizer, vectors)
        var error = try meanSquaredError(vectors, quantizer.decode(codes))
        var errors = [error]
        var passes = 0
        while passes < refinementPasses {
            let candidate = try refit(quantizer, vectors: vectors, codes: codes)
            let candidateCodes = try encodeForTraining(candidate, vectors)
            let candidateError = try meanSquaredError(vectors, candidate.decode(candidateCodes))
            let kept = candidateError < error
            progress?(.refinementPass(pass: passes + 1, meanSquaredError: candidateError, kept: kept))
            guard kept else { break }
            quantizer = candidate; codes = candidateCodes; error = candidateError
            errors.append(error)
            passes += 1
        }
        return ResidualTrainingResult(quantizer: quantizer, stageObjectives: objectives, stageIterations: iterations,
                                      meanSquaredErrors: errors, refinementPasses: passes)
    }

    /// The encoding the training works with: greedy, or beam search of width `beamWidth`.
    private func encodeForTraining(_ q: ResidualVectorQuantizer, _ x: [Float]) throws -> Codes {
        beamWidth == 1 ? try q.encode(x) : try q.encode(x, beamWidth: beamWidth)
    }

    private func stageSeed(_ stage: Int) -> UInt64 {
        var mix = SplitMix64(seed: seed ^ (UInt64(stage) &* 0xD1B5_4A32_D192_ED03))
        return mix.next()
    }

    /// One joint refit of every codebook for fixed codes (block coordinate descent, stage order): with
    /// `r = x − decode(codes)`, for each stage k the target is `r + e_k[c_k]`, code n of stage k becomes the
    /// mean of the targets of the vectors using it (unused codes stay), then `r = target − e_k'[c_k]`.
    func refit(_ quantizer: ResidualVectorQuantizer, vectors: [Float], codes: Codes) throws -> ResidualVectorQuantizer {
        let T = codes.count, D = quantizer.dimension
        let decoded = try quantizer.decode(codes)
        var residual = [Float](repeating: 0, count: T * D)
        for i in 0..<(T * D) { residual[i] = vectors[i] - decoded[i] }
        var books: [Codebook] = []
        for (stage, book) in quantizer.codebooks.enumerated() {
            let stageCodes = Array(codes.stage(stage))
            let N = book.size
            // target = r + e_k[c_k]
            var target = residual
            target.withUnsafeMutableBufferPointer { tg in
                book.vectors.withUnsafeBufferPointer { e in
                    parallelFor(T, minChunk: 256) { range in
                        for t in range {
                            let eRow = e.baseAddress! + Int(stageCodes[t]) * D, tRow = tg.baseAddress! + t * D
                            for d in 0..<D { tRow[d] += eRow[d] }
                        }
                    }
                }
            }
            // Members of each code in index order (counting sort), then a mean per code in Double.
            var offsets = [Int](repeating: 0, count: N + 1)
            for c in stageCodes { offsets[Int(c) + 1] += 1 }
            for n in 0..<N { offsets[n + 1] += offsets[n] }
            var fill = offsets
            var members = [Int32](repeating: 0, count: T)
            for t in 0..<T { let c = Int(stageCodes[t]); members[fill[c]] = Int32(t); fill[c] += 1 }
            var newVectors = book.vectors
            target.withUnsafeBufferPointer { tg in
                newVectors.withUnsafeMutableBufferPointer { out in
                    parallelFor(N, minChunk: 8) { range in
                        var sum = [Double](repeating: 0, count: D)
                        for n in range where offsets[n + 1] > offsets[n] {
                            for d in 0..<D { sum[d] = 0 }
                            for m in offsets[n]..<offsets[n + 1] {
                                let tRow = tg.baseAddress! + Int(members[m]) * D // target[t, :]
                                for d in 0..<D { sum[d] += Double(tRow[d]) }
                            }
                            let inv = 1.0 / Double(offsets[n + 1] - offsets[n])
                            for d in 0..<D { out[n * D + d] = Float(sum[d] * inv) }
                        }
                    }
                }
            }
            let newBook = Codebook(size: N, dimension: D, vectors: newVectors)
            // r = target − e_k'[c_k]
            residual = target
            residual.withUnsafeMutableBufferPointer { r in
                stageCodes.withUnsafeBufferPointer { c in subtractCodeVectors(from: r, codes: c, codebook: newBook) }
            }
            books.append(newBook)
        }
        return try ResidualVectorQuantizer(codebooks: books)
    }
}

/// Progress of `ResidualQuantizerTrainer.train`.
public enum ResidualTrainingEvent: Sendable, CustomStringConvertible {
    /// Stage `stage` (0-based) trained: its k-means objective (Σ squared residual) and iterations.
    case stageTrained(stage: Int, objective: Double, iterations: Int)
    /// Refinement pass `pass` (1-based): the reconstruction MSE it reached, and whether it was kept.
    case refinementPass(pass: Int, meanSquaredError: Double, kept: Bool)

    public var description: String {
        switch self {
        case let .stageTrained(stage, objective, iterations):
            return "stage \(stage): k-means objective \(objective) after \(iterations) iterations"
        case let .refinementPass(pass, mse, kept):
            return "refinement pass \(pass): MSE \(mse)\(kept ? "" : " (no gain, discarded)")"
        }
    }
}

/// What `ResidualQuantizerTrainer.train` produced.
public struct ResidualTrainingResult: Sendable {
    public let quantizer: ResidualVectorQuantizer
    /// Stage k's k-means objective Σ_t ‖r_k,t − e_k[c]‖² during the stage-wise training.
    public let stageObjectives: [Double]
    /// Lloyd iterations run for each stage.
    public let stageIterations: [Int]
    /// Reconstruction MSE per element, `Σ(x − decode(encode(x)))² / (T·D)` with the trainer's encoding
    /// (greedy, or beam `beamWidth`): after the stage-wise training, then after each kept refinement pass
    /// (decreasing).
    public let meanSquaredErrors: [Double]
    /// Refinement passes kept.
    public let refinementPasses: Int
}

/// `Σ(a − b)² / count` in Double (a and b of equal length).
public func meanSquaredError(_ a: [Float], _ b: [Float]) throws -> Double {
    guard a.count == b.count else { throw RVQError.dimensionMismatch(what: "mean squared error", expected: a.count, got: b.count) }
    guard !a.isEmpty else { return 0 }
    var sum = 0.0
    for i in 0..<a.count { let d = Double(a[i]) - Double(b[i]); sum += d * d }
    return sum / Double(a.count)
}
