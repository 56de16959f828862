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

/// Conv weights rearranged once for the fast kernel: row tiles of 4, each `[tap][ci][4]`, zero past the
/// last row; bias per row (zeros when absent). Build it once per layer and reuse it across calls.
public final class PackedConvWeights: @unchecked Sendable {
    /// GEMM rows (output channels; for a transposed conv, output channels × stride).
    public let rows: Int
    /// Kernel taps in the packed reduction (K for Conv1d, ⌈K / stride⌉ for ConvTranspose1d).
    public let taps: Int
    /// Input channels.
    public let inChannels: Int
    let tiles: Int
    let a: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(rows: Int, taps: Int, inChannels: Int, weight: (_ row: Int, _ tap: Int, _ ci: Int) -> Float,
         bias: (_ row: Int) -> Float) {
        precondition(rows > 0 && taps > 0 && inChannels > 0, "PackedConvWeights: empty (rows \(rows), taps \(taps), Cin \(inChannels))")
        self.rows = rows
        self.taps = taps
        self.inChannels = inChannels
        tiles = (rows + tileRows - 1) / tileRows
        let panel = taps * inChannels * tileRows
        a = UnsafeMutableRawPointer.allocate(byteCount: tiles * panel * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: tiles * panel)
        self.bias = UnsafeMutablePointer<Float>.allocate(capacity: tiles * tileRows)
        for tile in 0..<tiles {
            let aTile = a + tile * panel  // A[tile][tap][ci][4]
            for i in 0..<tileRows {
                let row = tile * tileRows + i
                self.bias[tile * tileRows + i] = row < rows ? bias(row) : 0
                for tap in 0..<taps {
                    for ci in 0..<inChannels {
                        aTile[(tap * inChannels + ci) * tileRows + i] = row < rows ? weight(row, tap, ci) : 0
                    }
                }
            }
        }
    }

    deinit {
        a.deallocate()
        bias.deallocate()
    }

    @inline(__always) func panel(_ tile: Int) -> UnsafePointer<Float> {
        UnsafePointer(a + tile * taps * inChannels * tileRows)
    }
}

