// ConvCore: the register-tiled SGEMM-style micro-kernel and blocked, threaded driver under Conv1d,
// ConvTranspose1d and the LSTM input projection. Legend: R GEMM rows (output channels, or (co, phase)),
// taps/ci the reduction (kernel taps × input channels), col the output column (time), S the source rows.
//
// The product is a "direct" convolution, no im2col:
//     C[row, col] = bias[row] + Σ_tap Σ_ci A[row, tap, ci] · S[offset[tap] + ci·ld + col]
// where S is the input itself (stride-1 conv) or a per-block scratch copy of it (ELU applied, polyphase
// split for strided convs, zero padding for transposed convs). Each output element is one register
// accumulator summed in a fixed order (bias, then taps, then ci), so results never depend on blocking or
// on the thread count.

/// Rows of a register tile (output channels per micro-kernel call).
let tileRows = 4
/// Columns of a register tile (3 × SIMD8 of time steps).
let tileCols = 24
/// Widest reduction block: a packed source strip of 256 × 24 floats (24 KiB) stays in L1.
let maxReductionBlock = 256
/// Rows per weight block: 128 rows × 256 reduction × 4 B = 128 KiB of weight panels stay in L2.
let rowBlock = 128
/// Widest column block: a packed source block of 256 × 240 floats (240 KiB) stays in L2.
let maxColumnBlock = 240

/// Conv weights rearranged once for the fast kernel: row tiles of 4, each `[ρ][4]` over the reduction
/// index ρ (for Conv1d ρ = ci·K + k), zero past the last row; bias per row (zeros when absent). Build it
/// once per layer and reuse it across calls.
public final class PackedConvWeights: @unchecked Sendable {
    /// GEMM rows (output channels; for a transposed conv, output channels × stride).
    public let rows: Int
    /// Kernel taps in the reduction (K for Conv1d, ⌈K / stride⌉ for ConvTranspose1d).
    public let taps: Int
    /// Input channels.
    public let inChannels: Int
    /// Reduction length taps · inChannels.
    let reduction: Int
    let tiles: Int
    let a: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(rows: Int, taps: Int, inChannels: Int, weight: (_ row: Int, _ rho: Int) -> Float, bias: (_ row: Int) -> Float) {
        precondition(rows > 0 && taps > 0 && inChannels > 0, "PackedConvWeights: empty (rows \(rows), taps \(taps), Cin \(inChannels))")
        self.rows = rows
        self.taps = taps
        self.inChannels = inChannels
        reduction = taps * inChannels
        tiles = (rows + tileRows - 1) / tileRows
        let panel = reduction * tileRows
        a = UnsafeMutableRawPointer.allocate(byteCount: tiles * panel * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: tiles * panel)
        self.bias = UnsafeMutablePointer<Float>.allocate(capacity: tiles * tileRows)
        for tile in 0..<tiles {
            let aTile = a + tile * panel  // A[tile][ρ][4]
            for i in 0..<tileRows {
                let row = tile * tileRows + i
                self.bias[tile * tileRows + i] = row < rows ? bias(row) : 0
                for rho in 0..<reduction { aTile[rho * tileRows + i] = row < rows ? weight(row, rho) : 0 }
            }
        }
    }

    deinit {
        a.deallocate()
        bias.deallocate()
    }

    /// Panel of `tile` starting at reduction index `rho0`: `[ρ][4]`, contiguous.
    @inline(__always) func panel(_ tile: Int, _ rho0: Int) -> UnsafePointer<Float> {
        UnsafePointer(a + (tile * reduction + rho0) * tileRows)
    }
}

