// CodebookUsage: per-codebook usage entropy of RVQ codes [K, T] and the "effective bits" ratio that DAC
// reports (Σ entropy / (K·log₂ N)).
import Foundation

/// Usage statistics of codes laid out [K codebooks, T frames] row-major, each in [0, N).
///
/// For codebook k with p_k(i) = (frames where code i is used) / T:
///     H_k = −Σᵢ p_k(i)·log₂ p_k(i)   bits (0 ≤ H_k ≤ log₂ N; terms with p = 0 are 0)
///     effective bits = Σ_k H_k / (K·log₂ N)   (the and DAC's ratio: 1 when every codebook is
///                                               used uniformly, 0 when each emits a single code)
public struct CodebookUsage: Sendable, Equatable {
    /// K.
    public let codebookCount: Int
    /// T.
    public let frameCount: Int
    /// N, codes per codebook.
    public let codebookSize: Int
    /// Usage counts [K, N] row-major.
    public let counts: [Int]
    /// H_k in bits, one per codebook.
    public let entropies: [Double]

    /// Throws `invalidCodes` when codes.count is not K·T with T ≥ 1, N < 2, or a code is outside [0, N).
    public init<Code: BinaryInteger>(codes: [Code], codebooks: Int, codebookSize: Int) throws {
        guard codebooks >= 1, !codes.isEmpty, codes.count % codebooks == 0 else {
            throw MetricsError.invalidCodes("\(codes.count) codes do not form [\(codebooks), T] with T ≥ 1")
        }
        guard codebookSize >= 2 else {
            throw MetricsError.invalidCodes("codebook size \(codebookSize): need at least 2 codes (log₂ N > 0)")
        }
        let frames = codes.count / codebooks
        var counts = [Int](repeating: 0, count: codebooks * codebookSize)
        for k in 0..<codebooks {
            for t in 0..<frames {
                let code = codes[k * frames + t]
                guard code >= 0, code < codebookSize else {
                    throw MetricsError.invalidCodes("code \(code) at codebook \(k), frame \(t) is outside [0, \(codebookSize))")
                }
                counts[k * codebookSize + Int(code)] += 1
            }
        }
        var entropies = [Double]()
        for k in 0..<codebooks {
            var h = 0.0
            for i in 0..<codebookSize where counts[k * codebookSize + i] > 0 {
                let p = Double(counts[k * codebookSize + i]) / Double(frames)
                h -= p * log2(p)
            }
            entropies.append(h)
        }
        codebookCount = codebooks; frameCount = frames; self.codebookSize = codebookSize
        self.counts = counts; self.entropies = entropies
    }

    /// Σ_k H_k: bits per frame the codes actually carry (nominal: K·log₂ N).
    public var entropyBitsPerFrame: Double { entropies.reduce(0, +) }

    /// Σ_k H_k / (K·log₂ N), in [0, 1].
    public var effectiveBits: Double {
        entropyBitsPerFrame / (Double(codebookCount) * log2(Double(codebookSize)))
    }

    /// Per codebook, how many of its N codes never occur.
    public var deadCodes: [Int] {
        (0..<codebookCount).map { k in counts[k * codebookSize..<(k + 1) * codebookSize].filter { $0 == 0 }.count }
    }
}
