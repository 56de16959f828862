// ConvWinograd: the K = 2·s convolution and transposed convolution (SEANet's down- and up-sampling layers) as
// 2-tap convolutions over super-frames of s steps, computed two outputs at a time with F(2,2): 3 products
// instead of 4 (−25 % multiply-adds). Legend: s stride, u_t super-frame t of the input (s·Cin values).
import Foundation

// A conv with K = 2s and stride s: y_t = G0·u_t + G1·u_{t+1} (G0 = taps 0..<s, G1 = taps s..<2s). For a
// pair (y_{2p}, y_{2p+1}):
//     m1 = G0·(u_{2p} − u_{2p+1}),  m2 = bias + (G0 + G1)·u_{2p+1},  m3 = G1·(u_{2p+2} − u_{2p+1})
//     y_{2p} = m2 + m1,  y_{2p+1} = m2 + m3.
// A transposed conv with K = 2s, stride s: output super-frame z_u (positions u·s + r, rows (co, r)) is
// z_u = A·x_u + B·x_{u−1} (A = taps 0..<s, B = taps s..<2s); for a pair (z_{2q}, z_{2q+1}):
//     m1 = B·(x_{2q−1} − x_{2q}),  m2 = bias + (A + B)·x_{2q},  m3 = A·(x_{2q+1} − x_{2q})
//     z_{2q} = m2 + m1,  z_{2q+1} = m2 + m3.
// Pairs are anchored on the ABSOLUTE index (output t of a conv, input/super-frame u of a transposed conv,
// counted from the start of the stream), so each output is computed by the same operations whether its
// partner is computed in the same call or not: streaming in any blocks gives the bits of one call. Each m is
// a product of the tiled core (fixed summation order), so results do not depend on the thread count either.

/// Weights of a K = 2·s layer in F(2,2) form, packed once for `conv1dWinogradForward` or
/// `convTranspose1dWinogradForward`: the three products' matrices (the bias rides on the middle one).
public final class WinogradConvWeights: @unchecked Sendable {
    /// The layer's stride s (K = 2s).
    public let stride: Int
    /// True for a transposed conv.
    public let transposed: Bool
    /// Output channels Cout and input channels Cin of the layer.
    public let outChannels: Int, inChannels: Int
    /// m1's matrix (G0, or B for a transposed conv), no bias.
    let first: PackedConvWeights
    /// m2's matrix (G0 + G1, or A + B), with the bias.
    let sum: PackedConvWeights
    /// m3's matrix (G1, or A), no bias.
    let last: PackedConvWeights

    init(stride: Int, transposed: Bool, outChannels: Int, inChannels: Int, first: PackedConvWeights, sum: PackedConvWeights,
         last: PackedConvWeights) {
        self.stride = stride; self.transposed = transposed
        self.outChannels = outChannels; self.inChannels = inChannels
        self.first = first; self.sum = sum; self.last = last
    }

    /// Whether a conv (or transposed conv) of this size has the 2-tap form: K = 2s, s > 1, dilation 1.
    public static func applies(kernelSize: Int, stride: Int, dilation: Int = 1) -> Bool {
        stride > 1 && kernelSize == 2 * stride && dilation == 1
    }
}

/// Packs Conv1d weights `[Cout, Cin, 2s]` and bias `[Cout]` (or nil) for `conv1dWinogradForward`:
/// G0[co, r, ci] = w[co, ci, r], G1[co, r, ci] = w[co, ci, s + r] and their sum (rounded once), each as a
/// conv with s taps (the stride phases) over Cin channels.
public func packConv1dWinogradWeights(_ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels: Int,
                                      inChannels: Int, stride s: Int) -> WinogradConvWeights {
    precondition(s > 1, "packConv1dWinogradWeights: stride \(s) must be > 1")
    let k = 2 * s
    func w(_ co: Int, _ ci: Int, _ tap: Int) -> Float { weight[(co * inChannels + ci) * k + tap] }  // w[co, ci, tap]
    let g0 = PackedConvWeights(rows: outChannels, taps: s, inChannels: inChannels, weight: { co, r, ci in w(co, ci, r) }, bias: { _ in 0 })
    let g01 = PackedConvWeights(rows: outChannels, taps: s, inChannels: inChannels, weight: { co, r, ci in w(co, ci, r) + w(co, ci, s + r) },
                                bias: { co in bias?[co] ?? 0 })
    let g1 = PackedConvWeights(rows: outChannels, taps: s, inChannels: inChannels, weight: { co, r, ci in w(co, ci, s + r) }, bias: { _ in 0 })
    return WinogradConvWeights(stride: s, transposed: false, outChannels: outChannels, inChannels: inChannels, first: g0, sum: g01, last: g1)
}

