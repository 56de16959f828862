// Quantizer training: residual VQ over encoder latents with the straight-through estimator, a commitment
// loss whose gradient reaches the encoder from EVERY stage, EMA codebooks (EnCodec's EuclideanCodebook),
// k-means++ initialisation from buffered latents, dead-code replacement and quantizer dropout.
// Legend: B batch, D latent/code dimension, T frames, K stages, N codebook size, F = B·T vectors.
import Foundation
import ModelFile
import NN
import RVQ

/// Hyperparameters of `QuantizerTraining`.
public struct QuantizerTrainingConfig: Sendable, Equatable {
    /// K, residual stages (8 for the default model).
    public var stages: Int
    /// N, codes per stage (1024).
    public var codebookSize: Int
    /// D, latent and code dimension (128).
    public var dimension: Int
    /// EMA decay of the cluster sizes and code sums (EnCodec 0.99).
    public var decay: Float = 0.99
    /// Laplace smoothing ε of the cluster sizes (EnCodec 1e-5).
    public var epsilon: Float = 1e-5
    /// Codebooks are initialised once this many × N latent frames are buffered (≥ 20, the floor).
    public var initBufferMultiple: Int = 20
    /// Lloyd iterations of each stage's k-means at initialisation.
    public var kMeansIterations: Int = 20
    /// A code is dead when its EMA cluster size falls below `deadCodeFraction` × (frames per batch / N),
    /// i.e. that fraction of its share under uniform use; 0 disables replacement.
    public var deadCodeFraction: Float = 0.1
    /// Fraction of each batch's items quantized with a random number of stages (uniform in 1…K); the
    /// others use all K. 0 disables quantizer dropout.
    public var dropoutFraction: Float = 0.5
    /// Seed of k-means, dropout and dead-code sampling.
    public var seed: UInt64 = 0

    public init(stages: Int, codebookSize: Int, dimension: Int) {
        self.stages = stages; self.codebookSize = codebookSize; self.dimension = dimension
    }

    func validate() throws {
        func bad(_ name: String, _ value: Any, _ reason: String) -> TrainingError {
            .invalidParameter(name: name, value: "\(value)", reason: reason)
        }
        guard stages >= 1 else { throw bad("quantizer stages", stages, "must be ≥ 1") }
        guard codebookSize >= 1 else { throw bad("codebook size", codebookSize, "must be ≥ 1") }
        guard dimension >= 1 else { throw bad("codebook dimension", dimension, "must be ≥ 1") }
        guard decay >= 0 && decay < 1 else { throw bad("EMA decay", decay, "must be in [0, 1)") }
        guard epsilon > 0 else { throw bad("Laplace epsilon", epsilon, "must be positive") }
        guard initBufferMultiple >= 1 else { throw bad("init buffer multiple", initBufferMultiple, "must be ≥ 1") }
        guard kMeansIterations >= 0 else { throw bad("k-means iterations", kMeansIterations, "must be ≥ 0") }
        guard deadCodeFraction >= 0 else { throw bad("dead-code fraction", deadCodeFraction, "must be ≥ 0") }
        guard dropoutFraction >= 0 && dropoutFraction <= 1 else { throw bad("dropout fraction", dropoutFraction, "must be in [0, 1]") }
    }
}

/// What one training forward pass of the quantizer produced, and what `backward` needs.
public struct QuantizerOutput: Sendable {
    /// Σ_{k < n_b} q_k per item b, [B, D, T] (the straight-through output: its gradient passes to the latents).
    /// Before the codebooks are initialised: the latents themselves.
    public let quantized: Tensor
    /// Codes of all K stages for every frame (stage k, frame b·T + t), also for stages an item dropped;
    /// nil before initialisation.
    public let codes: Codes?
    /// n_b, stages used per item [B] (K without dropout).
    public let stagesPerItem: [Int]
    /// L_k = Σ_{b: n_b > k} ‖r_{k+1}[b]‖² / (B·D·T) with r_{k+1} = r_k − q_k the residual after stage k
    /// (q_k a constant): EnCodec's `mse_loss(quantize.detach(), x)` per stage, masked as DAC masks dropout.
    public let commitmentLosses: [Double]
    /// Σ_k L_k.
    public var commitmentLoss: Double { commitmentLosses.reduce(0, +) }
    /// True when this pass quantized (false while latents are being buffered for initialisation).
    public let initialized: Bool
    /// Residuals after each stage, [K, F, D] frame-major (saved for backward).
    let residuals: [Float]
    let batch: Int
    let frames: Int
}

