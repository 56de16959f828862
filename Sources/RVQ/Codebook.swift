// Codebook: one RVQ stage's code vectors, their squared norms, a panel-packed copy for the blocked
// search, and the scalar reference of the nearest-code score. Mirrors encodec/quantization/core_vq.py.
// Legend: N codebook size, D code dimension, T vectors (frames).

/// One quantizer stage: `size` code vectors of dimension `dimension`, row-major `[N, D]`.
///
/// The nearest code to `x` is the argmax of EnCodec's `-(‖x‖² − 2 x·e_n + ‖e_n‖²)`, i.e. the argmin of
/// `score(x, n) = (‖x‖² − 2 x·e_n) + ‖e_n‖²` evaluated in that order in Float, ties to the lowest index
/// (`torch.max` returns the first maximum). The dot product is a fused multiply-add chain over `d = 0..<D`
/// (what MKL's sgemm computes for EnCodec's D = 128) and the squared norms are summed in the order of
/// torch's CPU sum kernel (`torchOrderSquaredNorm`), so scores are bitwise those of EnCodec.
public struct Codebook: Sendable {
    public let size: Int
    public let dimension: Int
    /// Code vectors, row-major `[N, D]`.
    public let vectors: [Float]
    /// ‖e_n‖² for each code (torch summation order), `[N]`.
    public let squaredNorms: [Float]
    /// Panel-packed copy for the blocked search: `ceil(N/16)` panels, each `[D][16]` (code `16p + l` at
    /// lane `l`), padding codes are zero vectors.
    let panels: [Float]
    /// `squaredNorms` padded to `16·ceil(N/16)` with +∞, so padding codes never win.
    let paddedNorms: [Float]

    /// Codes per panel of the blocked search (two AVX2 registers of 8 floats).
    static let panelWidth = 16

    public init(size: Int, dimension: Int, vectors: [Float]) {
        precondition(size > 0 && dimension > 0, "Codebook needs size and dimension > 0")
        precondition(vectors.count == size * dimension, "Codebook vectors must hold size*dimension values")
        self.size = size
        self.dimension = dimension
        self.vectors = vectors
        let w = Codebook.panelWidth
        let panelCount = (size + w - 1) / w
        var norms = [Float](repeating: 0, count: size)
        var padded = [Float](repeating: .infinity, count: panelCount * w)
        var packed = [Float](repeating: 0, count: panelCount * w * dimension)
        vectors.withUnsafeBufferPointer { e in
            for n in 0..<size {
                let eRow = e.baseAddress! + n * dimension // e[n, :]
                norms[n] = torchOrderSquaredNorm(UnsafeBufferPointer(start: eRow, count: dimension))
                padded[n] = norms[n]
                let panelBase = (n / w) * w * dimension, lane = n % w
                for d in 0..<dimension { packed[panelBase + d * w + lane] = eRow[d] }
            }
        }
        self.squaredNorms = norms
        self.paddedNorms = padded
        self.panels = packed
    }

    /// Code vector `n` (a slice of `vectors`, length D).
    public func vector(_ n: Int) -> ArraySlice<Float> {
        precondition(n >= 0 && n < size, "code \(n) outside 0..<\(size)")
        return vectors[n * dimension ..< (n + 1) * dimension]
    }

    /// Scalar reference of the search score: `(‖x‖² − 2 x·e_n) + ‖e_n‖²` with `‖x‖²` given (`xNorm`),
    /// the dot product as a fused multiply-add chain over `d = 0..<D`. Same bits as the blocked kernel.
    public func scoreScalar(_ x: UnsafeBufferPointer<Float>, squaredNorm xNorm: Float, code n: Int) -> Float {
        precondition(x.count == dimension, "x has \(x.count) values, codebook dimension is \(dimension)")
        var dot: Float = 0
        let base = n * dimension
        for d in 0..<dimension { dot = dot.addingProduct(x[d], vectors[base + d]) }
        return (xNorm - 2 * dot) + squaredNorms[n]
    }

