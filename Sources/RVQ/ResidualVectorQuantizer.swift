// ResidualVectorQuantizer: a stack of codebooks; greedy encoding on the residual and decoding of any stage
// prefix. Mirrors encodec/quantization/core_vq.py: ResidualVectorQuantization.encode/decode.
// Legend: K stages, T vectors, D dimension, N codebook size.
import NN

/// Codes of T vectors over K stages, row-major `[K, T]` (EnCodec's layout for one item: `codes[k, t]`).
public struct Codes: Equatable, Sendable {
    /// K, the number of stages.
    public let stages: Int
    /// T, the number of vectors.
    public let count: Int
    /// Row-major `[K, T]`: `values[k * count + t]` is the code of vector `t` at stage `k`.
    public var values: [Int32]

    public init(stages: Int, count: Int, values: [Int32]) {
        precondition(stages >= 0 && count >= 0 && values.count == stages * count, "values must hold stages*count codes")
        self.stages = stages
        self.count = count
        self.values = values
    }

    /// All-zero codes `[K, T]`.
    public init(stages: Int, count: Int) {
        self.init(stages: stages, count: count, values: [Int32](repeating: 0, count: stages * count))
    }

    public subscript(stage k: Int, position t: Int) -> Int32 {
        get { values[k * count + t] }
        set { values[k * count + t] = newValue }
    }

    /// The codes of stage `k` (length T).
    public func stage(_ k: Int) -> ArraySlice<Int32> { values[k * count ..< (k + 1) * count] }

    /// The first `n` stages.
    public func prefix(stages n: Int) -> Codes {
        precondition(n >= 0 && n <= stages, "prefix of \(n) stages out of \(stages)")
        return Codes(stages: n, count: count, values: Array(values[0 ..< n * count]))
    }
}

/// Residual vector quantizer: stage k quantizes what stages 0..<k left, `x ≈ Σ_k e_k[c_k]`.
public struct ResidualVectorQuantizer: Sendable {
    /// One codebook per stage, all of the same dimension (sizes may differ).
    public let codebooks: [Codebook]

    /// D, the vector dimension.
    public var dimension: Int { codebooks[0].dimension }
    /// K, the number of stages.
    public var stageCount: Int { codebooks.count }

    /// Throws when the list is empty, the dimensions differ, or a code vector is NaN or infinite.
    public init(codebooks: [Codebook]) throws {
        guard let first = codebooks.first else { throw RVQError.empty(what: "codebooks") }
        for (k, book) in codebooks.enumerated() {
            guard book.dimension == first.dimension else {
                throw RVQError.dimensionMismatch(what: "codebook \(k)", expected: first.dimension, got: book.dimension)
            }
            try book.vectors.withUnsafeBufferPointer {
                try checkFinite($0, dimension: book.dimension, what: "codebook \(k)")
            }
        }
        self.codebooks = codebooks
    }

    /// Greedy residual encoding of `vectors` (row-major `[T, D]`) with the first `stages` codebooks
    /// (all when nil): `r_0 = x`, `c_k = argmin_n score(r_k, n)` (Codebook's EnCodec score, ties to the lowest
    /// index), `r_{k+1} = r_k − e_k[c_k]` elementwise in Float. Returns codes `[K, T]`. These are EnCodec's
    /// codes for a contiguous `[T, D]` input (e.g. a batch of several items); for one item of codec latents
    /// use `encode(channelMajor:)`.
    /// Throws on a length that is not a multiple of D, too many stages, or a non-finite value.
    public func encode(_ vectors: [Float], stages: Int? = nil) throws -> Codes {
        let k = try checkedStages(stages)
        let t = try rowCount(vectors.count, dimension: dimension, what: "vectors")
        try vectors.withUnsafeBufferPointer { try checkFinite($0, dimension: dimension, what: "vectors") }
        var residual = vectors
        var codes = Codes(stages: k, count: t)
        residual.withUnsafeMutableBufferPointer { r in
            codes.values.withUnsafeMutableBufferPointer { c in
                for stage in 0..<k {
                    let stageCodes = UnsafeMutableBufferPointer(rebasing: c[stage * t ..< (stage + 1) * t])
                    codebooks[stage].nearest(UnsafeBufferPointer(r), codes: stageCodes)
                    subtractCodeVectors(from: r, codes: UnsafeBufferPointer(stageCodes), codebook: codebooks[stage])
                }
            }
        }
        return codes
    }