/// Trainable residual vector quantizer over latents [B, D, T], with EnCodec's EMA codebooks and the fix
/// of encodec issue #25.
///
/// EnCodec's `ResidualVectorQuantization.forward` subtracts the straight-through output
/// `x + (q − x).detach()` from the residual, so every residual after the first has zero gradient with
/// respect to the encoder and only stage 0's commitment term trains it. Here the residual subtracts the
/// code vector itself (a constant): r_{k+1} = r_k − q_k, so dr_k/dx = I for every k and
///     dL/dx = dL/dquantized + Σ_k w_k·2·mask_k·r_{k+1}/(B·D·T).
///
/// Training step per stage k (EnCodec's order): nearest code of r_k with the current codebook; then, for
/// all stages after the pass, the EMA update with the vectors of all items (dropping stages for the
/// decoder does not change r_k):
///     s ← decay·s + (1−decay)·count,  m ← decay·m + (1−decay)·Σ r_k,  e = m / ((s + ε)/(Σs + Nε)·Σs),
/// then codes whose s falls below the dead-code threshold take a random r_k vector of this batch, with
/// s = threshold and m = threshold·vector (so the next EMA update keeps them, unlike EnCodec, whose
/// replacement is overwritten by the EMA update of the same step).
public final class QuantizerTraining {
    public let config: QuantizerTrainingConfig
    /// e, per stage [N, D] row-major.
    public private(set) var embeddings: [[Float]]
    /// s, EMA cluster sizes per stage [N].
    public private(set) var clusterSizes: [[Float]]
    /// m, EMA code sums per stage [N, D].
    public private(set) var embeddingSums: [[Float]]
    public private(set) var isInitialized = false
    /// Latent frames buffered for initialisation, [F, D] (empty once initialised).
    public private(set) var initBuffer: [Float] = []
    /// Dead codes replaced so far, per stage.
    public private(set) var replacedCodes: [Int]
    private var rng: TrainingRNG
    private var codebooks: [Codebook] = []

    public init(_ config: QuantizerTrainingConfig) throws {
        try config.validate()
        self.config = config
        let K = config.stages, N = config.codebookSize, D = config.dimension
        embeddings = Array(repeating: [Float](repeating: 0, count: N * D), count: K)
        clusterSizes = Array(repeating: [Float](repeating: 0, count: N), count: K)
        embeddingSums = embeddings
        replacedCodes = Array(repeating: 0, count: K)
        rng = TrainingRNG(seed: config.seed)
    }

    /// Starts from given codebooks (e.g. a trained model's), with cluster sizes s = `clusterSize` and
    /// m = s·e, as if initialised.
    public func setCodebooks(_ books: [[Float]], clusterSize: Float) throws {
        let N = config.codebookSize, D = config.dimension
        guard books.count == config.stages, books.allSatisfy({ $0.count == N * D }) else {
            throw TrainingError.invalidParameter(name: "codebooks", value: "\(books.count) of \(books.first?.count ?? 0) values",
                                                 reason: "need \(config.stages) codebooks of [\(N), \(D)]")
        }
        embeddings = books
        clusterSizes = books.map { _ in [Float](repeating: clusterSize, count: N) }
        embeddingSums = books.map { $0.map { $0 * clusterSize } }
        isInitialized = true
        initBuffer = []
        rebuildCodebooks()
    }

    /// The codebooks as an inference quantizer (throws before initialisation).
    public func residualVectorQuantizer() throws -> ResidualVectorQuantizer {
        guard isInitialized else {
            throw TrainingError.invalidParameter(name: "quantizer", value: "uninitialised", reason: "no codebooks yet")
        }
        return try ResidualVectorQuantizer(codebooks: codebooks)
    }

    private func rebuildCodebooks() {
        codebooks = embeddings.map { Codebook(size: config.codebookSize, dimension: config.dimension, vectors: $0) }
    }

    // MARK: forward

