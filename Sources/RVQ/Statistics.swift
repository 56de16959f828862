// Statistics: per-stage quality of a residual quantizer on data: residual energy and SNR after each stage,
// codebook usage, its entropy and dead codes. Legend: T vectors, D dimension, K stages, N codebook size.
import Foundation

/// Quality after stages 0...`stage` on a set of vectors, and how stage `stage`'s codebook is used.
public struct StageStatistics: Sendable, Equatable {
    /// Stage index k (0-based): the figures below use stages 0...k.
    public let stage: Int
    /// N_k.
    public let codebookSize: Int
    /// Mean over vectors of ‖x − x̂_k‖², x̂_k the decoding of stages 0...k.
    public let residualEnergy: Double
    /// Σ‖x − x̂_k‖² / Σ‖x‖² (0 when both are 0).
    public let relativeResidualEnergy: Double
    /// 10·log10(Σ‖x‖² / Σ‖x − x̂_k‖²) in dB (+∞ for an exact reconstruction, −∞ for all-zero data).
    public let snrDecibels: Double
    /// How many vectors use each code of stage k, `[N_k]`.
    public let usage: [Int]
    /// Entropy of the code distribution, −Σ p_n log2 p_n over used codes, in bits (≤ log2 N_k).
    public let entropyBits: Double
    /// Codes of stage k that no vector uses.
    public let deadCodes: Int

    /// 2^entropy: the number of equally used codes with the same entropy.
    public var perplexity: Double { pow(2, entropyBits) }
}

extension ResidualVectorQuantizer {
    /// Per-stage statistics of `codes` (`[K, T]`) for `vectors` (`[T, D]`); one entry per stage of `codes`.
    /// Throws when the shapes disagree or a code is out of range.
    public func statistics(_ vectors: [Float], codes: Codes) throws -> [StageStatistics] {
        let T = try rowCount(vectors.count, dimension: dimension, what: "vectors")
        guard T == codes.count else {
            throw RVQError.dimensionMismatch(what: "codes (vectors per stage)", expected: T, got: codes.count)
        }
        guard codes.stages <= stageCount else {
            throw RVQError.tooManyStages(requested: codes.stages, available: stageCount)
        }
        try validate(codes)
        let D = dimension
        var signal = 0.0
        for v in vectors { signal += Double(v) * Double(v) }
        var decoded = [Float](repeating: 0, count: T * D)
        var out: [StageStatistics] = []
        for k in 0..<codes.stages {
            let book = codebooks[k]
            var usage = [Int](repeating: 0, count: book.size)
            var error = 0.0
            for t in 0..<T {
                let c = Int(codes[stage: k, position: t])
                usage[c] += 1
                for d in 0..<D {
                    decoded[t * D + d] = decoded[t * D + d] + book.vectors[c * D + d]
                    let diff = Double(vectors[t * D + d]) - Double(decoded[t * D + d])
                    error += diff * diff
                }
            }
            out.append(StageStatistics(
                stage: k, codebookSize: book.size,
                residualEnergy: T > 0 ? error / Double(T) : 0,
                relativeResidualEnergy: signal > 0 ? error / signal : (error > 0 ? .infinity : 0),
                snrDecibels: error == 0 ? .infinity : 10 * log10(signal / error),
                usage: usage, entropyBits: entropyBits(usage), deadCodes: usage.filter { $0 == 0 }.count))
        }
        return out
    }

    /// Per-stage statistics of the greedy encoding of `vectors` with the first `stages` stages (all when nil).
    public func statistics(_ vectors: [Float], stages: Int? = nil) throws -> [StageStatistics] {
        try statistics(vectors, codes: encode(vectors, stages: stages))
    }
}

/// −Σ p log2 p of the distribution `counts / Σ counts`, in bits (0 for no counts).
public func entropyBits(_ counts: [Int]) -> Double {
    let total = counts.reduce(0, +)
    guard total > 0 else { return 0 }
    var h = 0.0
    for c in counts where c > 0 {
        let p = Double(c) / Double(total)
        h -= p * log2(p)
    }
    return h
}