/// Packs ConvTranspose1d weights `[Cin, Cout, 2s]` and bias `[Cout]` (or nil) for
/// `convTranspose1dWinogradForward`: rows (co, r) = co·s + r, one tap, A[(co, r), ci] = w[ci, co, r],
/// B[(co, r), ci] = w[ci, co, s + r] and A + B (rounded once).
public func packConvTranspose1dWinogradWeights(_ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, inChannels: Int,
                                               outChannels: Int, stride s: Int) -> WinogradConvWeights {
    precondition(s > 1, "packConvTranspose1dWinogradWeights: stride \(s) must be > 1")
    let k = 2 * s
    func w(_ row: Int, _ ci: Int, _ half: Int) -> Float {  // w[ci, co, half·s + r] for row (co, r)
        weight[(ci * outChannels + row / s) * k + half * s + row % s]
    }
    let rows = outChannels * s
    let b = PackedConvWeights(rows: rows, taps: 1, inChannels: inChannels, weight: { row, _, ci in w(row, ci, 1) }, bias: { _ in 0 })
    let ab = PackedConvWeights(rows: rows, taps: 1, inChannels: inChannels, weight: { row, _, ci in w(row, ci, 0) + w(row, ci, 1) },
                               bias: { row in bias?[row / s] ?? 0 })
    let a = PackedConvWeights(rows: rows, taps: 1, inChannels: inChannels, weight: { row, _, ci in w(row, ci, 0) }, bias: { _ in 0 })
    return WinogradConvWeights(stride: s, transposed: true, outChannels: outChannels, inChannels: inChannels, first: b, sum: ab, last: a)
}

/// Pairs per chunk: the three products of a chunk are kept in a `[3, rows, pairs]` scratch until they are
/// combined into the output, so a chunk's partial products stay in cache (about 384 KiB), but no fewer than
/// one wide column block (weights are read once per chunk).
func winogradChunkPairs(rows: Int) -> Int {
    let n = max(maxColumnBlock, 32768 / max(1, rows))
    return (n + tileCols - 1) / tileCols * tileCols
}