    /// One pass over `latents` [B, D, T].
    /// - `update`: apply the EMA update, dead-code replacement and (before initialisation) buffering;
    ///   false evaluates without changing any state (and without consuming randomness unless `dropout`).
    /// - `dropout`: draw n_b as `dropoutFraction` prescribes; false uses `stages` (default K) for all items.
    public func forward(_ latents: Tensor, update: Bool = true, dropout: Bool = true, stages: Int? = nil) throws -> QuantizerOutput {
        let K = config.stages, D = config.dimension
        guard latents.rank == 3, latents.shape[1] == D else {
            throw TrainingError.invalidParameter(name: "latents shape", value: "\(latents.shape)", reason: "expected [B, \(D), T]")
        }
        let B = latents.shape[0], T = latents.shape[2], F = B * T
        guard latents.data.allSatisfy({ $0.isFinite }) else {
            throw TrainingError.invalidParameter(name: "quantizer latents", value: "with NaN or infinity",
                                                 reason: "the encoder output must be finite")
        }
        if let stages, !(1...K).contains(stages) {
            throw TrainingError.invalidParameter(name: "stages", value: "\(stages)", reason: "must be in 1…\(K)")
        }
        // Frame-major copy [F, D]: frame f = b·T + t.
        var x = [Float](repeating: 0, count: F * D)
        for b in 0..<B { for d in 0..<D { for t in 0..<T { x[(b * T + t) * D + d] = latents.data[(b * D + d) * T + t] } } }

        if !isInitialized {
            if update {
                initBuffer.append(contentsOf: x)
                if initBuffer.count / D >= config.initBufferMultiple * config.codebookSize {
                    try initializeFromBuffer(framesPerBatch: F)
                }
            }
            if !isInitialized {
                return QuantizerOutput(quantized: latents, codes: nil, stagesPerItem: Array(repeating: K, count: B),
                                       commitmentLosses: Array(repeating: 0, count: K), initialized: false,
                                       residuals: [], batch: B, frames: T)
            }
        }

        // n_b per item.
        var used = Array(repeating: stages ?? K, count: B)
        if dropout && stages == nil && config.dropoutFraction > 0 {
            var order = Array(0..<B)
            for i in stride(from: B - 1, to: 0, by: -1) { order.swapAt(i, rng.index(i + 1)) }
            let dropped = Int((Float(B) * config.dropoutFraction).rounded(.down))
            for i in 0..<dropped { used[order[i]] = 1 + rng.index(K) }
        }

        var codes = Codes(stages: K, count: F)
        var residual = x
        var residuals = [Float](repeating: 0, count: K * F * D)
        var qsum = [Float](repeating: 0, count: F * D)
        var losses = [Double](repeating: 0, count: K)
        var stageInputs = [[Float]]()
        var stageCodes = [[Int32]]()
        for k in 0..<K {
            var c = [Int32](repeating: 0, count: F)
            residual.withUnsafeBufferPointer { r in c.withUnsafeMutableBufferPointer { codebooks[k].nearest(r, codes: $0) } }
            if update { stageInputs.append(residual) }
            stageCodes.append(c)
            let e = embeddings[k]
            var sum = 0.0
            for f in 0..<F {
                let code = Int(c[f]), b = f / T
                let active = used[b] > k
                for d in 0..<D {
                    let q = e[code * D + d]
                    residual[f * D + d] -= q
                    if active {
                        qsum[f * D + d] += q
                        let r = Double(residual[f * D + d]); sum += r * r
                    }
                }
            }
            losses[k] = sum / Double(F * D)
            for f in 0..<F { codes.values[k * F + f] = c[f] }
            residuals.withUnsafeMutableBufferPointer { dst in
                residual.withUnsafeBufferPointer { (dst.baseAddress! + k * F * D).update(from: $0.baseAddress!, count: F * D) }
            }
        }
        if update {
            for k in 0..<K { emaUpdate(stage: k, vectors: stageInputs[k], codes: stageCodes[k], framesPerBatch: F) }
            rebuildCodebooks()
        }
        var q = Tensor.zeros([B, D, T])
        for b in 0..<B { for d in 0..<D { for t in 0..<T { q.data[(b * D + d) * T + t] = qsum[(b * T + t) * D + d] } } }
        return QuantizerOutput(quantized: q, codes: codes, stagesPerItem: used, commitmentLosses: losses,
                               initialized: true, residuals: residuals, batch: B, frames: T)
    }

    // MARK: backward

