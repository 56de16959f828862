// Codebook: one RVQ stage's code vectors and the nearest-code search (‖e‖² − 2x·e).
// Legend: N codebook size, D code dimension, T frames.

/// One quantizer stage: `size` code vectors of dimension `dimension`, row-major `[N, D]`.
public struct Codebook: Sendable {
    public let size: Int
    public let dimension: Int
    /// Code vectors, row-major `[N, D]`.
    public let vectors: [Float]
    /// ‖e_n‖² for each code, cached for the search.
    public let squaredNorms: [Float]

    public init(size: Int, dimension: Int, vectors: [Float]) {
        precondition(size > 0 && dimension > 0, "Codebook needs size and dimension > 0")
        precondition(vectors.count == size * dimension, "Codebook vectors must hold size*dimension values")
        self.size = size
        self.dimension = dimension
        self.vectors = vectors
        var norms = [Float](repeating: 0, count: size)
        for n in 0..<size {
            var s: Float = 0
            for d in 0..<dimension { let v = vectors[n * dimension + d]; s += v * v }
            norms[n] = s
        }
        self.squaredNorms = norms
    }

    /// Index of the code nearest to `x` (length D): argmin_n ‖e_n‖² − 2 x·e_n; ties go to the lowest index.
    public func nearestScalar(_ x: UnsafeBufferPointer<Float>) -> Int {
        precondition(x.count == dimension)
        var best = 0
        var bestScore = Float.infinity
        for n in 0..<size {
            var dot: Float = 0
            for d in 0..<dimension { dot += x[d] * vectors[n * dimension + d] }
            let score = squaredNorms[n] - 2 * dot
            if score < bestScore { bestScore = score; best = n }
        }
        return best
    }
}
