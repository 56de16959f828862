// NearestSearch: blocked, multi-threaded nearest-code search (greedy argmin and top-k) over a Codebook.
// Scores are `(‖x‖² − 2 x·e) + ‖e‖²` (EnCodec's distance, negated), bitwise equal to Codebook.scoreScalar.
// Legend: T query rows, D dimension, N codebook size, k candidates kept per row; tiles are 6 rows × 16 codes.
import NN

/// Rows per micro-tile of the search kernel (6 rows × 16 codes = 12 AVX2 accumulators).
private let tileRows = 6

extension Codebook {
    /// Nearest code of each row of `x` (row-major `[T, D]`): `codes[t] = argmin_n score(x_t, n)`, ties to the
    /// lowest index, and `scores[t]` that minimum (`(‖x‖² − 2 x·e) + ‖e‖²`, an estimate of ‖x − e‖² that can be
    /// slightly negative by cancellation). Blocked over rows × codes, SIMD over codes, threads over rows;
    /// the result does not depend on the thread count. Equals `nearestScalar` row by row.
    /// `squaredNorms` (`[T]`) gives ‖x_t‖² when the rows come from a layout whose torch summation order
    /// differs from a contiguous row (`TorchSumOrder`); nil computes `torchOrderSquaredNorm(x_t)`.
    public func nearest(_ x: UnsafeBufferPointer<Float>, codes: UnsafeMutableBufferPointer<Int32>,
                        scores: UnsafeMutableBufferPointer<Float>? = nil,
                        squaredNorms: UnsafeBufferPointer<Float>? = nil) {
        let rows = x.count / max(dimension, 1)
        precondition(x.count == rows * dimension, "x must hold rows of dimension \(dimension)")
        precondition(codes.count == rows, "codes must hold one entry per row")
        precondition(scores == nil || scores!.count == rows, "scores must hold one entry per row")
        precondition(squaredNorms == nil || squaredNorms!.count == rows, "squaredNorms must hold one entry per row")
        guard rows > 0 else { return }
        parallelFor(rows, minChunk: 2 * tileRows) { range in
            let scratch = SearchScratch(dimension: dimension, k: 1)
            defer { scratch.release() }
            search(x.baseAddress! + range.lowerBound * dimension, rows: range.count, k: 1,
                   codes: codes.baseAddress! + range.lowerBound,
                   scores: scores.map { $0.baseAddress! + range.lowerBound }, scratch: scratch,
                   norms: squaredNorms.map { $0.baseAddress! + range.lowerBound })
        }
    }

    /// The `k` best codes of each row of `x` (`[T, D]`), best first: `codes[t*k + j]`, `scores[t*k + j]`
    /// (`[T, k]`), ordered by score then by index (ties to the lowest index). `k` must be in `1...N`.
    /// `k = 1` gives the same codes and scores as `nearest`. Thread-count independent.
    public func nearest(_ x: UnsafeBufferPointer<Float>, count k: Int, codes: UnsafeMutableBufferPointer<Int32>,
                        scores: UnsafeMutableBufferPointer<Float>) {
        let rows = x.count / max(dimension, 1)
        precondition(x.count == rows * dimension, "x must hold rows of dimension \(dimension)")
        precondition(k >= 1 && k <= size, "k must be in 1...\(size)")
        precondition(codes.count == rows * k && scores.count == rows * k, "codes and scores must be [T, k]")
        guard rows > 0 else { return }
        parallelFor(rows, minChunk: 2 * tileRows) { range in
            let scratch = SearchScratch(dimension: dimension, k: k)
            defer { scratch.release() }
            search(x.baseAddress! + range.lowerBound * dimension, rows: range.count, k: k,
                   codes: codes.baseAddress! + range.lowerBound * k,
                   scores: scores.baseAddress! + range.lowerBound * k, scratch: scratch)
        }
    }

    /// Scalar reference of `nearest(_:count:...)`: every score by `scoreScalar`, sorted by (score, code),
    /// the first k.
    public func nearestScalar(_ x: UnsafeBufferPointer<Float>, count k: Int) -> [(code: Int, score: Float)] {
        let xNorm = torchOrderSquaredNorm(x)
        var all = (0..<size).map { (code: $0, score: scoreScalar(x, squaredNorm: xNorm, code: $0)) }
        all.sort { $0.score < $1.score || ($0.score == $1.score && $0.code < $1.code) }
        return Array(all.prefix(k))
    }