/// One 4 × 24 register tile: `acc[i, j] = (loadC ? c[i, j] : bias[i]) + Σ_ρ a[ρ, i] · b[ρ, j]` over `kc`
/// packed rows (`a` as `[ρ][4]`, `b` as `[ρ][24]`), then `c = acc` or, with `addToC`, `c += acc`.
/// `c` has row stride `ldc`.
@inline(never)
func convMicroKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ loadC: Bool, _ addToC: Bool) {
    let c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc
    var c00: Vec8, c01: Vec8, c02: Vec8, c10: Vec8, c11: Vec8, c12: Vec8
    var c20: Vec8, c21: Vec8, c22: Vec8, c30: Vec8, c31: Vec8, c32: Vec8
    if loadC {
        c00 = load8(c0); c01 = load8(c0 + 8); c02 = load8(c0 + 16)
        c10 = load8(c1); c11 = load8(c1 + 8); c12 = load8(c1 + 16)
        c20 = load8(c2); c21 = load8(c2 + 8); c22 = load8(c2 + 16)
        c30 = load8(c3); c31 = load8(c3 + 8); c32 = load8(c3 + 16)
    } else {
        c00 = Vec8(repeating: bias[0]); c01 = c00; c02 = c00
        c10 = Vec8(repeating: bias[1]); c11 = c10; c12 = c10
        c20 = Vec8(repeating: bias[2]); c21 = c20; c22 = c20
        c30 = Vec8(repeating: bias[3]); c31 = c30; c32 = c30
    }
    var ap = a
    var bp = UnsafeRawPointer(b)
    for _ in 0..<kc {
        let b0 = bp.load(as: Vec8.self)
        let b1 = bp.load(fromByteOffset: 32, as: Vec8.self)
        let b2 = bp.load(fromByteOffset: 64, as: Vec8.self)
        var w = Vec8(repeating: ap[0])
        c00.addProduct(w, b0); c01.addProduct(w, b1); c02.addProduct(w, b2)
        w = Vec8(repeating: ap[1])
        c10.addProduct(w, b0); c11.addProduct(w, b1); c12.addProduct(w, b2)
        w = Vec8(repeating: ap[2])
        c20.addProduct(w, b0); c21.addProduct(w, b1); c22.addProduct(w, b2)
        w = Vec8(repeating: ap[3])
        c30.addProduct(w, b0); c31.addProduct(w, b1); c32.addProduct(w, b2)
        ap += 4
        bp += 96
    }
    if addToC {
        store8(load8(c0) + c00, c0); store8(load8(c0 + 8) + c01, c0 + 8); store8(load8(c0 + 16) + c02, c0 + 16)
        store8(load8(c1) + c10, c1); store8(load8(c1 + 8) + c11, c1 + 8); store8(load8(c1 + 16) + c12, c1 + 16)
        store8(load8(c2) + c20, c2); store8(load8(c2 + 8) + c21, c2 + 8); store8(load8(c2 + 16) + c22, c2 + 16)
        store8(load8(c3) + c30, c3); store8(load8(c3 + 8) + c31, c3 + 8); store8(load8(c3 + 16) + c32, c3 + 16)
    } else {
        store8(c00, c0); store8(c01, c0 + 8); store8(c02, c0 + 16)
        store8(c10, c1); store8(c11, c1 + 8); store8(c12, c1 + 16)
        store8(c20, c2); store8(c21, c2 + 8); store8(c22, c2 + 16)
        store8(c30, c3); store8(c31, c3 + 8); store8(c32, c3 + 16)
    }
}

/// Where the driver puts a finished tile.
enum ConvStore {
    /// `C[row, col]` → `y[row·ldy + col]`; with `accumulate`, added to what is there.
    case rows(y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool)
    /// Transposed-conv phases: row = co·stride + r, col = u → `y[co·ldy + u·stride + r]` when that
    /// position is below `length`.
    case interleaved(y: UnsafeMutablePointer<Float>, ldy: Int, stride: Int, length: Int, accumulate: Bool)
}

/// Fills a packed source block: rows `rho0 ..< rho0 + kc` of the reduction, columns `c0 ..< c0 + bc`, as
/// `dst[(strip·kc + (ρ − rho0))·24 + lane]` with column `c0 + strip·24 + lane`, zeros for columns ≥ bc up
/// to the end of the last strip. `nc` is the planned block width (≥ bc) and `stage` a per-thread scratch of
/// the size the caller asked for (for an ELU'd, polyphase or zero-padded copy of the input span).
typealias ConvPacker = (_ rho0: Int, _ kc: Int, _ c0: Int, _ bc: Int, _ nc: Int,
                        _ dst: UnsafeMutablePointer<Float>, _ stage: UnsafeMutablePointer<Float>?) -> Void

