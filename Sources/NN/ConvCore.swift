// ConvCore: the register-tiled micro-kernels and the blocked, threaded driver under Conv1d, ConvTranspose1d
// and the LSTM input projection. Legend: R GEMM rows (output channels, or (co, phase) rows of a transposed
// conv), ci input channel, tap kernel tap, col output column (time), S the staged source.
//
// The product is a direct convolution over a staged copy of the input, no im2col:
//     C[row, col] = bias[row] + Σ_block Σ_tap Σ_ci∈block A[row, tap, ci] · S[ci·channelStride + tapOffset[tap] + col]
// For each block of output columns the input span it reads is staged once per channel (ELU applied, split
// into stride phases, zero padded at the edges), so every (tap, ci) row is a contiguous run the kernel reads
// with unaligned SIMD8 loads, and each input element is transformed once. Each output element is one
// accumulator chain in a fixed order (bias, then channel blocks, taps, channels), so results depend on
// neither the blocking nor the thread count.
import Foundation

/// Rows of a register tile (output channels per micro-kernel call).
let tileRows = 4
/// Columns of a register tile (3 × SIMD8 of time steps).
let tileCols = 24
/// Reduction rows (taps × channels) per channel block: the source rows one kernel call reads stay in L1/L2.
let maxReductionBlock = 256
/// Widest column block.
let maxColumnBlock = 480
/// Bytes of staged source per column block (L2 is 512 KiB per core).
let stageBudgetBytes = 256 * 1024
/// Rows per row block (32 tiles: their weight panels for one channel block stay in L2), and of the
/// partial-sum scratch used when a multi-block reduction cannot keep its partial sums in the output.
let scratchRowBlock = 128

/// Conv weights rearranged once for the fast kernel: row tiles of 4; within a tile, channel blocks of
/// `channelBlock` channels, each `[tap][ci][4]`; zero past the last row. Bias per row (zeros when absent).
/// Build it once per layer and reuse it across calls.
public final class PackedConvWeights: @unchecked Sendable {
    /// GEMM rows (output channels; for a transposed conv, output channels × stride).
    public let rows: Int
    /// Kernel taps (K for Conv1d, ⌈K / stride⌉ for ConvTranspose1d).
    public let taps: Int
    /// Input channels.
    public let inChannels: Int
    /// Channels per reduction block.
    let channelBlock: Int
    let tiles: Int
    let a: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(rows: Int, taps: Int, inChannels: Int, weight: (_ row: Int, _ tap: Int, _ ci: Int) -> Float, bias: (_ row: Int) -> Float) {
        precondition(rows > 0 && taps > 0 && inChannels > 0, "PackedConvWeights: empty (rows \(rows), taps \(taps), Cin \(inChannels))")
        self.rows = rows
        self.taps = taps
        self.inChannels = inChannels
        channelBlock = max(1, min(inChannels, maxReductionBlock / taps))
        tiles = (rows + tileRows - 1) / tileRows
        let panelSize = taps * inChannels * tileRows
        a = UnsafeMutableRawPointer.allocate(byteCount: tiles * panelSize * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: tiles * panelSize)
        self.bias = UnsafeMutablePointer<Float>.allocate(capacity: tiles * tileRows)
        for tile in 0..<tiles {
            for i in 0..<tileRows {
                let row = tile * tileRows + i
                self.bias[tile * tileRows + i] = row < rows ? bias(row) : 0
                var ciLo = 0
                while ciLo < inChannels {
                    let n = min(channelBlock, inChannels - ciLo)
                    let block = UnsafeMutablePointer(mutating: self.panel(tile, ciLo))  // A[tile][block][tap][ci][4]
                    for tap in 0..<taps {
                        for c in 0..<n {
                            block[(tap * n + c) * tileRows + i] = row < rows ? weight(row, tap, ciLo + c) : 0
                        }
                    }
                    ciLo += n
                }
            }
        }
    }