    /// Accumulates dL/dlatents into `latentGradient` [B, D, T] (`+=`) for L = (loss through quantized) +
    /// Σ_k w_k·L_k: the straight-through part dquantized, plus w_k·2·r_{k+1}/(B·D·T) for each item whose
    /// stage k is active. `commitmentWeights` has K entries (one weight per stage's term).
    public func backward(_ output: QuantizerOutput, quantizedGradient: Tensor, commitmentWeights: [Float],
                         latentGradient: inout Tensor) {
        let K = config.stages, D = config.dimension, B = output.batch, T = output.frames, F = B * T
        precondition(quantizedGradient.shape == [B, D, T] && latentGradient.shape == [B, D, T],
                     "quantizer backward: gradients must be [\(B), \(D), \(T)]")
        precondition(commitmentWeights.count == K, "quantizer backward: \(K) commitment weights expected")
        for i in 0..<latentGradient.count { latentGradient.data[i] += quantizedGradient.data[i] }
        guard output.initialized else { return }
        let scale = 2 / Float(F * D)
        for k in 0..<K where commitmentWeights[k] != 0 {
            let w = commitmentWeights[k] * scale
            output.residuals.withUnsafeBufferPointer { rp in
                let r = rp.baseAddress! + k * F * D  // r_{k+1} [F, D]
                for b in 0..<B where output.stagesPerItem[b] > k {
                    for d in 0..<D {
                        let row = (b * D + d) * T  // latentGradient[b, d, :]
                        for t in 0..<T { latentGradient.data[row + t] += w * r[(b * T + t) * D + d] }
                    }
                }
            }
        }
    }

    /// `backward` with the same weight for every stage's commitment term.
    public func backward(_ output: QuantizerOutput, quantizedGradient: Tensor, commitmentWeight: Float,
                         latentGradient: inout Tensor) {
        backward(output, quantizedGradient: quantizedGradient,
                 commitmentWeights: Array(repeating: commitmentWeight, count: config.stages), latentGradient: &latentGradient)
    }

    // MARK: EMA, dead codes, initialisation

    /// Dead-code threshold for batches of `framesPerBatch` vectors: fraction × frames / N.
    public func deadCodeThreshold(framesPerBatch: Int) -> Float {
        config.deadCodeFraction * Float(framesPerBatch) / Float(config.codebookSize)
    }

    private func emaUpdate(stage k: Int, vectors x: [Float], codes: [Int32], framesPerBatch F: Int) {
        let N = config.codebookSize, D = config.dimension, decay = config.decay
        var counts = [Float](repeating: 0, count: N)
        var sums = [Float](repeating: 0, count: N * D)
        for f in 0..<F {
            let n = Int(codes[f]); counts[n] += 1
            for d in 0..<D { sums[n * D + d] += x[f * D + d] }
        }
        var s = clusterSizes[k], m = embeddingSums[k]
        for n in 0..<N { s[n] = s[n] * decay + counts[n] * (1 - decay) }
        for i in 0..<N * D { m[i] = m[i] * decay + sums[i] * (1 - decay) }
        // Dead codes: after the update, so a replacement survives into the next step.
        let threshold = deadCodeThreshold(framesPerBatch: F)
        if threshold > 0 {
            let dead = (0..<N).filter { s[$0] < threshold }
            if !dead.isEmpty {
                // Distinct batch vectors when there are enough (a partial Fisher–Yates), else with repeats.
                var pool = Array(0..<F)
                for (j, n) in dead.enumerated() {
                    let f: Int
                    if j < F { let r = j + rng.index(F - j); pool.swapAt(j, r); f = pool[j] } else { f = rng.index(F) }
                    s[n] = threshold
                    for d in 0..<D { m[n * D + d] = x[f * D + d] * threshold }
                }
                replacedCodes[k] += dead.count
            }
        }
        // e = m / ((s + ε)/(Σs + Nε)·Σs), EnCodec's laplace_smoothing(s)·Σs.
        var total: Float = 0
        for n in 0..<N { total += s[n] }
        let denom = total + Float(N) * config.epsilon
        var e = embeddings[k]
        for n in 0..<N {
            let smoothed = (s[n] + config.epsilon) / denom * total
            for d in 0..<D { e[n * D + d] = m[n * D + d] / smoothed }
        }
        clusterSizes[k] = s; embeddingSums[k] = m; embeddings[k] = e
    }

    /// k-means++ then Lloyd, stage by stage on the residuals of the buffered latents (RVQ's
    /// ResidualQuantizerTrainer); s = cluster counts scaled to one batch (× framesPerBatch / buffered),
    /// m = s·e, so the EMA continues from a consistent state (EnCodec stores m = e with s = counts).
    private func initializeFromBuffer(framesPerBatch: Int) throws {
        let K = config.stages, N = config.codebookSize, D = config.dimension
        let M = initBuffer.count / D
        let trainer = ResidualQuantizerTrainer(stages: K, codebookSize: N, kMeansIterations: config.kMeansIterations,
                                               seed: rng.next(), initialization: .kMeansPlusPlus)
        let result = try trainer.train(initBuffer, dimension: D)
        let rvq = result.quantizer
        let codes = try rvq.encode(initBuffer)
        let scale = Float(framesPerBatch) / Float(M)
        for k in 0..<K {
            let e = rvq.codebooks[k].vectors
            var s = [Float](repeating: 0, count: N)
            for f in 0..<M { s[Int(codes.values[k * M + f])] += 1 }
            for n in 0..<N { s[n] *= scale }
            embeddings[k] = e
            clusterSizes[k] = s
            embeddingSums[k] = (0..<N * D).map { e[$0] * s[$0 / D] }
        }
        isInitialized = true
        initBuffer = []
        rebuildCodebooks()
    }