/// Runs `C = A·B` over output columns `0..<cols` (B produced block by block by `pack`) with the loop nest
/// columns (≤ 240) → reduction blocks (≤ 256) → pack B → row blocks (≤ 128) → 24-column strips → 4-row
/// tiles, threaded by column blocks (or by row tiles when there are few columns).
///
/// Each output is one accumulator chain: bias, then ρ in increasing order; between reduction blocks the
/// partial sum is stored in `y` and reloaded (exact), so the result does not depend on blocking or threads.
/// Accumulating and interleaved stores use a single reduction block (their `y` cannot hold partials).
///
/// `stageFloats(nc, kcMax)`: the per-thread staging scratch that `pack` needs for blocks of at most `nc`
/// columns and `kcMax` reduction rows (0 for none).
func runConvCore(weights: PackedConvWeights, cols: Int, stageFloats: (_ nc: Int, _ kcMax: Int) -> Int = { _, _ in 0 },
                 pack: ConvPacker, store: ConvStore) {
    guard cols > 0 else { return }
    let threads = Parallel.threadCount
    let tiles = weights.tiles, r = weights.reduction
    var splitReduction = true
    switch store {
    case .rows(_, _, let acc): splitReduction = !acc
    case .interleaved: splitReduction = false
    }
    let pcBlocks = splitReduction ? (r + maxReductionBlock - 1) / maxReductionBlock : 1
    var blocks = (cols + maxColumnBlock - 1) / maxColumnBlock
    // Equal work per thread: round the block count up to a multiple of the thread count.
    if threads > 1 && blocks >= threads { blocks = (blocks + threads - 1) / threads * threads }
    var nc = (cols + blocks - 1) / blocks
    nc = (nc + tileCols - 1) / tileCols * tileCols
    blocks = (cols + nc - 1) / nc
    let kcMax = (r + pcBlocks - 1) / pcBlocks
    let macs = weights.rows * r * cols
    let serial = threads == 1 || macs < 1 << 18
    let byColumns = blocks >= threads || tiles < 2 * threads
    let stageCount = stageFloats(nc, kcMax)

    func work(_ blockRange: Range<Int>, _ tileRange: Range<Int>) {
        let packed = UnsafeMutableRawPointer.allocate(byteCount: kcMax * nc * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: kcMax * nc)
        let tileBuf = UnsafeMutableRawPointer.allocate(byteCount: tileRows * tileCols * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: tileRows * tileCols)
        let stage: UnsafeMutablePointer<Float>? = stageCount > 0
            ? UnsafeMutableRawPointer.allocate(byteCount: stageCount * 4, alignment: 64).bindMemory(to: Float.self, capacity: stageCount)
            : nil
        defer { packed.deallocate(); tileBuf.deallocate(); stage?.deallocate() }
        for block in blockRange {
            let c0 = block * nc
            let bc = min(nc, cols - c0)
            let strips = (bc + tileCols - 1) / tileCols
            for pc in 0..<pcBlocks {
                let rho0 = pc * r / pcBlocks, kc = (pc + 1) * r / pcBlocks - rho0
                let first = pc == 0, last = pc == pcBlocks - 1
                pack(rho0, kc, c0, bc, nc, packed, stage)
                var ic = tileRange.lowerBound
                while ic < tileRange.upperBound {
                    let icEnd = min(tileRange.upperBound, ic + rowBlock / tileRows)
                    for tile in ic..<icEnd {
                        let aPanel = weights.panel(tile, rho0)
                        let bias = UnsafePointer(weights.bias + tile * tileRows)
                        let row0 = tile * tileRows
                        let rowsHere = min(tileRows, weights.rows - row0)
                        for strip in 0..<strips {
                            let bStrip = UnsafePointer(packed + strip * kc * tileCols)
                            let col = c0 + strip * tileCols
                            let w = min(tileCols, bc - strip * tileCols)
                            if case .rows(let y, let ldy, let acc) = store, rowsHere == tileRows, w == tileCols {
                                convMicroKernel(kc, aPanel, bStrip, bias, y + row0 * ldy + col, ldy, !first, acc && last)
                            } else if case .rows(let y, let ldy, let acc) = store {
                                // Ragged tile: through a 4 × 24 buffer holding the valid part.
                                if !first { loadTile(tileBuf, y + row0 * ldy + col, ldy, rowsHere, w) }
                                convMicroKernel(kc, aPanel, bStrip, bias, tileBuf, tileCols, !first, false)
                                storeTile(tileBuf, y + row0 * ldy + col, ldy, rowsHere, w, acc && last)
                            } else if case .interleaved(let y, let ldy, let stride, let length, let acc) = store {
                                convMicroKernel(kc, aPanel, bStrip, bias, tileBuf, tileCols, false, false)
                                storeInterleaved(tileBuf, y, ldy, stride, length, acc, row0, rowsHere, col, w)
                            }
                        }
                    }
                    ic = icEnd
                }
            }
        }
    }
    if serial {
        work(0..<blocks, 0..<tiles)
    } else if byColumns {
        parallelFor(blocks) { work($0, 0..<tiles) }
    } else {
        parallelFor(tiles) { work(0..<blocks, $0) }
    }
}