/// Conv1d forward for K = 2·s, stride s > 1, dilation 1, by F(2,2) (same contract and result, up to
/// rounding, as `conv1dForward`):
/// `out[b, co, t] (+)= bias[co] + Σ_ci Σ_k weight[co, ci, k] · xp[b, ci, t·s + k]`, xp = pad1d(f(x)).
///
/// - firstOutputIndex: the absolute index (from the start of the stream) of output 0 of this call; outputs
///   pair as (even, odd) absolute indices, so a stream cut anywhere gives the bits of one call.
/// - Other arguments as `conv1dForward(out:x:packed:…)`; `weights` from `packConv1dWinogradWeights`.
/// Each output is `m2 + m1` (even) or `m2 + m3` (odd), each m summed by the tiled core in its fixed order:
/// independent of the thread count and of where calls or column blocks start.
public func conv1dWinogradForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weights: WinogradConvWeights,
                                  shape: Conv1dShape, padMode: PadMode = .zero, inputELU alpha: Float? = nil,
                                  accumulate: Bool = false, inputRowStride: Int? = nil, outputRowStride: Int? = nil,
                                  firstOutputIndex: Int = 0) {
    shape.validate("conv1dWinogradForward")
    let s = shape.stride, cin = shape.inChannels, cout = shape.outChannels, tin = shape.inLength, tout = shape.outLength
    precondition(!weights.transposed && weights.stride == s && shape.kernelSize == 2 * s && shape.dilation == 1
                 && weights.outChannels == cout && weights.inChannels == cin && firstOutputIndex >= 0,
                 "conv1dWinogradForward: weights (s \(weights.stride), [\(weights.outChannels), \(weights.inChannels)]) do not fit \(shape)")
    let ldx = inputRowStride ?? tin, ldy = outputRowStride ?? tout
    precondition(ldx >= tin && ldy >= tout, "conv1dWinogradForward: row strides (\(ldx), \(ldy)) shorter than the rows (\(tin), \(tout))")
    if case .replicate = padMode, shape.padLeft + shape.padRight > 0 {
        precondition(tin > 0, "conv1dWinogradForward: replicate padding of an empty input")
    }
    guard tout > 0 else { return }
    let e = firstOutputIndex & 1
    // Pair p holds local outputs 2p − e and 2p + 1 − e; its centre super-frame is c = 2p + 1 − e.
    let pairs = (tout + e + 1) / 2
    let chunk = min(winogradChunkPairs(rows: cout), (pairs + tileCols - 1) / tileCols * tileCols)
    // Per chunk, each input element is staged (padded, ELU'd) once, split by super-frame parity:
    // V[ci][r'][j] = xp[(f0 + 2j)·s + r'] for r' < 2s (f0 = 2p0 − e): rows r < s hold u_{c−1} of pair j
    // (and u_{c+1} of pair j − 1), rows s + r hold u_c.
    var phased = shape
    phased.stride = 2 * s
    var unit = shape
    unit.stride = 1
    let ldv = (chunk + 9 + 7) / 8 * 8
    let products = [weights.first, weights.sum, weights.last]
    /// Pairs p0 ..< p0 + n of batch item b: stage, three products into `m`, combine into the output.
    func runChunk(_ b: Int, _ p0: Int, _ n: Int, _ plane: WinogradPlanes, _ m: UnsafeMutablePointer<Float>, threaded: Bool) {
        let xb = x + b * cin * ldx    // x[b, :, :]
        let yb = out + b * cout * ldy  // out[b, :, :]
        let f0 = 2 * p0 - e
        forEachChannelRange(cin, minChunk: max(1, 1 << 16 / max(1, 2 * s * n)), threaded: threaded) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * s) { tmp in
                for ci in range {
                    let v = plane.channel(ci), xRow = xb + ci * ldx
                    if f0 >= 0 {
                        stagePhases(v, ld: ldv, xRow: xRow, shape: phased, first: f0 * s, mode: padMode, alpha: alpha, tmp: tmp.baseAddress!)
                    } else {
                        // f0 = −1: column 0 holds u_{−1} (read only for a discarded output: zeros) and u_0;
                        // columns j ≥ 1 from position s on (the write past each row lands in column 0
                        // of the next row, or the channel's slack, and is overwritten here).
                        stagePhases(v + 1, ld: ldv, xRow: xRow, shape: phased, first: s, mode: padMode, alpha: alpha, tmp: tmp.baseAddress!)
                        for r in 0..<s {
                            v[r * ldv] = 0
                            stagePaddedRow(v + (s + r) * ldv, width: 1, xRow: xRow, shape: unit, first: r, mode: padMode, alpha: alpha)
                        }
                    }
                }
            }
        }
        for (kind, packed) in products.enumerated() {
            runConvCore(weights: packed, cols: n, layout: { nc in
                ConvStageLayout(channelStride: s * nc, tapOffsets: (0..<s).map { $0 * nc })
            }, stage: { ciLo, ciHi, c0, bc, nc, dst in
                for ci in ciLo..<ciHi {
                    let v = plane.channel(ci) + c0
                    for r in 0..<s {
                        stageDifferences(dst + ((ci - ciLo) * s + r) * nc, count: bc, width: nc,
                                         a: v + r * ldv, b: v + (s + r) * ldv, kind: kind)
                    }
                }
            }, store: .rows(y: m + kind * cout * n, ldy: n, accumulate: false), threaded: threaded)
        }
        for co in 0..<cout {
            combinePairs(y: yb + co * ldy, m1: m + co * n, m2: m + (cout + co) * n, m3: m + (2 * cout + co) * n,
                         pairs: n, firstEven: 2 * p0 - e, length: tout, accumulate: accumulate)
        }
    }
    runWinogradChunks(batch: shape.batch, pairs: pairs, chunk: chunk,
                      buffers: { (WinogradPlanes(channels: cin, rowsPerChannel: 2 * s, ld: ldv), 3 * cout * chunk) },
                      run: { b, p0, n, plane, m, threaded in runChunk(b, p0, n, plane, m, threaded: threaded) })
}

