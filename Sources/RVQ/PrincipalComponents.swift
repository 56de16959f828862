// PrincipalComponents: mean and principal directions of a set of vectors (covariance in Double, cyclic
// Jacobi eigendecomposition), for k-means in progressively more dimensions. Legend: N vectors, D dimension.
import NN

/// The principal components of N vectors of dimension D: `y = P (x − μ)` with P orthonormal, its rows the
/// eigenvectors of the covariance `C = (1/N) Σ (x − μ)(x − μ)ᵀ` by decreasing eigenvalue (variance).
public struct PrincipalComponents: Sendable {
    public let dimension: Int
    /// μ, `[D]`.
    public let mean: [Float]
    /// P, row-major `[D, D]`: row j is the j-th principal direction (unit length).
    public let components: [Float]
    /// The variance along each direction (eigenvalues of C, decreasing), `[D]`.
    public let variances: [Double]

    /// Fits the components of `vectors` (row-major `[N, D]`). Throws on an empty or non-`[N, D]` buffer or a
    /// non-finite value. The covariance is summed in Double over fixed blocks of rows, so the result does
    /// not depend on the thread count.
    public init(fitting vectors: UnsafeBufferPointer<Float>, dimension D: Int) throws {
        guard D > 0 else { throw RVQError.invalidParameter(name: "dimension", value: "\(D)", reason: "must be ≥ 1") }
        let n = try rowCount(vectors.count, dimension: D, what: "PCA data")
        guard n > 0 else { throw RVQError.empty(what: "PCA data") }
        try checkFinite(vectors, dimension: D, what: "PCA data")
        let x = vectors.baseAddress!
        let block = 4096
        let blocks = (n + block - 1) / block

        // Mean: per-block sums, then in block order.
        var blockSums = [Double](repeating: 0, count: blocks * D)
        blockSums.withUnsafeMutableBufferPointer { sums in
            parallelFor(blocks) { range in
                for b in range {
                    let s = sums.baseAddress! + b * D
                    for i in (b * block)..<min(n, (b + 1) * block) {
                        for d in 0..<D { s[d] += Double(x[i * D + d]) }
                    }
                }
            }
        }
        var meanD = [Double](repeating: 0, count: D)
        for b in 0..<blocks { for d in 0..<D { meanD[d] += blockSums[b * D + d] } }
        for d in 0..<D { meanD[d] /= Double(n) }

        // Covariance: per-block Σ v vᵀ (v = x − μ in Double), then in block order.
        var partial = [Double](repeating: 0, count: blocks * D * D)
        partial.withUnsafeMutableBufferPointer { part in
            meanD.withUnsafeBufferPointer { mu in
                parallelFor(blocks) { range in
                    var v = [Double](repeating: 0, count: D)
                    for b in range {
                        let c = part.baseAddress! + b * D * D
                        for i in (b * block)..<min(n, (b + 1) * block) {
                            for d in 0..<D { v[d] = Double(x[i * D + d]) - mu[d] }
                            for j in 0..<D {
                                let vj = v[j]
                                let row = c + j * D // C_b[j, :]
                                for k in j..<D { row[k] += vj * v[k] }
                            }
                        }
                    }
                }
            }
        }
        var covariance = [Double](repeating: 0, count: D * D)
        for b in 0..<blocks { for e in 0..<(D * D) { covariance[e] += partial[b * D * D + e] } }
        for j in 0..<D {
            for k in j..<D {
                covariance[j * D + k] /= Double(n)
                covariance[k * D + j] = covariance[j * D + k]
            }
        }

        let (values, vectors) = symmetricEigen(covariance, D)
        let order = (0..<D).sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
        var p = [Float](repeating: 0, count: D * D)
        for (row, j) in order.enumerated() {
            // Sign convention: the largest-magnitude entry of each direction is positive.
            var largest = 0
            for d in 0..<D where abs(vectors[d * D + j]) > abs(vectors[largest * D + j]) { largest = d }
            let sign: Double = vectors[largest * D + j] < 0 ? -1 : 1
            for d in 0..<D { p[row * D + d] = Float(sign * vectors[d * D + j]) }
        }
        self.dimension = D
        self.mean = meanD.map { Float($0) }
        self.components = p
        self.variances = order.map { max(0, values[$0]) }
    }