/// One 4 × 24 register tile: `c[i, j] (+)= bias[i] + Σ_tap Σ_ci a[tap, ci, i] · s[offsets[tap] + ci·ld + j]`.
/// `a` is a packed panel, `c` has row stride `ldc`; reads 24 columns of every source row.
@inline(never)
func convMicroKernel(_ a: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ s: UnsafePointer<Float>,
                     _ offsets: UnsafePointer<Int>, _ taps: Int, _ cin: Int, _ ld: Int,
                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
    var c00 = Vec8(repeating: bias[0]), c01 = c00, c02 = c00
    var c10 = Vec8(repeating: bias[1]), c11 = c10, c12 = c10
    var c20 = Vec8(repeating: bias[2]), c21 = c20, c22 = c20
    var c30 = Vec8(repeating: bias[3]), c31 = c30, c32 = c30
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
    let c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc
    if accumulate {
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
    /// `C[row, col]` → `y[row·ldy + col]` for col < cols.
    case rows(y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool)
    /// Transposed-conv phases: row = co·stride + r, col = u → `y[co·ldy + u·stride + r]` when that
    /// position is below `length`.
    case interleaved(y: UnsafeMutablePointer<Float>, ldy: Int, stride: Int, length: Int, accumulate: Bool)
}

/// The source rows for one block of output columns, as the micro-kernel reads them.
struct ConvBlockSource {
    /// `S` for the block: column `c0` of the block is `base[offset[tap] + ci·ld + 0]`.
    var base: UnsafePointer<Float>
    var ld: Int
}

/// Runs `C = A ⊛ S` over output columns `0..<cols` with the blocked loop nest, threaded by column blocks
/// (or by row tiles when there are few columns).
///
/// - `maxBlockCols`: widest column block whose source fits the cache budget.
/// - `plan(nc)`: for blocks of at most `nc` columns (a multiple of 24), the scratch size `prepare` needs
///   (0 if none) and, per tap, the element offset added to a block's `base`.
/// - `prepare(c0, bc, nc, scratch)`: returns the source for columns `c0..<c0+bc` (`bc ≤ nc`, `nc` the
///   planned block width), readable for 24-column strips rounded up past `bc` (a scratch copy, zero
///   padded, or the input itself).
func runConvCore(weights: PackedConvWeights, cols: Int, maxBlockCols: Int,
                 plan: (Int) -> (scratchFloats: Int, offsets: [Int]),
                 prepare: (Int, Int, Int, UnsafeMutablePointer<Float>?) -> ConvBlockSource,
                 store: ConvStore) {
    guard cols > 0 else { return }
    let threads = Parallel.threadCount
    let tiles = weights.tiles
    let maxNC = max(tileCols, maxBlockCols / tileCols * tileCols)
    var blocks = (cols + maxNC - 1) / maxNC
    // Equal work per thread: round the block count up to a multiple of the thread count.
    if threads > 1 && blocks >= threads { blocks = (blocks + threads - 1) / threads * threads }
    var nc = (cols + blocks - 1) / blocks
    nc = (nc + tileCols - 1) / tileCols * tileCols
    blocks = (cols + nc - 1) / nc
    // Work per column block in multiply-adds, to keep tiny problems on one thread.
    let macs = weights.rows * weights.taps * weights.inChannels * cols
    let serial = threads == 1 || macs < 1 << 18
    let byColumns = blocks >= threads || tiles < 2 * threads
    let (need, offsets) = plan(nc)
    precondition(offsets.count == weights.taps, "runConvCore: \(offsets.count) offsets for \(weights.taps) taps")

    offsets.withUnsafeBufferPointer { offs in
        let offs = offs.baseAddress!
        func work(_ blockRange: Range<Int>, _ tileRange: Range<Int>) {
            let scratch: UnsafeMutablePointer<Float>? = need > 0
                ? UnsafeMutableRawPointer.allocate(byteCount: need * 4, alignment: 64).bindMemory(to: Float.self, capacity: need)
                : nil
            defer { scratch?.deallocate() }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: tileRows * tileCols) { tileBuf in
                let tileBuf = tileBuf.baseAddress!
                for block in blockRange {
                    let c0 = block * nc
                    let bc = min(nc, cols - c0)
                    let src = prepare(c0, bc, nc, scratch)
                    for tile in tileRange {
                        let aPanel = weights.panel(tile)
                        let bias = UnsafePointer(weights.bias + tile * tileRows)
                        let row0 = tile * tileRows
                        let fullRows = row0 + tileRows <= weights.rows
                        var j = 0
                        while j < bc {
                            let w = min(tileCols, bc - j)
                            let s = src.base + j
                            if case .rows(let y, let ldy, let acc) = store, fullRows, w == tileCols {
                                convMicroKernel(aPanel, bias, s, offs, weights.taps, weights.inChannels, src.ld,
                                                y + row0 * ldy + c0 + j, ldy, acc)
                            } else {
                                convMicroKernel(aPanel, bias, s, offs, weights.taps, weights.inChannels, src.ld,
                                                tileBuf, tileCols, false)
                                copyTile(tileBuf, rows: min(tileRows, weights.rows - row0), row0: row0,
                                         cols: w, col0: c0 + j, store: store)
                            }
                            j += tileCols
                        }
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

/// Writes the valid part of a 4 × 24 tile buffer to its destination.
@inline(__always)
private func copyTile(_ t: UnsafeMutablePointer<Float>, rows: Int, row0: Int, cols: Int, col0: Int, store: ConvStore) {
    switch store {
    case .rows(let y, let ldy, let acc):
        for i in 0..<rows {
            let yRow = y + (row0 + i) * ldy + col0  // y[row0 + i, col0...]
            let tRow = t + i * tileCols
            if acc { for j in 0..<cols { yRow[j] += tRow[j] } } else { for j in 0..<cols { yRow[j] = tRow[j] } }
        }
    case .interleaved(let y, let ldy, let stride, let length, let acc):
        for i in 0..<rows {
            let row = row0 + i
            let co = row / stride, r = row % stride
            let yRow = y + co * ldy  // y[co, :]
            let tRow = t + i * tileCols
            for j in 0..<cols {
                let pos = (col0 + j) * stride + r
                if pos >= length { break }
                if acc { yRow[pos] += tRow[j] } else { yRow[pos] = tRow[j] }
            }
        }
    }
}