    /// The search on one thread: rows `x[0..<rows, :]`, `k` best codes per row into `codes`/`scores`
    /// (`[rows, k]`; `scores` optional when k = 1), in row blocks that stay in L2. `norms` (`[rows]`) gives
    /// ‖x‖² per row; when nil it is `torchOrderSquaredNorm` of the contiguous row.
    func search(_ x: UnsafePointer<Float>, rows: Int, k: Int, codes: UnsafeMutablePointer<Int32>,
                scores: UnsafeMutablePointer<Float>?, scratch: SearchScratch, norms: UnsafePointer<Float>? = nil) {
        precondition(k >= 1 && k <= scratch.k && k <= size, "k out of range")
        precondition(k == 1 || scores != nil, "top-k search needs a scores buffer")
        let D = dimension
        let blockRows = scratch.blockRows
        let panelCount = paddedNorms.count / Codebook.panelWidth
        panels.withUnsafeBufferPointer { panelBuffer in
        paddedNorms.withUnsafeBufferPointer { normBuffer in
            var r0 = 0
            while r0 < rows {
                let count = min(blockRows, rows - r0)
                let xBlock = x + r0 * D // x[r0, :]
                for r in 0..<count {
                    scratch.xNorms[r] = norms?[r0 + r]
                        ?? torchOrderSquaredNorm(UnsafeBufferPointer(start: xBlock + r * D, count: D))
                }
                if k == 1 {
                    scratch.resetArgmin(rows: count)
                    forEachScoreTile(rows: xBlock, rowCount: count, xNorms: scratch.xNorms,
                                     panels: panelBuffer.baseAddress!, norms: normBuffer.baseAddress!,
                                     panelCount: panelCount, dimension: D, tile: scratch.tile) { rt, n, panel in
                        scratch.argminUpdate(row0: rt, rows: n, panel: panel)
                    }
                    for r in 0..<count {
                        let (index, score) = scratch.argminResult(row: r)
                        codes[r0 + r] = index
                        scores?[r0 + r] = score
                    }
                } else {
                    scratch.resetTopK(rows: count, k: k)
                    forEachScoreTile(rows: xBlock, rowCount: count, xNorms: scratch.xNorms,
                                     panels: panelBuffer.baseAddress!, norms: normBuffer.baseAddress!,
                                     panelCount: panelCount, dimension: D, tile: scratch.tile) { rt, n, panel in
                        scratch.topKUpdate(row0: rt, rows: n, panel: panel, k: k, codeLimit: size)
                    }
                    for r in 0..<count {
                        for j in 0..<k {
                            codes[(r0 + r) * k + j] = scratch.listCodes[r * k + j]
                            scores![(r0 + r) * k + j] = scratch.listScores[r * k + j]
                        }
                    }
                }
                r0 += count
            }
        }
        }
    }
}

/// Rows per cache block: the block of query rows (≈ 96 KB) stays in L2 while every code panel streams past.
private func searchBlockRows(dimension: Int) -> Int {
    let rows = max(tileRows, (96 * 1024) / (4 * dimension))
    return rows / tileRows * tileRows
}

/// Per-thread scratch of the search: the score tile, row norms, and the running argmin or top-k lists
/// (for up to `k` codes per row).
final class SearchScratch {
    let blockRows: Int, k: Int
    let tile: UnsafeMutablePointer<Float>        // [6][16] scores of the current tile
    let xNorms: UnsafeMutablePointer<Float>      // [blockRows]
    // Argmin: per row, per lane (2 × 8), the best score and its code.
    let bestScores: UnsafeMutablePointer<SIMD8<Float>>
    let bestCodes: UnsafeMutablePointer<SIMD8<Int32>>
    // Top-k: per row a sorted list of k (score, code), and how many entries are filled.
    let listScores: UnsafeMutablePointer<Float>
    let listCodes: UnsafeMutablePointer<Int32>
    let listCounts: UnsafeMutablePointer<Int>

    init(dimension: Int, k: Int) {
        let blockRows = searchBlockRows(dimension: dimension)
        self.blockRows = blockRows
        self.k = k
        tile = .allocate(capacity: tileRows * Codebook.panelWidth)
        xNorms = .allocate(capacity: blockRows)
        bestScores = .allocate(capacity: 2 * blockRows)
        bestCodes = .allocate(capacity: 2 * blockRows)
        listScores = .allocate(capacity: blockRows * k)
        listCodes = .allocate(capacity: blockRows * k)
        listCounts = .allocate(capacity: blockRows)
    }