    /// `y = P (x − μ)` for each row of `vectors` (`[N, D]`), keeping the first `dimensions` coordinates:
    /// `[N, dimensions]`. Float, fma over d in order.
    public func project(_ vectors: UnsafeBufferPointer<Float>, dimensions: Int? = nil) -> [Float] {
        let D = dimension, m = dimensions ?? dimension
        precondition(m >= 1 && m <= D, "dimensions must be in 1...\(D)")
        let n = vectors.count / D
        precondition(vectors.count == n * D, "vectors must hold rows of dimension \(D)")
        // Pᵀ restricted to the first m directions, [D][m], so that each d adds a contiguous row.
        var pt = [Float](repeating: 0, count: D * m)
        for j in 0..<m { for d in 0..<D { pt[d * m + j] = components[j * D + d] } }
        var out = [Float](repeating: 0, count: n * m)
        out.withUnsafeMutableBufferPointer { y in
            pt.withUnsafeBufferPointer { pt in
                mean.withUnsafeBufferPointer { mu in
                    parallelFor(n, minChunk: 256) { range in
                        for i in range {
                            let yRow = y.baseAddress! + i * m     // y[i, :]
                            let xRow = vectors.baseAddress! + i * D // x[i, :]
                            for d in 0..<D {
                                let v = xRow[d] - mu[d]
                                let ptRow = pt.baseAddress! + d * m
                                for j in 0..<m { yRow[j] = yRow[j].addingProduct(v, ptRow[j]) }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `x = Pᵀ y + μ` for rows `y` of the first `dimensions` coordinates (`[N, dimensions]`, missing
    /// coordinates 0): `[N, D]`.
    public func reconstruct(_ projected: [Float], dimensions: Int? = nil) -> [Float] {
        let D = dimension, m = dimensions ?? dimension
        precondition(m >= 1 && m <= D, "dimensions must be in 1...\(D)")
        let n = projected.count / m
        precondition(projected.count == n * m, "projected must hold rows of \(m) coordinates")
        var out = [Float](repeating: 0, count: n * D)
        for i in 0..<n {
            for d in 0..<D { out[i * D + d] = mean[d] }
            for j in 0..<m {
                let yj = projected[i * m + j]
                for d in 0..<D { out[i * D + d] = out[i * D + d].addingProduct(yj, components[j * D + d]) }
            }
        }
        return out
    }
}

/// Eigen decomposition of the symmetric `[n, n]` matrix `a` by cyclic Jacobi rotations (Double): returns
/// the eigenvalues and the eigenvectors as the columns of `[n, n]` `v` (a = v diag(λ) vᵀ).
func symmetricEigen(_ matrix: [Double], _ n: Int) -> ([Double], [Double]) {
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    var scale = 0.0
    for e in a { scale = max(scale, abs(e)) }
    guard scale > 0 else { return ([Double](repeating: 0, count: n), v) }
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
        if off <= (1e-30 * scale) * scale { break }
        for p in 0..<n {
            for q in (p + 1)..<n {
                let apq = a[p * n + q]
                if abs(apq) <= 1e-300 { continue }
                let app = a[p * n + p], aqq = a[q * n + q]
                // Rotation angle that zeroes a[p, q] (Golub & Van Loan, Alg. 8.4.1).
                let tau = (aqq - app) / (2 * apq)
                let t = (tau >= 0 ? 1.0 : -1.0) / (abs(tau) + (1 + tau * tau).squareRoot())
                let c = 1 / (1 + t * t).squareRoot(), s = t * c
                for k in 0..<n {
                    let akp = a[k * n + p], akq = a[k * n + q]
                    a[k * n + p] = c * akp - s * akq
                    a[k * n + q] = s * akp + c * akq
                }
                for k in 0..<n {
                    let apk = a[p * n + k], aqk = a[q * n + k]
                    a[p * n + k] = c * apk - s * aqk
                    a[q * n + k] = s * apk + c * aqk
                }
                for k in 0..<n {
                    let vkp = v[k * n + p], vkq = v[k * n + q]
                    v[k * n + p] = c * vkp - s * vkq
                    v[k * n + q] = s * vkp + c * vkq
                }
            }
        }
    }
    return ((0..<n).map { a[$0 * n + $0] }, v)
}