@inline(__always)
private func loadTile(_ t: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Int, _ cols: Int) {
    for i in 0..<rows { (t + i * tileCols).update(from: y + i * ldy, count: cols) }
}

@inline(__always)
private func storeTile(_ t: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Int,
                       _ cols: Int, _ accumulate: Bool) {
    for i in 0..<rows {
        let yRow = y + i * ldy, tRow = t + i * tileCols  // y[row0 + i, col...], tile[i, :]
        if accumulate { for j in 0..<cols { yRow[j] += tRow[j] } } else { yRow.update(from: tRow, count: cols) }
    }
}

/// Writes tile rows (co, r) = divmod(row, stride) to `y[co, u·stride + r]` for u = col + j below `length`.
@inline(__always)
private func storeInterleaved(_ t: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ ldy: Int,
                              _ stride: Int, _ length: Int, _ accumulate: Bool, _ row0: Int, _ rows: Int,
                              _ col: Int, _ cols: Int) {
    for i in 0..<rows {
        let row = row0 + i
        let co = row / stride, r = row % stride
        let yRow = y + co * ldy  // y[co, :]
        let tRow = t + i * tileCols
        let n = min(cols, (length - r + stride - 1) / stride - col)  // columns whose position is in range
        var pos = col * stride + r
        if accumulate {
            for j in 0..<max(0, n) { yRow[pos] += tRow[j]; pos += stride }
        } else {
            for j in 0..<max(0, n) { yRow[pos] = tRow[j]; pos += stride }
        }
    }
}

// MARK: Packing helpers shared by the conv kernels

/// Packs one reduction row `kk` of a block: column j (< bc) takes `src[j·step]` when j is in `[lo, hi)`,
/// zero otherwise (and for j ≥ bc up to the end of the last strip).
@inline(__always)
func packRow(_ dst: UnsafeMutablePointer<Float>, kk: Int, kc: Int, bc: Int, src: UnsafePointer<Float>, step: Int,
             lo: Int, hi: Int) {
    let strips = (bc + tileCols - 1) / tileCols
    let hi = min(hi, bc), lo = max(0, lo)
    for strip in 0..<strips {
        let j0 = strip * tileCols
        let d = dst + (strip * kc + kk) * tileCols  // packed[strip][kk][:]
        if step == 1 && j0 >= lo && j0 + tileCols <= hi {
            store8(load8(src + j0), d); store8(load8(src + j0 + 8), d + 8); store8(load8(src + j0 + 16), d + 16)
        } else {
            d.update(repeating: 0, count: tileCols)
            let a = max(lo, j0), b = min(hi, j0 + tileCols)
            if a < b {
                var p = src + a * step
                for j in a..<b { d[j - j0] = p.pointee; p += step }
            }
        }
    }
}

/// Copies `count` elements `src[j·step]` to `dst[j]`, zero-fills `dst[count..<width]`, and applies ELU
/// when `alpha` is set: one row of a staged input span.
@inline(__always)
func stageRow(_ dst: UnsafeMutablePointer<Float>, width: Int, src: UnsafePointer<Float>, step: Int, count: Int, alpha: Float?) {
    let n = max(0, min(count, width))
    if step == 1 {
        dst.update(from: src, count: n)
    } else {
        var p = src
        for j in 0..<n { dst[j] = p.pointee; p += step }
    }
    (dst + n).update(repeating: 0, count: width - n)
    if let alpha { eluRowInPlace(dst, n, alpha) }
}

/// ELU in place over a short row (no threading: called inside a worker).
@inline(__always)
func eluRowInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ alpha: Float) {
    var i = 0
    while i + 8 <= n { store8(elu8(load8(p + i), alpha), p + i); i += 8 }
    if i < n {
        var v = Vec8()
        for j in 0..<(n - i) { v[j] = p[i + j] }
        v = elu8(v, alpha)
        for j in 0..<(n - i) { p[i + j] = v[j] }
    }
}