    func release() {
        tile.deallocate(); xNorms.deallocate(); bestScores.deallocate(); bestCodes.deallocate()
        listScores.deallocate(); listCodes.deallocate(); listCounts.deallocate()
    }

    func resetArgmin(rows: Int) {
        let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
        for r in 0..<rows {
            bestScores[2 * r] = SIMD8(repeating: .infinity); bestScores[2 * r + 1] = SIMD8(repeating: .infinity)
            bestCodes[2 * r] = lanes; bestCodes[2 * r + 1] = lanes &+ 8
        }
    }

    /// Lane-wise strict-less update: each lane keeps its first minimum (codes arrive in increasing order).
    @inline(__always)
    func argminUpdate(row0: Int, rows: Int, panel: Int) {
        let codes0 = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &+ Int32(panel * Codebook.panelWidth)
        let codes1 = codes0 &+ 8
        let raw = UnsafeRawPointer(tile)
        for r in 0..<rows {
            let i = 2 * (row0 + r)
            let s0 = raw.loadUnaligned(fromByteOffset: r * 64, as: SIMD8<Float>.self)
            let s1 = raw.loadUnaligned(fromByteOffset: r * 64 + 32, as: SIMD8<Float>.self)
            let m0 = laneMask(s0 .< bestScores[i]), m1 = laneMask(s1 .< bestScores[i + 1])
            bestScores[i] = blend(m0, s0, bestScores[i]); bestScores[i + 1] = blend(m1, s1, bestScores[i + 1])
            bestCodes[i] = (codes0 & m0) | (bestCodes[i] & ~m0)
            bestCodes[i + 1] = (codes1 & m1) | (bestCodes[i + 1] & ~m1)
        }
    }

    /// Minimum over the 16 lanes, ties to the lowest code; all-+∞ rows give lane 0's initial code 0.
    func argminResult(row: Int) -> (Int32, Float) {
        var best = Float.infinity, code = Int32.max
        for half in 0..<2 {
            let s = bestScores[2 * row + half], c = bestCodes[2 * row + half]
            for l in 0..<8 where s[l] < best || (s[l] == best && c[l] < code) { best = s[l]; code = c[l] }
        }
        if code == Int32.max { code = 0 } // only NaN scores
        return (code, best)
    }

    func resetTopK(rows: Int, k: Int) {
        for r in 0..<rows { listCounts[r] = 0 }
    }

    /// Inserts each real code of the tile into its row's sorted list when it beats the k-th best
    /// (strictly), after any equal scores, so equal scores keep the lower code first.
    @inline(__always)
    func topKUpdate(row0: Int, rows: Int, panel: Int, k: Int, codeLimit: Int) {
        let w = Codebook.panelWidth
        let first = panel * w
        let lanes = min(w, codeLimit - first)
        let raw = UnsafeRawPointer(tile)
        for r in 0..<rows {
            let row = row0 + r
            let scores = listScores + row * k, codes = listCodes + row * k
            var filled = listCounts[row]
            var threshold = filled < k ? Float.infinity : scores[k - 1]
            if filled == k {
                let s = raw.loadUnaligned(fromByteOffset: r * 64, as: SIMD16<Float>.self)
                if !any(s .< threshold) { continue }
            }
            for l in 0..<lanes {
                let s = tile[r * w + l]
                guard filled < k || s < threshold else { continue }
                var j = min(filled, k - 1)
                while j > 0 && scores[j - 1] > s { scores[j] = scores[j - 1]; codes[j] = codes[j - 1]; j -= 1 }
                scores[j] = s
                codes[j] = Int32(first + l)
                if filled < k { filled += 1 }
                threshold = filled < k ? Float.infinity : scores[k - 1]
            }
            listCounts[row] = filled
        }
    }
}

/// All-ones lanes where `m` is true (a SIMDMask's storage), for branch-free blends.
@inline(__always)
private func laneMask(_ m: SIMDMask<SIMD8<Int32>>) -> SIMD8<Int32> { unsafeBitCast(m, to: SIMD8<Int32>.self) }

/// `mask ? a : b` lane by lane on the bits.
@inline(__always)
private func blend(_ mask: SIMD8<Int32>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    let ai = unsafeBitCast(a, to: SIMD8<Int32>.self), bi = unsafeBitCast(b, to: SIMD8<Int32>.self)
    return unsafeBitCast((ai & mask) | (bi & ~mask), to: SIMD8<Float>.self)
}