/// `body` over `0..<count` channels: split over threads by `parallelFor`, or all on the calling thread.
@inline(__always)
private func forEachChannelRange(_ count: Int, minChunk: Int, threaded: Bool, _ body: (Range<Int>) -> Void) {
    if threaded { parallelFor(count, minChunk: minChunk, body) } else { body(0..<count) }
}

/// Runs the chunks of pairs (`chunk` pairs each, the last shorter) of every batch item. With several
/// threads and at least 3 chunks per thread, whole chunks go to the threads, each with its own staging
/// planes and product buffers (chunks write disjoint outputs); otherwise the chunks run in order and each
/// one's staging and products are split over the threads. The arithmetic of a chunk is the same either
/// way, so the result does not depend on the thread count.
/// - buffers: the staging planes and the product buffer's float count for one worker.
private func runWinogradChunks(batch: Int, pairs: Int, chunk: Int,
                               buffers: () -> (WinogradPlanes, Int),
                               run: (_ b: Int, _ p0: Int, _ n: Int, WinogradPlanes, UnsafeMutablePointer<Float>, _ threaded: Bool) -> Void) {
    guard pairs > 0 else { return }
    let chunks = (pairs + chunk - 1) / chunk
    let threads = Parallel.threadCount
    func withBuffers(_ body: (WinogradPlanes, UnsafeMutablePointer<Float>) -> Void) {
        let (plane, count) = buffers()
        let m = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        defer { m.deallocate(); plane.deallocate() }
        body(plane, m)
    }
    if threads > 1 && batch * chunks >= 3 * threads {
        parallelFor(batch * chunks) { range in
            withBuffers { plane, m in
                for i in range {
                    let b = i / chunks, p0 = (i % chunks) * chunk
                    run(b, p0, min(chunk, pairs - p0), plane, m, false)
                }
            }
        }
    } else {
        withBuffers { plane, m in
            for b in 0..<batch {
                var p0 = 0
                while p0 < pairs { run(b, p0, min(chunk, pairs - p0), plane, m, true); p0 += chunk }
            }
        }
    }
}

/// Per-chunk staging of the super-frames: `rowsPerChannel` rows of `ld` floats per channel, plus slack
/// (so a write one past a channel's last row stays inside the channel).
struct WinogradPlanes {
    let base: UnsafeMutablePointer<Float>
    let channelStride: Int

    init(channels: Int, rowsPerChannel: Int, ld: Int) {
        channelStride = rowsPerChannel * ld + 16
        base = UnsafeMutableRawPointer.allocate(byteCount: channels * channelStride * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: channels * channelStride)
    }

    @inline(__always) func channel(_ ci: Int) -> UnsafeMutablePointer<Float> { base + ci * channelStride }
    func deallocate() { base.deallocate() }
}

/// `row[j]` for j < count from the parity rows a (u_{c−1}, and u_{c+1} at j + 1) and b (u_c):
/// kind 0 → a[j] − b[j], 1 → b[j], 2 → a[j + 1] − b[j]; zeros for count ≤ j < width. Reads a and b up to
/// 8 columns past count (rounded up), which must be readable.
@inline(__always)
private func stageDifferences(_ row: UnsafeMutablePointer<Float>, count: Int, width: Int, a: UnsafePointer<Float>,
                              b: UnsafePointer<Float>, kind: Int) {
    var j = 0
    switch kind {
    case 0: while j < count { store8(load8(a + j) - load8(b + j), row + j); j += 8 }
    case 1: while j < count { store8(load8(b + j), row + j); j += 8 }
    default: while j < count { store8(load8(a + j + 1) - load8(b + j), row + j); j += 8 }
    }
    (row + count).update(repeating: 0, count: width - count)
}