    /// Scalar reference of the nearest code: argmin over n of `scoreScalar`; ties go to the lowest index.
    /// All-NaN or all-+∞ scores give code 0.
    public func nearestScalar(_ x: UnsafeBufferPointer<Float>) -> Int {
        precondition(x.count == dimension, "x has \(x.count) values, codebook dimension is \(dimension)")
        let xNorm = torchOrderSquaredNorm(x)
        var best = 0
        var bestScore = Float.infinity
        for n in 0..<size {
            let score = scoreScalar(x, squaredNorm: xNorm, code: n)
            if score < bestScore { bestScore = score; best = n }
        }
        return best
    }
}

/// The memory layout of the tensor whose rows torch sums: the order of torch's CPU `sum` (ATen
/// `SumKernel.cpp`), hence the rounding of `x.pow(2).sum(-1)`, depends on it.
public enum TorchSumOrder: Sendable, Equatable {
    /// A contiguous row (an inner reduction): EnCodec's input as a contiguous `[T, D]` matrix (what torch
    /// makes of a batch of more than one item).
    case contiguous
    /// Row `row` of the `rows` rows that are the columns of a contiguous `[D, T]` tensor (an outer
    /// reduction): EnCodec's input for one item, the `[T, D]` view of the encoder's `[1, D, T]` output.
    case column(row: Int, rows: Int)
}

/// Σ x[d]², each square rounded to Float, summed in the order of torch's CPU `sum` (AVX2 build) for a row of
/// the given layout: EnCodec's `x.pow(2).sum(1)`. Checked against torch by the RVQ fixtures.
///
/// `.contiguous`, D ≥ 8 (vectorized inner sum): the row is read as ⌊D/8⌋ vectors of 8 lanes; vectors
/// `4i + k` accumulate into partial `k` through torch's cascade (4 levels of 2^max(4, ⌈log2 ⌊D/32⌋⌉/4) steps);
/// leftover vectors go into partial 0; then `((p0 + p1) + p2) + p3`; the result starts at 0, adds the D mod 8
/// tail elements, then the 8 lanes in order. D < 8: the interleaved order below.
/// `.column(t, T)`: rows `t < G·⌊T/G⌋` (G = 32 when T ≥ 8, else 4) are a running sum over d with the cascade
/// (level step 2^max(4, ⌈log2 D⌉/4)); the other rows use the interleaved order: four partial sums over
/// `d ≡ k (mod 4)` (with the cascade over ⌊D/4⌋ steps), the D mod 4 tail into the first, then
/// `((p0 + p1) + p2) + p3`.
public func torchOrderSquaredNorm(_ x: UnsafeBufferPointer<Float>, order: TorchSumOrder = .contiguous) -> Float {
    let count = x.count
    guard let base = x.baseAddress, count > 0 else { return 0 }
    @inline(__always) func square(_ d: Int) -> Float { base[d] * base[d] }
    switch order {
    case let .column(row, rows):
        precondition(row >= 0 && row < rows, "row \(row) outside 0..<\(rows)")
        let group = rows >= 8 ? 32 : 4
        if row < rows / group * group {
            return scalarCascadeSum4(rows: count, columns: 1) { i, _ in square(i) }.0
        }
        return interleavedSquaredNorm(base, count)
    case .contiguous:
        if count < 8 { return interleavedSquaredNorm(base, count) }
    }
    let vectorCount = count / 8
    @inline(__always) func squares(_ v: Int) -> SIMD8<Float> {
        let s = UnsafeRawPointer(base + 8 * v).loadUnaligned(as: SIMD8<Float>.self)
        return s * s
    }
    var p = cascadeSum4(rows: vectorCount / 4) { i, k in squares(4 * i + k) }
    for v in (vectorCount / 4 * 4)..<vectorCount { p.0 += squares(v) }
    let lanes = ((p.0 + p.1) + p.2) + p.3
    var result: Float = 0
    for j in (vectorCount * 8)..<count { result += square(j) }
    for l in 0..<8 { result += lanes[l] }
    return result
}

