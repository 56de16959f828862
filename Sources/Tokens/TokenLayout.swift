// Layouts of codec tokens for sequence models, and their inverses. Mirrors audiocraft
// modules/codebooks_patterns.py (DelayedPatternProvider, ParallelPatternProvider, CoarseFirstPattern and
// Pattern.build_pattern_sequence / revert_pattern_sequence with keep_only_valid_steps=False), and Bark's
// `_flatten_codebooks` (frame-major interleave with vocabulary offsets q·N, as AudioLM's coarse stage).
// Letters: K codebooks, T frames, S sequence steps, N codebook size (bins).

/// A row-major integer array of rank 1 or 2: codes `[K, T]` or a laid-out sequence (`[K, S]` or `[S]`).
public struct TokenArray: Equatable, Sendable {
    public var shape: [Int]
    /// Row-major values, `values.count == shape.reduce(1, *)`.
    public var values: [Int32]

    public init(shape: [Int], values: [Int32]) {
        precondition(shape.allSatisfy { $0 >= 0 } && values.count == shape.reduce(1, *),
                     "TokenArray: \(values.count) values for shape \(shape)")
        self.shape = shape; self.values = values
    }

    /// Codes `[codebooks, frames]`.
    public init(codebooks: Int, frames: Int, values: [Int32]) {
        self.init(shape: [codebooks, frames], values: values)
    }

    /// Rows of a rank-2 array (K for codes).
    public var rows: Int { shape.count == 2 ? shape[0] : 1 }
    /// Columns of a rank-2 array (T for codes), or the length of a rank-1 array.
    public var columns: Int { shape.last ?? 0 }

    /// Element `[r, c]` of a rank-2 array.
    @inlinable public subscript(r: Int, c: Int) -> Int32 { values[r * shape[1] + c] }
}

/// How the `[K, T]` codes of a clip become the sequence a language model reads.
public enum TokenPattern: String, CaseIterable, Sendable {
    /// All codebooks of a frame at the same step: `[K, T + 1]`, step 0 all special
    /// (audiocraft `ParallelPatternProvider`).
    case parallel
    /// MusicGen's delay: codebook q shifted right by q steps: `[K, T + K]`, step 0 all special,
    /// `out[q, s] = codes[q, s − 1 − q]` where `0 ≤ s − 1 − q < T`, else special
    /// (audiocraft `DelayedPatternProvider`, default delays `0, 1, …, K−1`).
    case delay
    /// Frame-major interleave with vocabulary offsets: `[T · K]`, `out[t·K + q] = codes[q, t] + q·N`
    /// (Bark `_flatten_codebooks`, AudioLM's coarse/fine stages). No special token.
    case flatten
    /// VALL-E's order: codebook 0 for every frame, then the other codebooks together: `[K, 1 + 2T]`,
    /// step 0 all special, `out[0, 1 + t] = codes[0, t]`, `out[q ≥ 1, 1 + T + t] = codes[q, t]`, else special
    /// (audiocraft `CoarseFirstPattern`, delays 0). Needs K ≥ 2.
    case coarseFirst = "coarse-first"
}

/// A pattern bound to a codebook size: lays codes out and reverts sequences, checking every value.
///
/// The special token (padding for steps a codebook has no code at, and the leading start step) is N, the
/// codebook size, as MusicGen's `special_token_id = card`. Values are Int32: flatten's offsets reach K·N.
public struct TokenLayout: Equatable, Sendable {
    public let pattern: TokenPattern
    /// Codebook size N (codes are in `0..<N`).
    public let bins: Int

    public init(pattern: TokenPattern, bins: Int) {
        precondition(bins >= 1, "TokenLayout: bins must be positive")
        self.pattern = pattern; self.bins = bins
    }

    /// The token filling steps without a code: N.
    public var specialToken: Int32 { Int32(bins) }

    /// Shape of the sequence for `codebooks` K and `frames` T.
    public func sequenceShape(codebooks k: Int, frames t: Int) -> [Int] {
        switch pattern {
        case .parallel: return [k, t + 1]
        case .delay: return [k, t + k]
        case .flatten: return [t * k]
        case .coarseFirst: return [k, 1 + 2 * t]
        }
    }

    /// Frames T of a sequence of shape `shape` (`codebooks` is needed for flatten only); nil if no T fits.
    public func frames(sequenceShape shape: [Int], codebooks: Int?) -> Int? {
        switch (pattern, shape.count) {
        case (.flatten, 1):
            guard let k = codebooks, k >= 1, shape[0] % k == 0 else { return nil }
            return shape[0] / k
        case (.parallel, 2): return shape[1] >= 1 ? shape[1] - 1 : nil
        case (.delay, 2): return shape[1] >= shape[0] ? shape[1] - shape[0] : nil
        case (.coarseFirst, 2): return shape[1] >= 1 && (shape[1] - 1) % 2 == 0 ? (shape[1] - 1) / 2 : nil
        default: return nil
        }
    }