/// One output row of a conv: for pair j < pairs, `y[firstEven + 2j] = m2[j] + m1[j]` and
/// `y[firstEven + 2j + 1] = m2[j] + m3[j]` (added to y when `accumulate`), for indices in 0 ..< length.
@inline(__always)
private func combinePairs(y: UnsafeMutablePointer<Float>, m1: UnsafePointer<Float>, m2: UnsafePointer<Float>, m3: UnsafePointer<Float>,
                          pairs: Int, firstEven: Int, length: Int, accumulate: Bool) {
    @inline(__always) func put(_ t: Int, _ v: Float) {
        if t >= 0 && t < length { y[t] = accumulate ? y[t] + v : v }
    }
    var j = 0
    // Edge pairs one by one; inside, 8 pairs (16 outputs) per step, interleaved in registers.
    while j < pairs && firstEven + 2 * j < 0 { put(firstEven + 2 * j, m2[j] + m1[j]); put(firstEven + 2 * j + 1, m2[j] + m3[j]); j += 1 }
    while j + 8 <= pairs && firstEven + 2 * j + 16 <= length {
        let v2 = load8(m2 + j)
        let (lo, hi) = zip2(v2 + load8(m1 + j), v2 + load8(m3 + j))
        let yp = y + firstEven + 2 * j
        if accumulate {
            store8(load8(yp) + lo, yp); store8(load8(yp + 8) + hi, yp + 8)
        } else {
            store8(lo, yp); store8(hi, yp + 8)
        }
        j += 8
    }
    while j < pairs { put(firstEven + 2 * j, m2[j] + m1[j]); put(firstEven + 2 * j + 1, m2[j] + m3[j]); j += 1 }
}