    // MARK: state

    /// Tensor name prefix of stage k's buffers, as EnCodec names them (the inference model reads `.embed`).
    public static func stagePrefix(_ k: Int) -> String { "quantizer.vq.layers.\(k)._codebook" }

    /// Everything needed to resume exactly: per stage `embed` [N, D], `cluster_size` [N], `embed_avg`
    /// [N, D], `inited` [1]; and `quantizer.training.rng` (int64 bit pattern), `.replaced` [K] and, while
    /// buffering, `.init_buffer` [F, D].
    public func state() -> [String: StoredTensor] {
        let N = config.codebookSize, D = config.dimension
        var out = [String: StoredTensor]()
        for k in 0..<config.stages {
            let p = Self.stagePrefix(k)
            out[p + ".embed"] = .float(TensorData(shape: [N, D], values: embeddings[k]))
            out[p + ".cluster_size"] = .float(TensorData(shape: [N], values: clusterSizes[k]))
            out[p + ".embed_avg"] = .float(TensorData(shape: [N, D], values: embeddingSums[k]))
            out[p + ".inited"] = .float(TensorData(shape: [1], values: [isInitialized ? 1 : 0]))
        }
        out["quantizer.training.rng"] = .integer(IntTensorData(shape: [1], values: [Int64(bitPattern: rng.state)]))
        out["quantizer.training.replaced"] = .integer(IntTensorData(shape: [config.stages], values: replacedCodes.map(Int64.init)))
        if !initBuffer.isEmpty {
            out["quantizer.training.init_buffer"] = .float(TensorData(shape: [initBuffer.count / D, D], values: initBuffer))
        }
        return out
    }

    /// Restores `state()`; throws naming the tensor when one is missing or has the wrong shape.
    public func load(state: [String: StoredTensor], path: String = "checkpoint") throws {
        let N = config.codebookSize, D = config.dimension, K = config.stages
        func float(_ name: String, _ shape: [Int]?) throws -> [Float] {
            guard let t = state[name]?.floatData else { throw TrainingError.checkpoint(path: path, reason: "missing float tensor \(name)") }
            if let shape, t.shape != shape {
                throw TrainingError.checkpoint(path: path, reason: "\(name) has shape \(t.shape), quantizer needs \(shape)")
            }
            return t.values
        }
        func int(_ name: String, _ count: Int) throws -> [Int64] {
            guard let t = state[name]?.integerData, t.values.count == count else {
                throw TrainingError.checkpoint(path: path, reason: "missing or malformed integer tensor \(name)")
            }
            return t.values
        }
        var e = [[Float]](), s = [[Float]](), m = [[Float]](), inited = [Bool]()
        for k in 0..<K {
            let p = Self.stagePrefix(k)
            e.append(try float(p + ".embed", [N, D])); s.append(try float(p + ".cluster_size", [N]))
            m.append(try float(p + ".embed_avg", [N, D])); inited.append(try float(p + ".inited", [1])[0] != 0)
        }
        let buffer = state["quantizer.training.init_buffer"] == nil ? [] : try float("quantizer.training.init_buffer", nil)
        guard buffer.count % D == 0 else { throw TrainingError.checkpoint(path: path, reason: "init buffer is not [F, \(D)]") }
        embeddings = e; clusterSizes = s; embeddingSums = m
        isInitialized = inited.allSatisfy { $0 }
        rng = TrainingRNG(state: UInt64(bitPattern: try int("quantizer.training.rng", 1)[0]))
        replacedCodes = try int("quantizer.training.replaced", K).map { Int($0) }
        initBuffer = isInitialized ? [] : buffer
        if isInitialized { rebuildCodebooks() }
    }
}

/// SplitMix64: the seeded generator of the Training module (dropout, dead codes, data order); its whole
/// state is one UInt64, saved in checkpoints.
struct TrainingRNG {
    private(set) var state: UInt64
    init(seed: UInt64) { state = seed }
    init(state: UInt64) { self.state = state }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n (multiply-high).
    mutating func index(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }
    /// Uniform in [0, 1) with 53 bits.
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