    /// Greedy encoding of one item of codec latents laid out channel-major, `[D, T]` (the encoder's
    /// `[1, D, T]` output), exactly as encodec's `ResidualVectorQuantization.encode` on that tensor: the same
    /// steps as `encode(_:stages:)` on the transposed rows, with ‖r_t‖² summed in torch's order for that
    /// layout (`TorchSumOrder.column`), which decides near-ties differently from a contiguous `[T, D]` input.
    public func encode(channelMajor latents: [Float], stages: Int? = nil) throws -> Codes {
        let k = try checkedStages(stages)
        let D = dimension
        let t = try rowCount(latents.count, dimension: D, what: "latents")
        try latents.withUnsafeBufferPointer { l in
            for d in 0..<D {
                for i in 0..<t where !l[d * t + i].isFinite {
                    throw RVQError.nonFiniteValue(what: "latents", row: d, column: i, value: l[d * t + i])
                }
            }
        }
        var residual = [Float](repeating: 0, count: t * D) // [T, D]
        for d in 0..<D { for i in 0..<t { residual[i * D + d] = latents[d * t + i] } }
        var norms = [Float](repeating: 0, count: t)
        var codes = Codes(stages: k, count: t)
        residual.withUnsafeMutableBufferPointer { r in
        norms.withUnsafeMutableBufferPointer { n in
        codes.values.withUnsafeMutableBufferPointer { c in
            for stage in 0..<k {
                parallelFor(t, minChunk: 256) { range in
                    for i in range {
                        n[i] = torchOrderSquaredNorm(UnsafeBufferPointer(rebasing: r[i * D ..< (i + 1) * D]),
                                                     order: .column(row: i, rows: t))
                    }
                }
                let stageCodes = UnsafeMutableBufferPointer(rebasing: c[stage * t ..< (stage + 1) * t])
                codebooks[stage].nearest(UnsafeBufferPointer(r), codes: stageCodes, squaredNorms: UnsafeBufferPointer(n))
                subtractCodeVectors(from: r, codes: UnsafeBufferPointer(stageCodes), codebook: codebooks[stage])
            }
        }
        }
        }
        return codes
    }

    /// Decodes to the channel-major layout `[D, T]` (the decoder's input for one item); the values of
    /// `decode` transposed.
    public func decodeChannelMajor(_ codes: Codes, stages: Int? = nil) throws -> [Float] {
        let rows = try decode(codes, stages: stages)
        let t = codes.count, D = dimension
        var out = [Float](repeating: 0, count: t * D)
        for i in 0..<t { for d in 0..<D { out[d * t + i] = rows[i * D + d] } }
        return out
    }

    /// Scalar reference of `encode`: one vector at a time with `Codebook.nearestScalar`, no threads.
    public func encodeReference(_ vectors: [Float], stages: Int? = nil) throws -> Codes {
        let k = try checkedStages(stages)
        let t = try rowCount(vectors.count, dimension: dimension, what: "vectors")
        let D = dimension
        var codes = Codes(stages: k, count: t)
        var r = [Float](repeating: 0, count: D)
        for i in 0..<t {
            for d in 0..<D { r[d] = vectors[i * D + d] }
            for stage in 0..<k {
                let n = r.withUnsafeBufferPointer { codebooks[stage].nearestScalar($0) }
                codes[stage: stage, position: i] = Int32(n)
                for d in 0..<D { r[d] -= codebooks[stage].vectors[n * D + d] }
            }
        }
        return codes
    }

    /// Decodes the first `stages` stages of `codes` (all when nil) to `[T, D]`:
    /// `out = 0; out = out + e_k[c_k]` for k in stage order, in Float (EnCodec's `quantized_out + quantized`).
    /// Throws on too many stages or a code outside its codebook.
    public func decode(_ codes: Codes, stages: Int? = nil) throws -> [Float] {
        let k = stages ?? codes.stages
        guard k <= codes.stages else { throw RVQError.tooManyStages(requested: k, available: codes.stages) }
        _ = try checkedStages(k)
        try validate(codes, stages: k)
        let t = codes.count, D = dimension
        var out = [Float](repeating: 0, count: t * D)
        out.withUnsafeMutableBufferPointer { o in
            codes.values.withUnsafeBufferPointer { c in
                parallelFor(t, minChunk: 64) { range in
                    for stage in 0..<k {
                        codebooks[stage].vectors.withUnsafeBufferPointer { e in
                            for i in range {
                                let eRow = e.baseAddress! + Int(c[stage * t + i]) * D // e_k[c_k, :]
                                let oRow = o.baseAddress! + i * D                      // out[i, :]
                                for d in 0..<D { oRow[d] = oRow[d] + eRow[d] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Throws `.codeOutOfRange` for the first code of the first `stages` stages outside its codebook.
    public func validate(_ codes: Codes, stages: Int? = nil) throws {
        let k = stages ?? codes.stages
        for stage in 0..<k {
            let size = codebooks[stage].size
            for t in 0..<codes.count {
                let c = codes[stage: stage, position: t]
                if c < 0 || Int(c) >= size {
                    throw RVQError.codeOutOfRange(stage: stage, position: t, code: c, codebookSize: size)
                }
            }
        }
    }

    func checkedStages(_ stages: Int?) throws -> Int {
        let k = stages ?? stageCount
        guard k >= 0 else { throw RVQError.invalidParameter(name: "stages", value: "\(k)", reason: "must be ≥ 0") }
        guard k <= stageCount else { throw RVQError.tooManyStages(requested: k, available: stageCount) }
        return k
    }
}

/// `r[t, :] −= e[codes[t], :]` for every row (Float, elementwise), split over threads by rows.
func subtractCodeVectors(from r: UnsafeMutableBufferPointer<Float>, codes: UnsafeBufferPointer<Int32>,
                         codebook: Codebook) {
    let D = codebook.dimension
    codebook.vectors.withUnsafeBufferPointer { e in
        parallelFor(codes.count, minChunk: 256) { range in
            for t in range {
                let eRow = e.baseAddress! + Int(codes[t]) * D // e[c_t, :]
                let rRow = r.baseAddress! + t * D             // r[t, :]
                for d in 0..<D { rRow[d] -= eRow[d] }
            }
        }
    }
}