/// ConvTranspose1d forward for K = 2·s, stride s > 1, by F(2,2) (same contract and result, up to rounding,
/// as `convTranspose1dForward`): `full[b, co, t·s + k] = bias[co] + Σ_ci Σ_{t,k} f(x[b, ci, t])·weight[ci, co, k]`,
/// `out[b, co, p] = full[b, co, trimLeft + p]`.
///
/// - firstInputIndex: the absolute index (from the start of the stream) of input step 0 of this call;
///   output super-frames pair as (even, odd) absolute indices, so a stream cut anywhere gives the bits of
///   one call (inputs outside the call count as zeros, as in `convTranspose1dForward`).
/// - Other arguments as `convTranspose1dForward(out:x:packed:…)`; `weights` from
///   `packConvTranspose1dWinogradWeights`.
public func convTranspose1dWinogradForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weights: WinogradConvWeights,
                                           shape: ConvTranspose1dShape, inputELU alpha: Float? = nil, accumulate: Bool = false,
                                           inputRowStride: Int? = nil, outputRowStride: Int? = nil, firstInputIndex: Int = 0) {
    shape.validate("convTranspose1dWinogradForward")
    let s = shape.stride, cin = shape.inChannels, cout = shape.outChannels, t = shape.inLength, outLen = shape.outLength
    precondition(weights.transposed && weights.stride == s && shape.kernelSize == 2 * s && weights.outChannels == cout
                 && weights.inChannels == cin && firstInputIndex >= 0,
                 "convTranspose1dWinogradForward: weights (s \(weights.stride), [\(weights.inChannels), \(weights.outChannels)]) do not fit \(shape)")
    let ldx = inputRowStride ?? t, ldy = outputRowStride ?? outLen
    precondition(ldx >= t && ldy >= outLen, "convTranspose1dWinogradForward: row strides (\(ldx), \(ldy)) shorter than the rows (\(t), \(outLen))")
    guard outLen > 0 else { return }
    let first = shape.trimLeft, end = shape.fullLength - shape.trimRight  // kept full-output positions
    let e = firstInputIndex & 1
    // Pair q holds local super-frames 2q − e and 2q + 1 − e, centre input c = 2q − e; only pairs that
    // reach the kept window.
    let uLo = first / s, uHi = (end - 1) / s + 1
    let qLo = (uLo + e) / 2, qHi = (uHi - 1 + e) / 2 + 1
    let pairs = qHi - qLo
    let rows = cout * s
    let chunk = min(winogradChunkPairs(rows: rows), (pairs + tileCols - 1) / tileCols * tileCols)
    // Per chunk, each input staged (ELU'd) once, split by parity: V[ci][0][j] = x_{f + 2j} (x_{c−1} of pair j,
    // x_{c+1} of pair j − 1), V[ci][1][j] = x_{f + 2j + 1} (x_c), f = 2q0 − e − 1; zeros outside 0 ..< T.
    let ldv = (chunk + 9 + 7) / 8 * 8
    let products = [weights.first, weights.sum, weights.last]
    /// Pairs q0 ..< q0 + n of batch item b: stage, three products into `m`, combine into the output.
    func runChunk(_ b: Int, _ q0: Int, _ n: Int, _ plane: WinogradPlanes, _ m: UnsafeMutablePointer<Float>, threaded: Bool) {
        let xb = x + b * cin * ldx     // x[b, :, :]
        let yb = out + b * cout * ldy  // out[b, :, :]
        let f = 2 * q0 - e - 1
        forEachChannelRange(cin, minChunk: max(1, 1 << 16 / max(1, 2 * n)), threaded: threaded) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * ldv) { spanBuf in
                let span = spanBuf.baseAddress!, width = 2 * ldv
                let lo = min(width, max(0, -f)), hi = max(lo, min(width, t - f))
                for ci in range {
                    span.update(repeating: 0, count: lo)
                    stageRow(span + lo, width: width - lo, src: xb + ci * ldx + f + lo, step: 1, count: hi - lo, alpha: alpha)
                    let v = plane.channel(ci)
                    var j = 0
                    while j < ldv {
                        let (even, odd) = unzip2(load8(span + 2 * j), load8(span + 2 * j + 8))
                        store8(even, v + j); store8(odd, v + ldv + j)
                        j += 8
                    }
                }
            }
        }
        for (kind, packed) in products.enumerated() {
            runConvCore(weights: packed, cols: n, layout: { nc in ConvStageLayout(channelStride: nc, tapOffsets: [0]) },
                        stage: { ciLo, ciHi, c0, bc, nc, dst in
                for ci in ciLo..<ciHi {
                    let v = plane.channel(ci) + c0
                    stageDifferences(dst + (ci - ciLo) * nc, count: bc, width: nc, a: v, b: v + ldv, kind: kind)
                }
            }, store: .rows(y: m + kind * rows * n, ldy: n, accumulate: false), threaded: threaded)
        }
        combineSuperFrames(y: yb, ldy: ldy, m: m, ld: n, rows: rows, stride: s, pairs: n,
                           firstEven: 2 * q0 - e, first: first, end: end, accumulate: accumulate)
    }
    runWinogradChunks(batch: shape.batch, pairs: pairs, chunk: chunk,
                      buffers: { (WinogradPlanes(channels: cin, rowsPerChannel: 2, ld: ldv), 3 * rows * chunk) },
                      run: { b, p0, n, plane, m, threaded in runChunk(b, qLo + p0, n, plane, m, threaded: threaded) })
}