    deinit {
        a.deallocate()
        bias.deallocate()
    }

    /// Panel of `tile` for the channel block starting at `ciLo` (a multiple of `channelBlock`): `[tap][ci][4]`.
    @inline(__always) func panel(_ tile: Int, _ ciLo: Int) -> UnsafePointer<Float> {
        UnsafePointer(a + (tile * inChannels + ciLo) * taps * tileRows)
    }
}

/// One 4 × 24 register tile:
/// `acc[i, j] = (loadC ? c[i, j] : bias[i]) + Σ_tap Σ_ci a[tap, ci, i] · s[offsets[tap] + ci·ld + j]`,
/// then `c = acc` or, with `addToC`, `c += acc`; `c` has row stride `ldc`.
@inline(never)
func convMicroKernel(_ a: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>, _ taps: Int,
                     _ cin: Int, _ ld: Int, _ bias: UnsafePointer<Float>,
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
    let ldBytes = ld * 4
    for tap in 0..<taps {
        var sp = UnsafeRawPointer(s + offsets[tap])  // S[offset[tap] + ci·ld + 0..<24], advanced per ci
        for _ in 0..<cin {
            let b0 = sp.loadUnaligned(as: Vec8.self)
            let b1 = sp.loadUnaligned(fromByteOffset: 32, as: Vec8.self)
            let b2 = sp.loadUnaligned(fromByteOffset: 64, as: Vec8.self)
            var w = Vec8(repeating: ap[0])
            c00.addProduct(w, b0); c01.addProduct(w, b1); c02.addProduct(w, b2)
            w = Vec8(repeating: ap[1])
            c10.addProduct(w, b0); c11.addProduct(w, b1); c12.addProduct(w, b2)
            w = Vec8(repeating: ap[2])
            c20.addProduct(w, b0); c21.addProduct(w, b1); c22.addProduct(w, b2)
            w = Vec8(repeating: ap[3])
            c30.addProduct(w, b0); c31.addProduct(w, b1); c32.addProduct(w, b2)
            ap += 4
            sp += ldBytes
        }
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

/// The 1-row variant for a tile with a single valid row (a conv to 1 channel): 1 × 48 columns, so the
/// three zero rows of a 4-row tile are not computed. Same arithmetic order per element as the 4-row kernel.
@inline(never)
func convMicroKernel1(_ a: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>, _ taps: Int,
                      _ cin: Int, _ ld: Int, _ bias: Float, _ c: UnsafeMutablePointer<Float>, _ loadC: Bool, _ addToC: Bool) {
    var v0: Vec8, v1: Vec8, v2: Vec8, v3: Vec8, v4: Vec8, v5: Vec8
    if loadC {
        v0 = load8(c); v1 = load8(c + 8); v2 = load8(c + 16); v3 = load8(c + 24); v4 = load8(c + 32); v5 = load8(c + 40)
    } else {
        v0 = Vec8(repeating: bias); v1 = v0; v2 = v0; v3 = v0; v4 = v0; v5 = v0
    }
    var ap = a
    let ldBytes = ld * 4
    for tap in 0..<taps {
        var sp = UnsafeRawPointer(s + offsets[tap])
        for _ in 0..<cin {
            let w = Vec8(repeating: ap[0])
            v0.addProduct(w, sp.loadUnaligned(as: Vec8.self))
            v1.addProduct(w, sp.loadUnaligned(fromByteOffset: 32, as: Vec8.self))
            v2.addProduct(w, sp.loadUnaligned(fromByteOffset: 64, as: Vec8.self))
            v3.addProduct(w, sp.loadUnaligned(fromByteOffset: 96, as: Vec8.self))
            v4.addProduct(w, sp.loadUnaligned(fromByteOffset: 128, as: Vec8.self))
            v5.addProduct(w, sp.loadUnaligned(fromByteOffset: 160, as: Vec8.self))
            ap += 4
            sp += ldBytes
        }
    }
    if addToC {
        v0 += load8(c); v1 += load8(c + 8); v2 += load8(c + 16); v3 += load8(c + 24); v4 += load8(c + 32); v5 += load8(c + 40)
    }
    store8(v0, c); store8(v1, c + 8); store8(v2, c + 16); store8(v3, c + 24); store8(v4, c + 32); store8(v5, c + 40)
}

/// Where the driver puts finished outputs.
enum ConvStore {
    /// `C[row, col]` → `y[row·ldy + col]`; with `accumulate`, added to what is there.
    case rows(y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool)
    /// Transposed-conv phases: row = co·stride + r, col = u → position p = u·stride + r, stored at
    /// `y[co·ldy + p − first]` when `first ≤ p < end` (a trimmed window of the full output).
    case interleaved(y: UnsafeMutablePointer<Float>, ldy: Int, stride: Int, first: Int, end: Int, accumulate: Bool)
}

/// How the staged source is laid out for blocks of `nc` columns: channel `ci` (counted from the first
/// staged channel) starts at `ci·channelStride`; tap k of column j reads `tapOffsets[k] + j` from there.
/// Rows must be readable (zero-filled) for 24-column strips rounded up past the block.
struct ConvStageLayout {
    var channelStride: Int
    var tapOffsets: [Int]
}

/// Stages channels `ciLo ..< ciHi` for output columns `c0 ..< c0 + bc` into `dst`, laid out as
/// `layout(nc)` says (`nc` ≥ bc is the planned block width).
typealias ConvStager = (_ ciLo: Int, _ ciHi: Int, _ c0: Int, _ bc: Int, _ nc: Int, _ dst: UnsafeMutablePointer<Float>) -> Void

/// Runs `C = A ⊛ S` over output columns `0..<cols`, threaded by column blocks (or by row tiles when there
/// are few columns).
///
/// Loop nest: column blocks → channel blocks (stage them) → row blocks → 24-column strips → row tiles, with partial
/// sums kept in the output between channel blocks (an exact store/reload). Accumulating and transposed
/// stores cannot hold partial sums; when they need several channel blocks, all channels of a column block
/// are staged once and the sums go through a per-thread scratch of 128 rows (→ row blocks → channel blocks
/// → strips → tiles), then to the output.
///
/// - `layout(nc)`: the stage layout for blocks of at most `nc` columns.
/// - `threaded`: false runs on the calling thread only (for callers that are themselves one of several
///   concurrent workers); the result is the same either way.
func runConvCore(weights: PackedConvWeights, cols: Int, layout: (_ nc: Int) -> ConvStageLayout,
                 stage: ConvStager, store: ConvStore, threaded: Bool = true) {
    guard cols > 0 else { return }
    let threads = threaded ? Parallel.threadCount : 1
    let tiles = weights.tiles, cin = weights.inChannels, cb = weights.channelBlock, taps = weights.taps
    let channelBlocks = (cin + cb - 1) / cb
    var viaScratch = false
    switch store {
    case .rows(_, _, let acc): viaScratch = acc && channelBlocks > 1
    case .interleaved: viaScratch = channelBlocks > 1
    }
    let stagedChannels = viaScratch ? cin : cb
    // Widest column block whose stage fits the budget (and, via scratch, whose partial sums fit too).
    var ncMax = maxColumnBlock
    while ncMax > tileCols {
        let stageBytes = stagedChannels * layout(ncMax).channelStride * 4
        let scratchBytes = viaScratch ? scratchRowBlock * ncMax * 4 : 0
        if stageBytes + scratchBytes <= stageBudgetBytes { break }
        ncMax -= tileCols
    }
    var blocks = (cols + ncMax - 1) / ncMax
    // Equal work per thread: round the block count up to a multiple of the thread count.
    if threads > 1 && blocks >= threads { blocks = (blocks + threads - 1) / threads * threads }
    var nc = (cols + blocks - 1) / blocks
    nc = (nc + tileCols - 1) / tileCols * tileCols
    blocks = (cols + nc - 1) / nc
    let plan = layout(nc)
    precondition(plan.tapOffsets.count == taps, "runConvCore: \(plan.tapOffsets.count) tap offsets for \(taps) taps")
    let stageFloats = stagedChannels * plan.channelStride
    let macs = weights.rows * taps * cin * cols
    let serial = threads == 1 || macs < 1 << 18
    let byColumns = blocks >= threads || tiles < 2 * threads

    plan.tapOffsets.withUnsafeBufferPointer { offs in
        let offs = offs.baseAddress!
        func work(_ blockRange: Range<Int>, _ tileRange: Range<Int>) {
            // 48 floats of slack: kernels read whole 24/48-column strips past the last staged row's end.
            let st = UnsafeMutableRawPointer.allocate(byteCount: (stageFloats + 48) * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: stageFloats + 48)
            let scratchRows = viaScratch ? scratchRowBlock : tileRows
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchRows * nc * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: scratchRows * nc)
            defer { st.deallocate(); scratch.deallocate() }
            for block in blockRange {
                let c0 = block * nc
                let bc = min(nc, cols - c0)
                let strips = (bc + tileCols - 1) / tileCols
                if !viaScratch {
                    var ciLo = 0
                    while ciLo < cin {
                        let n = min(cb, cin - ciLo)
                        let first = ciLo == 0, last = ciLo + n == cin
                        stage(ciLo, ciLo + n, c0, bc, nc, st)
                        func one(_ tile: Int, _ strip: Int) {
                            let aPanel = weights.panel(tile, ciLo)
                            let bias = UnsafePointer(weights.bias + tile * tileRows)
                            let row0 = tile * tileRows
                            let rowsHere = min(tileRows, weights.rows - row0)
                            let j0 = strip * tileCols
                            let w = min(tileCols, bc - j0)
                            let s = UnsafePointer(st + j0)
                            switch store {
                            case .rows(let y, let ldy, let acc):
                                let yTile = y + row0 * ldy + c0 + j0
                                if rowsHere == tileRows && w == tileCols {
                                    convMicroKernel(aPanel, s, offs, taps, n, plan.channelStride, bias, yTile, ldy, !first, acc && last)
                                } else if rowsHere == 1 && strip % 2 == 0 {
                                    // One channel: 48 columns per call through the scratch row.
                                    let w2 = min(2 * tileCols, bc - j0)
                                    if !first { scratch.update(from: yTile, count: w2) }
                                    convMicroKernel1(aPanel, s, offs, taps, n, plan.channelStride, bias[0], scratch, !first, false)
                                    storeRows(scratch, 2 * tileCols, yTile, ldy, 1, w2, acc && last)
                                } else if rowsHere > 1 {
                                    // Ragged tile: through a 4 × 24 buffer holding the valid part.
                                    if !first { loadRows(scratch, tileCols, yTile, ldy, rowsHere, w) }
                                    convMicroKernel(aPanel, s, offs, taps, n, plan.channelStride, bias, scratch, tileCols, !first, false)
                                    storeRows(scratch, tileCols, yTile, ldy, rowsHere, w, acc && last)
                                }
                            case .interleaved(let y, let ldy, let stride, let firstPos, let end, let acc):
                                // Single channel block here (several go through the scratch path).
                                convMicroKernel(aPanel, s, offs, taps, n, plan.channelStride, bias, scratch, tileCols, false, false)
                                storeInterleaved(scratch, tileCols, y, ldy, stride, firstPos, end, acc, row0, rowsHere, c0 + j0, w)
                            }
                        }
                        // Row blocks of 32 tiles; within one, a strip's source rows stay in L1 across tiles
                        // while the weight panels stream from L2.
                        var ic = tileRange.lowerBound
                        while ic < tileRange.upperBound {
                            let icEnd = min(tileRange.upperBound, ic + scratchRowBlock / tileRows)
                            for strip in 0..<strips { for tile in ic..<icEnd { one(tile, strip) } }
                            ic = icEnd
                        }
                        ciLo += n
                    }
                } else {
                    // All channels staged once; partial sums of up to 128 rows in the scratch.
                    stage(0, cin, c0, bc, nc, st)
                    var ic = tileRange.lowerBound
                    while ic < tileRange.upperBound {
                        let icEnd = min(tileRange.upperBound, ic + scratchRowBlock / tileRows)
                        var ciLo = 0
                        while ciLo < cin {
                            let n = min(cb, cin - ciLo)
                            let s0 = UnsafePointer(st + ciLo * plan.channelStride)
                            for strip in 0..<strips {
                                let j0 = strip * tileCols
                                for tile in ic..<icEnd {
                                    let aPanel = weights.panel(tile, ciLo)
                                    let bias = UnsafePointer(weights.bias + tile * tileRows)
                                    let cTile = scratch + (tile - ic) * tileRows * nc  // scratch[tile rows, :]
                                    convMicroKernel(aPanel, s0 + j0, offs, taps, n, plan.channelStride, bias, cTile + j0, nc, ciLo > 0, false)
                                }
                            }
                            ciLo += n
                        }
                        for tile in ic..<icEnd {
                            let row0 = tile * tileRows
                            let rowsHere = min(tileRows, weights.rows - row0)
                            let cTile = scratch + (tile - ic) * tileRows * nc
                            switch store {
                            case .rows(let y, let ldy, let acc):
                                storeRows(cTile, nc, y + row0 * ldy + c0, ldy, rowsHere, bc, acc)
                            case .interleaved(let y, let ldy, let stride, let firstPos, let end, let acc):
                                storeInterleaved(cTile, nc, y, ldy, stride, firstPos, end, acc, row0, rowsHere, c0, bc)
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
}

/// Copies `rows × cols` from `y` (row stride `ldy`) into `t` (row stride `ldt`).
@inline(__always)
private func loadRows(_ t: UnsafeMutablePointer<Float>, _ ldt: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Int, _ cols: Int) {
    for i in 0..<rows { (t + i * ldt).update(from: y + i * ldy, count: cols) }
}

/// Writes (or adds) `rows × cols` of `t` (row stride `ldt`) to `y` (row stride `ldy`).
@inline(__always)
private func storeRows(_ t: UnsafeMutablePointer<Float>, _ ldt: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int,
                       _ rows: Int, _ cols: Int, _ accumulate: Bool) {
    for i in 0..<rows {
        let yRow = y + i * ldy, tRow = t + i * ldt  // y[row0 + i, col...], t[i, :]
        if accumulate {
            var j = 0
            while j + 8 <= cols { store8(load8(yRow + j) + load8(tRow + j), yRow + j); j += 8 }
            while j < cols { yRow[j] += tRow[j]; j += 1 }
        } else {
            yRow.update(from: tRow, count: cols)
        }
    }
}

/// Writes rows (co, r) = divmod(row, stride) of `t` (row stride `ldt`) for columns u = col + j, j < cols:
/// position p = u·stride + r goes to `y[co, p − first]` when `first ≤ p < end`. Full 4 × 24 tiles with
/// stride 2 or 4 inside the window are interleaved in registers; the rest element by element.
@inline(__always)
private func storeInterleaved(_ t: UnsafeMutablePointer<Float>, _ ldt: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int,
                              _ stride: Int, _ first: Int, _ end: Int, _ accumulate: Bool, _ row0: Int, _ rows: Int,
                              _ col: Int, _ cols: Int) {
    if rows == tileRows && cols == tileCols && (stride == 2 || stride == 4) && col * stride >= first
        && (col + tileCols) * stride <= end {
        storeInterleavedTile(t, ldt, y - first, ldy, stride, accumulate, row0, col)
        return
    }
    for i in 0..<rows {
        let row = row0 + i
        let co = row / stride, r = row % stride
        let yRow = y + co * ldy - first  // y[co, :] in full-output positions
        let tRow = t + i * ldt
        for j in 0..<cols {
            let pos = (col + j) * stride + r
            if pos < first { continue }
            if pos >= end { break }
            if accumulate { yRow[pos] += tRow[j] } else { yRow[pos] = tRow[j] }
        }
    }
}

/// Lanes of a and b alternated: (a0 b0 a1 b1 a2 b2 a3 b3, a4 b4 … a7 b7) (two unpack instructions).
@inline(__always)
func zip2(_ a: Vec8, _ b: Vec8) -> (Vec8, Vec8) {
    (Vec8(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]), Vec8(a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7]))
}

@inline(__always)
private func put8(_ v: Vec8, _ p: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
    store8(accumulate ? load8(p) + v : v, p)
}

/// A full 4 × 24 tile of a stride-2 or stride-4 transposed conv: stride 2 holds (co, 0), (co, 1),
/// (co + 1, 0), (co + 1, 1), each pair one contiguous run of 48 outputs; stride 4 holds (co, 0…3), one run
/// of 96 outputs.
@inline(__always)
private func storeInterleavedTile(_ t: UnsafeMutablePointer<Float>, _ ldt: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int,
                                  _ stride: Int, _ accumulate: Bool, _ row0: Int, _ col: Int) {
    if stride == 2 {
        for pair in 0..<2 {
            let co = row0 / 2 + pair
            let a = t + 2 * pair * ldt, b = a + ldt  // rows (co, 0) and (co, 1)
            let out = y + co * ldy + col * 2         // y[co, 2·col ...]
            for k in 0..<3 {
                let (lo, hi) = zip2(load8(a + 8 * k), load8(b + 8 * k))
                put8(lo, out + 16 * k, accumulate)
                put8(hi, out + 16 * k + 8, accumulate)
            }
        }
    } else {
        let co = row0 / 4
        let out = y + co * ldy + col * 4  // y[co, 4·col ...]
        for k in 0..<3 {
            let (ac0, ac1) = zip2(load8(t + 8 * k), load8(t + 2 * ldt + 8 * k))         // rows r = 0, 2
            let (bd0, bd1) = zip2(load8(t + ldt + 8 * k), load8(t + 3 * ldt + 8 * k))   // rows r = 1, 3
            let (o0, o1) = zip2(ac0, bd0)
            let (o2, o3) = zip2(ac1, bd1)
            put8(o0, out + 32 * k, accumulate); put8(o1, out + 32 * k + 8, accumulate)
            put8(o2, out + 32 * k + 16, accumulate); put8(o3, out + 32 * k + 24, accumulate)
        }
    }
}

// MARK: Staging helpers shared by the conv kernels

/// One staged row: `dst[j] = f(src[j·step])` for j < count, zeros for `count ≤ j < width`, with `f` = ELU
/// when `alpha` is set (else a copy).
@inline(__always)
func stageRow(_ dst: UnsafeMutablePointer<Float>, width: Int, src: UnsafePointer<Float>, step: Int, count: Int, alpha: Float?) {
    let n = max(0, min(count, width))
    if step == 1 {
        if let alpha {
            var j = 0
            while j + 8 <= n { store8(elu8(load8(src + j), alpha), dst + j); j += 8 }
            if j < n {
                var v = Vec8()
                for l in 0..<(n - j) { v[l] = src[j + l] }
                v = elu8(v, alpha)
                for l in 0..<(n - j) { dst[j + l] = v[l] }
            }
        } else {
            dst.update(from: src, count: n)
        }
    } else {
        var p = src
        for j in 0..<n { dst[j] = p.pointee; p += step }
        if let alpha { eluRowInPlace(dst, n, alpha) }
    }
    (dst + n).update(repeating: 0, count: width - n)
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