    /// Where code `[q, t]` sits in the sequence (flat row-major index), for K codebooks and T frames.
    @inline(__always)
    func position(q: Int, t: Int, codebooks k: Int, frames n: Int) -> Int {
        switch pattern {
        case .parallel: return q * (n + 1) + 1 + t
        case .delay: return q * (n + k) + 1 + q + t
        case .flatten: return t * k + q
        case .coarseFirst: return q * (1 + 2 * n) + (q == 0 ? 1 + t : 1 + n + t)
        }
    }

    /// Vocabulary offset of codebook q in the sequence (q·N for flatten, else 0).
    @inline(__always)
    func offset(q: Int) -> Int32 { pattern == .flatten ? Int32(q * bins) : 0 }

    /// Lays out codes `[K, T]` (each in `0..<N`). `path` names the source in errors.
    public func layout(_ codes: TokenArray, path: String = "codes") throws -> TokenArray {
        guard codes.shape.count == 2 else {
            throw TokensError.invalidTokens(path: path, reason: "expected codes [K, T], found shape \(codes.shape)")
        }
        let k = codes.shape[0], n = codes.shape[1]
        guard k >= 1 else { throw TokensError.invalidTokens(path: path, reason: "no codebooks (shape \(codes.shape))") }
        if pattern == .coarseFirst && k < 2 {
            throw TokensError.invalidTokens(path: path, reason: "coarse-first needs at least 2 codebooks, found \(k)")
        }
        if let i = codes.values.firstIndex(where: { $0 < 0 || Int($0) >= bins }) {
            throw TokensError.invalidTokens(path: path,
                reason: "code \(codes.values[i]) at [\(i / max(n, 1)), \(i % max(n, 1))] is outside 0..<\(bins)")
        }
        let shape = sequenceShape(codebooks: k, frames: n)
        var out = [Int32](repeating: specialToken, count: shape.reduce(1, *))
        for q in 0..<k {
            let row = q * n, off = offset(q: q)
            for t in 0..<n { out[position(q: q, t: t, codebooks: k, frames: n)] = codes.values[row + t] + off }
        }
        return TokenArray(shape: shape, values: out)
    }

    /// Reverts a sequence to codes `[K, T]`. `codebooks` (K) is needed for flatten (a rank-1 sequence) and,
    /// when given, is checked for the others. Every code position must hold a value of its codebook's range
    /// and every other position the special token; anything else is reported with its position.
    public func unlayout(_ sequence: TokenArray, codebooks: Int? = nil, path: String = "sequence") throws -> TokenArray {
        let expectedRank = pattern == .flatten ? 1 : 2
        guard sequence.shape.count == expectedRank else {
            throw TokensError.invalidSequence(path: path,
                reason: "\(pattern.rawValue) sequences have rank \(expectedRank) (\(pattern == .flatten ? "[T·K]" : "[K, S]")), found shape \(sequence.shape)")
        }
        if pattern == .flatten && codebooks == nil {
            throw TokensError.invalidSequence(path: path, reason: "flatten sequences need the number of codebooks")
        }
        let k = pattern == .flatten ? codebooks! : sequence.shape[0]
        if let codebooks, codebooks != k {
            throw TokensError.invalidSequence(path: path, reason: "\(k) codebooks, expected \(codebooks)")
        }
        guard k >= (pattern == .coarseFirst ? 2 : 1) else {
            throw TokensError.invalidSequence(path: path, reason: "\(k) codebooks is too few for \(pattern.rawValue)")
        }
        guard let n = frames(sequenceShape: sequence.shape, codebooks: k) else {
            throw TokensError.invalidSequence(path: path,
                reason: "shape \(sequence.shape) fits no frame count for \(pattern.rawValue) with \(k) codebooks (expected \(sequenceShape(codebooks: k, frames: 0)) plus frames)")
        }
        var isCode = [Bool](repeating: false, count: sequence.values.count)
        var codes = [Int32](repeating: 0, count: k * n)
        for q in 0..<k {
            let off = offset(q: q)
            for t in 0..<n {
                let p = position(q: q, t: t, codebooks: k, frames: n)
                let v = sequence.values[p] - off
                guard v >= 0 && Int(v) < bins else {
                    throw TokensError.invalidSequence(path: path,
                        reason: "value \(sequence.values[p]) at \(describe(p, sequence.shape)) should be codebook \(q)'s code for frame \(t) (in \(off)..<\(Int(off) + bins))")
                }
                codes[q * n + t] = v
                isCode[p] = true
            }
        }
        for p in 0..<sequence.values.count where !isCode[p] && sequence.values[p] != specialToken {
            throw TokensError.invalidSequence(path: path,
                reason: "value \(sequence.values[p]) at \(describe(p, sequence.shape)) should be the special token \(specialToken)")
        }
        return TokenArray(codebooks: k, frames: n, values: codes)
    }

    private func describe(_ p: Int, _ shape: [Int]) -> String {
        shape.count == 2 ? "[\(p / max(shape[1], 1)), \(p % max(shape[1], 1))]" : "[\(p)]"
    }
}

extension TokenPattern {
    /// Parses a pattern name (`parallel`, `delay`, `flatten`, `coarse-first`).
    public init(parsing name: String) throws {
        guard let p = TokenPattern(rawValue: name.lowercased()) else {
            throw TokensError.invalidArgument("unknown pattern '\(name)' (known: \(TokenPattern.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = p
    }
}