/// torch's scalar `row_sum`: partial k sums the squares at `d ≡ k (mod 4)` with the cascade over ⌊D/4⌋
/// steps, the D mod 4 tail goes into partial 0, then `((p0 + p1) + p2) + p3`.
private func interleavedSquaredNorm(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    let rows = count / 4
    var p = scalarCascadeSum4(rows: rows, columns: 4) { i, k in x[4 * i + k] * x[4 * i + k] }
    for d in (rows * 4)..<count { p.0 += x[d] * x[d] }
    return ((p.0 + p.1) + p.2) + p.3
}

/// Scalar torch `multi_row_sum` over `rows` steps for `columns` (1 or 4) columns: the cascade below with
/// Float accumulators. Unused columns stay 0.
@inline(__always)
private func scalarCascadeSum4(rows: Int, columns: Int, _ load: (Int, Int) -> Float) -> (Float, Float, Float, Float) {
    let levels = 4
    let ceilLog2 = rows <= 2 ? 1 : (Int.bitWidth - (rows - 1).leadingZeroBitCount)
    let levelPower = max(4, ceilLog2 / levels)
    let levelStep = 1 << levelPower
    let levelMask = levelStep - 1
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: levels * 4) { acc in
        acc.initialize(repeating: 0) // acc[level * 4 + column]
        var i = 0
        while i + levelStep <= rows {
            for _ in 0..<levelStep {
                for k in 0..<columns { acc[k] += load(i, k) }
                i += 1
            }
            for j in 1..<levels {
                for k in 0..<columns { acc[j * 4 + k] += acc[(j - 1) * 4 + k]; acc[(j - 1) * 4 + k] = 0 }
                if i & (levelMask << (j * levelPower)) != 0 { break }
            }
        }
        while i < rows {
            for k in 0..<columns { acc[k] += load(i, k) }
            i += 1
        }
        for j in 1..<levels { for k in 0..<columns { acc[k] += acc[j * 4 + k] } }
        return (acc[0], acc[1], acc[2], acc[3])
    }
}

/// torch's `multi_row_sum` with 4 columns: sums `load(i, k)` over rows `i` for each column `k` with a
/// 4-level cascade (level step 2^max(4, ⌈log2 rows⌉/4)), so only partial sums of similar size are added.
@inline(__always)
private func cascadeSum4(rows: Int, _ load: (Int, Int) -> SIMD8<Float>)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let levels = 4
    let ceilLog2 = rows <= 2 ? 1 : (Int.bitWidth - (rows - 1).leadingZeroBitCount)
    let levelPower = max(4, ceilLog2 / levels)
    let levelStep = 1 << levelPower
    if rows < levelStep {
        // One partial level only (every D < 512): a running sum per column.
        var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
        for i in 0..<rows { a0 += load(i, 0); a1 += load(i, 1); a2 += load(i, 2); a3 += load(i, 3) }
        return (a0, a1, a2, a3)
    }
    let levelMask = levelStep - 1
    return withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: levels * 4) { acc in
        acc.initialize(repeating: .zero) // acc[level * 4 + column]
        var i = 0
        while i + levelStep <= rows {
            for _ in 0..<levelStep {
                for k in 0..<4 { acc[k] += load(i, k) }
                i += 1
            }
            for j in 1..<levels {
                for k in 0..<4 { acc[j * 4 + k] += acc[(j - 1) * 4 + k]; acc[(j - 1) * 4 + k] = .zero }
                if i & (levelMask << (j * levelPower)) != 0 { break }
            }
        }
        while i < rows {
            for k in 0..<4 { acc[k] += load(i, k) }
            i += 1
        }
        for j in 1..<levels { for k in 0..<4 { acc[k] += acc[j * 4 + k] } }
        return (acc[0], acc[1], acc[2], acc[3])
    }
}