/// Writes the pairs of a transposed conv: row (co, r) = co·s + r of the products `m[kind, row, j]` (row
/// stride `ld`, kinds 0, 1, 2 = m1, m2, m3 each `rows × ld`) gives full position (firstEven + 2j)·s + r the
/// value m2 + m1 and position (firstEven + 2j + 1)·s + r the value m2 + m3; kept when `first ≤ pos < end`,
/// at `y[co·ldy + pos − first]` (added when `accumulate`).
private func combineSuperFrames(y: UnsafeMutablePointer<Float>, ldy: Int, m: UnsafePointer<Float>, ld: Int, rows: Int,
                                stride s: Int, pairs: Int, firstEven: Int, first: Int, end: Int, accumulate: Bool) {
    let cout = rows / s
    let plane = rows * ld
    @inline(__always) func put(_ p: UnsafeMutablePointer<Float>, _ v: Float) { p.pointee = accumulate ? p.pointee + v : v }
    // Pairs whose 2s positions all lie in the window: jLo ..< jHi (8 at a time, no bounds checks).
    let jLo = min(pairs, max(0, ((first + s - 1) / s - firstEven + 1) / 2))
    let jHi = max(jLo, min(pairs, (end / s - firstEven) / 2))
    for co in 0..<cout {
        let yRow = y + co * ldy - first  // y[co, :] in full-output positions
        let m1 = m + co * s * ld, m2 = m1 + plane, m3 = m2 + plane  // rows (co, 0 ..< s)
        func scalar(_ j: Int) {
            for r in 0..<s {
                let pe = (firstEven + 2 * j) * s + r, po = pe + s
                let v2 = m2[r * ld + j]
                if pe >= first && pe < end { put(yRow + pe, v2 + m1[r * ld + j]) }
                if po >= first && po < end { put(yRow + po, v2 + m3[r * ld + j]) }
            }
        }
        var j = 0
        while j < jLo { scalar(j); j += 1 }
        while j + 8 <= jHi {
            let out = yRow + (firstEven + 2 * j) * s  // 16·s positions: pair l at 2l·s, even then odd super-frame
            if s == 2 {
                let v20 = load8(m2 + j), v21 = load8(m2 + ld + j)
                let (e0, e1) = zip2(v20 + load8(m1 + j), v21 + load8(m1 + ld + j))  // (E0 E1) per pair
                let (o0, o1) = zip2(v20 + load8(m3 + j), v21 + load8(m3 + ld + j))  // (O0 O1) per pair
                let (a, b) = zip2x64(e0, o0), (c, d) = zip2x64(e1, o1)
                if accumulate {
                    store8(load8(out) + a, out); store8(load8(out + 8) + b, out + 8)
                    store8(load8(out + 16) + c, out + 16); store8(load8(out + 24) + d, out + 24)
                } else {
                    store8(a, out); store8(b, out + 8); store8(c, out + 16); store8(d, out + 24)
                }
            } else if s == 4 {
                // Rows E0..E3, O0..O3 (lane l = pair l) transposed: pair l's 8 outputs are column l.
                @inline(__always) func eo(_ r: Int) -> (Vec8, Vec8) {
                    let v2 = load8(m2 + r * ld + j)
                    return (v2 + load8(m1 + r * ld + j), v2 + load8(m3 + r * ld + j))
                }
                let (e0, o0) = eo(0), (e1, o1) = eo(1), (e2, o2) = eo(2), (e3, o3) = eo(3)
                let (a0, a1) = zip2(e0, e1), (b0, b1) = zip2(e2, e3)
                let (c0, c1) = zip2(o0, o1), (d0, d1) = zip2(o2, o3)
                let (ab0, ab1) = zip2x64(a0, b0), (ab2, ab3) = zip2x64(a1, b1)
                let (cd0, cd1) = zip2x64(c0, d0), (cd2, cd3) = zip2x64(c1, d1)
                @inline(__always) func put16(_ k: Int, _ x: Vec8, _ y: Vec8) {
                    let (lo, hi) = zip4x128(x, y), o = out + 16 * k  // pairs 2k and 2k + 1
                    if accumulate {
                        store8(load8(o) + lo, o); store8(load8(o + 8) + hi, o + 8)
                    } else {
                        store8(lo, o); store8(hi, o + 8)
                    }
                }
                put16(0, ab0, cd0); put16(1, ab1, cd1); put16(2, ab2, cd2); put16(3, ab3, cd3)
            } else {
                for r in 0..<s {
                    let v2 = load8(m2 + r * ld + j)
                    let ev = v2 + load8(m1 + r * ld + j), od = v2 + load8(m3 + r * ld + j)
                    let o = out + r
                    for l in 0..<8 { put(o + 2 * l * s, ev[l]); put(o + (2 * l + 1) * s, od[l]) }
                }
            }
            j += 8
        }
        while j < pairs { scalar(j); j += 1 }
    }
}

/// Halves alternated: (a0123 b0123, a4567 b4567).
@inline(__always)
private func zip4x128(_ a: Vec8, _ b: Vec8) -> (Vec8, Vec8) {
    (Vec8(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]), Vec8(a[4], a[5], a[6], a[7], b[4], b[5], b[6], b[7]))
}

/// Pairs of lanes alternated: (a01 b01 a23 b23, a45 b45 a67 b67).
@inline(__always)
private func zip2x64(_ a: Vec8, _ b: Vec8) -> (Vec8, Vec8) {
    (Vec8(a[0], a[1], b[0], b[1], a[2], a[3], b[2], b[3]), Vec8(a[4], a[5], b[4], b[5], a[6], a[7], b[6], b[7]))
}