/// Walks code panels (outer) × 6-row tiles (inner) of one row block, computing each tile's scores into
/// `tile` (`[6][16]`, row-major) and calling `consume(row0, rows, panel)`.
///
/// Score `tile[r][l] = (xNorms[r] − 2·dot) + norms[16p + l]` with `dot = fma(x[r,D−1], e[D−1], … fma(x[r,0],
/// e[0], 0))`. Rows past `rowCount` in the last tile repeat the last row (their scores are ignored).
@inline(__always)
private func forEachScoreTile(rows x: UnsafePointer<Float>, rowCount: Int, xNorms: UnsafePointer<Float>,
                              panels: UnsafePointer<Float>, norms: UnsafePointer<Float>, panelCount: Int,
                              dimension D: Int, tile: UnsafeMutablePointer<Float>,
                              _ consume: (_ row0: Int, _ rows: Int, _ panel: Int) -> Void) {
    let w = Codebook.panelWidth
    for p in 0..<panelCount {
        let panel = UnsafeRawPointer(panels + p * D * w) // panel p: [D][16]
        let ee = UnsafeRawPointer(norms + p * w)
        var r0 = 0
        while r0 < rowCount {
            let n = min(tileRows, rowCount - r0)
            let x0 = x + r0 * D                          // x[r0, :]
            let x1 = x + (r0 + min(1, n - 1)) * D
            let x2 = x + (r0 + min(2, n - 1)) * D
            let x3 = x + (r0 + min(3, n - 1)) * D
            let x4 = x + (r0 + min(4, n - 1)) * D
            let x5 = x + (r0 + min(5, n - 1)) * D
            var c00 = SIMD8<Float>.zero, c01 = SIMD8<Float>.zero, c10 = SIMD8<Float>.zero, c11 = SIMD8<Float>.zero
            var c20 = SIMD8<Float>.zero, c21 = SIMD8<Float>.zero, c30 = SIMD8<Float>.zero, c31 = SIMD8<Float>.zero
            var c40 = SIMD8<Float>.zero, c41 = SIMD8<Float>.zero, c50 = SIMD8<Float>.zero, c51 = SIMD8<Float>.zero
            for d in 0..<D {
                let b0 = panel.loadUnaligned(fromByteOffset: d * 64, as: SIMD8<Float>.self)
                let b1 = panel.loadUnaligned(fromByteOffset: d * 64 + 32, as: SIMD8<Float>.self)
                var a = SIMD8<Float>(repeating: x0[d])
                c00 = c00.addingProduct(a, b0); c01 = c01.addingProduct(a, b1)
                a = SIMD8<Float>(repeating: x1[d])
                c10 = c10.addingProduct(a, b0); c11 = c11.addingProduct(a, b1)
                a = SIMD8<Float>(repeating: x2[d])
                c20 = c20.addingProduct(a, b0); c21 = c21.addingProduct(a, b1)
                a = SIMD8<Float>(repeating: x3[d])
                c30 = c30.addingProduct(a, b0); c31 = c31.addingProduct(a, b1)
                a = SIMD8<Float>(repeating: x4[d])
                c40 = c40.addingProduct(a, b0); c41 = c41.addingProduct(a, b1)
                a = SIMD8<Float>(repeating: x5[d])
                c50 = c50.addingProduct(a, b0); c51 = c51.addingProduct(a, b1)
            }
            let out = UnsafeMutableRawPointer(tile)
            // Loaded after the loop so that the 12 accumulators keep the registers during it.
            let ee0 = ee.loadUnaligned(as: SIMD8<Float>.self)
            let ee1 = ee.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            @inline(__always) func store(_ r: Int, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>) {
                let xx = SIMD8<Float>(repeating: xNorms[r0 + min(r, n - 1)])
                out.storeBytes(of: (xx - 2 * lo) + ee0, toByteOffset: r * 64, as: SIMD8<Float>.self)
                out.storeBytes(of: (xx - 2 * hi) + ee1, toByteOffset: r * 64 + 32, as: SIMD8<Float>.self)
            }
            store(0, c00, c01); store(1, c10, c11); store(2, c20, c21)
            store(3, c30, c31); store(4, c40, c41); store(5, c50, c51)
            consume(r0, n, p)
            r0 += tileRows
        }
    }
}
