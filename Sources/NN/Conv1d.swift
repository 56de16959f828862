// Conv1d: forward kernel (fast, tiled) and its scalar reference, and the Conv1d layer (torch.nn.Conv1d),
// with optional padding applied while the input is staged (the pad1d rules of Padding.swift, no copy).
// Legend: B batch, Cin/Cout channels, Tin/Tout time, K kernel size, s stride, d dilation.
import Foundation

/// Sizes of a 1-D convolution over `[B, Cin, Tin]` with weights `[Cout, Cin, K]`, after padding the time
/// axis by `padLeft` and `padRight` (0 by default; the mode is an argument of the kernel).
public struct Conv1dShape: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    /// Input length Tin (unpadded); Tin + padLeft + padRight is at least the receptive field.
    public var inLength: Int
    public var kernelSize: Int
    public var stride: Int
    public var dilation: Int
    /// Steps of padding before the input.
    public var padLeft: Int
    /// Steps of padding after the input.
    public var padRight: Int

    public init(batch: Int = 1, inChannels: Int, outChannels: Int, inLength: Int, kernelSize: Int,
                stride: Int = 1, dilation: Int = 1, padLeft: Int = 0, padRight: Int = 0) {
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.inLength = inLength
        self.kernelSize = kernelSize
        self.stride = stride
        self.dilation = dilation
        self.padLeft = padLeft
        self.padRight = padRight
    }

    /// Receptive field of one output step: `dilation·(kernelSize − 1) + 1`.
    public var receptiveField: Int { dilation * (kernelSize - 1) + 1 }
    /// Tin + padLeft + padRight.
    public var paddedLength: Int { inLength + padLeft + padRight }
    /// Tout = ⌊(Tin + padLeft + padRight − d·(K − 1) − 1) / s⌋ + 1.
    public var outLength: Int { (paddedLength - receptiveField) / stride + 1 }
    /// Elements of the input `[B, Cin, Tin]`.
    public var inputCount: Int { batch * inChannels * inLength }
    /// Elements of the output `[B, Cout, Tout]`.
    public var outputCount: Int { batch * outChannels * outLength }
    /// Elements of the weight `[Cout, Cin, K]`.
    public var weightCount: Int { outChannels * inChannels * kernelSize }
    /// Multiply-adds of one forward pass (2 FLOPs each).
    public var multiplyAdds: Int { batch * outChannels * inChannels * kernelSize * outLength }

    func validate(_ caller: String) {
        precondition(batch >= 0 && inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0 && dilation > 0
                     && inLength >= 0 && padLeft >= 0 && padRight >= 0, "\(caller): invalid shape \(self)")
        precondition(paddedLength >= receptiveField,
                     "\(caller): padded input length \(paddedLength) is shorter than the receptive field \(receptiveField)")
    }
}

/// Packs `[Cout, Cin, K]` weights and a `[Cout]` bias for `conv1dForward(out:x:packed:…)`.
public func packConv1dWeights(_ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              outChannels: Int, inChannels: Int, kernelSize: Int) -> PackedConvWeights {
    PackedConvWeights(rows: outChannels, taps: kernelSize, inChannels: inChannels,
                      weight: { co, k, ci in weight[(co * inChannels + ci) * kernelSize + k] },  // w[co, ci, k]
                      bias: { co in bias?[co] ?? 0 })
}

/// Conv1d forward (fast path):
/// `out[b, co, t] (+)= bias[co] + Σ_ci Σ_k weight[co, ci, k] · xp[b, ci, t·s + k·d]`
/// with `xp = pad1d(f(x), padLeft, padRight, padMode)` and `f` = ELU(alpha) when `inputELU` is given (fused
/// pre-activation), else the identity: as EnCodec's ELU followed by SConv1d (the constant of `.constant`
/// padding is not passed through ELU). Padding and ELU happen while the input is staged: no padded copy.
///
/// - out: `[B, Cout, Tout]`, overwritten, or added to when `accumulate` (a fused residual add:
///   the conv result, bias included, is rounded and then added, exactly as `out + conv(x)`).
/// - x: `[B, Cin, Tin]`; weight `[Cout, Cin, K]` (PyTorch layout); bias `[Cout]` or nil.
/// Register-tiled (4 channels × 24 steps) over per-block staged input spans (see ConvCore.swift),
/// cache-blocked, threaded with `parallelFor` by time blocks or channel tiles. Each output's summation
/// order is fixed (bias, then channel blocks of ⌊256/K⌋ channels, tap-major within a block), so the result
/// is the same for every thread count and every way of cutting the time axis.
public func conv1dForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, shape: Conv1dShape,
                          padMode: PadMode = .zero, inputELU alpha: Float? = nil, accumulate: Bool = false) {
    shape.validate("conv1dForward")
    let packed = packConv1dWeights(weight, bias: bias, outChannels: shape.outChannels,
                                   inChannels: shape.inChannels, kernelSize: shape.kernelSize)
    conv1dForward(out: out, x: x, packed: packed, shape: shape, padMode: padMode, inputELU: alpha, accumulate: accumulate)
}

/// Conv1d forward with weights packed once by `packConv1dWeights` (same contract as above).
///
/// `inputRowStride` / `outputRowStride` (default Tin / Tout) let x and out be windows of longer buffers:
/// `x[b, ci, t]` is read at `x[(b·Cin + ci)·inputRowStride + t]`, `out[b, co, t]` written at
/// `out[(b·Cout + co)·outputRowStride + t]` (for time-tiled or streaming callers).
public func conv1dForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, packed: PackedConvWeights,
                          shape: Conv1dShape, padMode: PadMode = .zero, inputELU alpha: Float? = nil,
                          accumulate: Bool = false, inputRowStride: Int? = nil, outputRowStride: Int? = nil) {
    shape.validate("conv1dForward")
    precondition(packed.rows == shape.outChannels && packed.taps == shape.kernelSize && packed.inChannels == shape.inChannels,
                 "conv1dForward: packed weights [\(packed.rows), \(packed.inChannels), \(packed.taps)] do not match \(shape)")
    let cin = shape.inChannels, tin = shape.inLength, tout = shape.outLength
    let ldx = inputRowStride ?? tin, ldy = outputRowStride ?? tout
    precondition(ldx >= tin && ldy >= tout, "conv1dForward: row strides (\(ldx), \(ldy)) shorter than the rows (\(tin), \(tout))")
    let k = shape.kernelSize, s = shape.stride, d = shape.dilation
    if case .replicate = padMode, shape.padLeft + shape.padRight > 0 {
        precondition(tin > 0, "conv1dForward: replicate padding of an empty input")
    }
    // Stage per channel: stride 1, the span xp[ci, c0 ..< c0 + nc + (K − 1)·d] (padded, ELU applied when
    // asked), tap k at offset k·d; stride s > 1, s phases P[r][j] = xp[ci, (c0 + j)·s + r], tap k reading
    // phase (k·d) mod s from ⌊k·d / s⌋, so strided taps are contiguous runs too.
    let halo = (k - 1) * d / s
    if cin == 1 && s == 1 && k <= maxSingleChannelTaps {
        // One input channel: a row-by-row kernel (the tiled core would spend its time on tile overhead).
        for b in 0..<shape.batch {
            conv1dSingleChannel(out: out + b * shape.outChannels * ldy, ldy: ldy, xRow: x + b * ldx, packed: packed,
                                shape: shape, padMode: padMode, alpha: alpha, accumulate: accumulate)
        }
        return
    }
    let ldStage = { (nc: Int) in (nc + halo + 7) / 8 * 8 }
    for b in 0..<shape.batch {
        let xb = x + b * cin * ldx                     // x[b, :, :]
        let yb = out + b * shape.outChannels * ldy     // out[b, :, :]
        runConvCore(weights: packed, cols: tout, layout: { nc in
            let ld = ldStage(nc)
            return ConvStageLayout(channelStride: s * ld, tapOffsets: (0..<k).map { ($0 * d % s) * ld + $0 * d / s })
        }, stage: { ciLo, ciHi, c0, _, nc, dst in
            let ld = ldStage(nc)
            if s > 1 && s <= maxDeinterleaveStride {
                // One contiguous pass over each channel's span, split into the s phases in registers.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * maxDeinterleaveStride) { tmp in
                    for ci in ciLo..<ciHi {
                        stagePhases(dst + (ci - ciLo) * s * ld, ld: ld, xRow: xb + ci * ldx, shape: shape, first: c0 * s,
                                    mode: padMode, alpha: alpha, tmp: tmp.baseAddress!)
                    }
                }
                return
            }
            for ci in ciLo..<ciHi {
                for r in 0..<s {
                    stagePaddedRow(dst + ((ci - ciLo) * s + r) * ld, width: ld, xRow: xb + ci * ldx, shape: shape,
                                   first: c0 * s + r, mode: padMode, alpha: alpha)
                }
            }
        }, store: .rows(y: yb, ldy: ldy, accumulate: accumulate))
    }
}

/// Largest kernel the single-input-channel path takes (its taps are read from the packed panel).
let maxSingleChannelTaps = 32
/// Output columns per block of the single-input-channel path (the staged row stays in L1).
let singleChannelBlock = 1024

/// Conv1d with one input channel, stride 1 (e.g. EnCodec's first conv, k7 1→32): for each block of
/// columns the padded (ELU'd) input row is staged once, then every output row is swept with its K taps
/// broadcast, 32 columns (4 × SIMD8) per step. Each output is `bias` then `+ w[tap]·x` for tap 0, 1, …
/// as fused multiply-adds: the order of the tiled core for one channel, so the result is bit for bit the
/// same as `conv1dForward`'s general path (and the same for any column blocking or thread count).
func conv1dSingleChannel(out: UnsafeMutablePointer<Float>, ldy: Int, xRow: UnsafePointer<Float>, packed: PackedConvWeights,
                         shape: Conv1dShape, padMode: PadMode, alpha: Float?, accumulate: Bool) {
    let k = shape.kernelSize, d = shape.dilation, cout = shape.outChannels, tout = shape.outLength
    guard tout > 0 else { return }
    let halo = (k - 1) * d
    let blocks = (tout + singleChannelBlock - 1) / singleChannelBlock
    // Taps per output channel, [Cout][K], from the packed panels ([tile][tap][ci = 0][4]).
    var taps = [Float](repeating: 0, count: cout * k)
    var biases = [Float](repeating: 0, count: cout)
    for co in 0..<cout {
        let panel = packed.panel(co / tileRows, 0)
        for tap in 0..<k { taps[co * k + tap] = panel[tap * tileRows + co % tileRows] }
        biases[co] = packed.bias[co]
    }
    let serial = Parallel.threadCount == 1 || cout * k * tout < 1 << 18
    taps.withUnsafeBufferPointer { tp in
        biases.withUnsafeBufferPointer { bp in
            let tp = tp.baseAddress!, bp = bp.baseAddress!
            func work(_ range: Range<Int>) {
                let width = singleChannelBlock + 32 + halo  // staged row: a block, its halo, one 32-column strip of slack
                let st = UnsafeMutablePointer<Float>.allocate(capacity: width)
                let tail = UnsafeMutablePointer<Float>.allocate(capacity: 32)
                defer { st.deallocate(); tail.deallocate() }
                for block in range {
                    let c0 = block * singleChannelBlock
                    let bc = min(singleChannelBlock, tout - c0)
                    stagePaddedRow(st, width: width, xRow: xRow, shape: shape, first: c0, mode: padMode, alpha: alpha)
                    for co in 0..<cout {
                        let w = tp + co * k
                        let bias = Vec8(repeating: bp[co])
                        let y = out + co * ldy + c0  // out[co, c0 ...]
                        var j = 0
                        while j < bc {
                            var a0 = bias, a1 = bias, a2 = bias, a3 = bias
                            var sp = st + j
                            for tap in 0..<k {
                                let wv = Vec8(repeating: w[tap])
                                a0.addProduct(wv, load8(sp)); a1.addProduct(wv, load8(sp + 8))
                                a2.addProduct(wv, load8(sp + 16)); a3.addProduct(wv, load8(sp + 24))
                                sp += d
                            }
                            let n = min(32, bc - j)
                            let dst = n == 32 && !accumulate ? y + j : tail
                            store8(a0, dst); store8(a1, dst + 8); store8(a2, dst + 16); store8(a3, dst + 24)
                            if dst == tail {
                                for i in 0..<n { y[j + i] = accumulate ? y[j + i] + tail[i] : tail[i] }
                            }
                            j += 32
                        }
                    }
                }
            }
            if serial { work(0..<blocks) } else { parallelFor(blocks) { work($0) } }
        }
    }
}

/// Stages `dst[j] = xp[first + j·s]` for j < width, where xp is the padded, ELU'd row (positions past the
/// padded length are zero: they only feed outputs past Tout).
@inline(__always)
func stagePaddedRow(_ dst: UnsafeMutablePointer<Float>, width: Int, xRow: UnsafePointer<Float>, shape: Conv1dShape,
                            first: Int, mode: PadMode, alpha: Float?) {
    let s = shape.stride, tin = shape.inLength, left = shape.padLeft
    let q0 = first - left  // input index of j = 0
    // Columns whose position is inside the input: a strided copy (with ELU).
    let jLo = min(width, q0 >= 0 ? 0 : (-q0 + s - 1) / s)
    let jHi = max(jLo, min(width, q0 >= tin ? 0 : (tin - q0 + s - 1) / s))
    if jHi > jLo {
        stageRow(dst + jLo, width: jHi - jLo, src: xRow + q0 + jLo * s, step: s, count: jHi - jLo, alpha: alpha)
    }
    // Padding (and beyond), element by element.
    func fill(_ j: Int) {
        dst[j] = paddedElement(xRow, at: first + j * s, length: tin, left: left, right: shape.padRight, mode: mode, alpha: alpha)
    }
    // Only the columns outside jLo ..< jHi (a scan of the whole width per row cost ~9 % of an encode).
    for j in 0..<jLo { fill(j) }
    for j in jHi..<width { fill(j) }
}

/// Largest stride whose phases `stagePhases` splits in one pass.
let maxDeinterleaveStride = 8

/// Even and odd lanes of the 16 floats (a, b): (a0 a2 a4 a6 b0 b2 b4 b6), (a1 a3 a5 a7 b1 b3 b5 b7).
@inline(__always)
func unzip2(_ a: Vec8, _ b: Vec8) -> (Vec8, Vec8) {
    (Vec8(a[0], a[2], a[4], a[6], b[0], b[2], b[4], b[6]), Vec8(a[1], a[3], a[5], a[7], b[1], b[3], b[5], b[7]))
}

/// Stages all `s` phase rows of one channel, `dst[r·ld + j] = xp[first + j·s + r]` (r < s, j < ld; xp the
/// padded, ELU'd row, zero past the padded length), the values of `stagePaddedRow` for each phase. Where
/// 8 columns of every phase lie inside the input, their 8·s input values are read contiguously, ELU'd
/// as vectors and split into the phases (stride 2 and 4 by lane shuffles, others through `tmp`, 8·s
/// floats); the rest of the input by a strided copy per phase, the padding element by element.
@inline(__always)
func stagePhases(_ dst: UnsafeMutablePointer<Float>, ld: Int, xRow: UnsafePointer<Float>, shape: Conv1dShape,
                         first: Int, mode: PadMode, alpha: Float?, tmp: UnsafeMutablePointer<Float>) {
    let s = shape.stride, tin = shape.inLength, left = shape.padLeft
    let q0 = first - left  // input index of phase 0, column 0
    let jLo = min(ld, q0 >= 0 ? 0 : (-q0 + s - 1) / s)
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> Vec8 {
        let v = load8(p)
        return alpha.map { elu8(v, $0) } ?? v
    }
    var j = jLo
    while j + 8 <= ld && q0 + (j + 8) * s <= tin {
        let src = xRow + q0 + j * s  // x[q0 + j·s ..< q0 + (j + 8)·s]
        if s == 2 {
            let (e, o) = unzip2(load(src), load(src + 8))
            store8(e, dst + j); store8(o, dst + ld + j)
        } else if s == 4 {
            let (e01, o01) = unzip2(load(src), load(src + 8))
            let (e23, o23) = unzip2(load(src + 16), load(src + 24))
            let (p0, p2) = unzip2(e01, e23), (p1, p3) = unzip2(o01, o23)
            store8(p0, dst + j); store8(p1, dst + ld + j); store8(p2, dst + 2 * ld + j); store8(p3, dst + 3 * ld + j)
        } else {
            for v in 0..<s { store8(load(src + 8 * v), tmp + 8 * v) }
            for r in 0..<s {
                let row = dst + r * ld + j
                for l in 0..<8 { row[l] = tmp[l * s + r] }
            }
        }
        j += 8
    }
    let jHi = j
    for r in 0..<s {
        let row = dst + r * ld
        // Columns past the vector part still inside the input: a strided copy, ELU'd as vectors.
        let qr = q0 + r
        let jEnd = max(jHi, min(ld, qr >= tin ? 0 : (tin - qr + s - 1) / s))
        if jEnd > jHi {
            stageRow(row + jHi, width: jEnd - jHi, src: xRow + qr + jHi * s, step: s, count: jEnd - jHi, alpha: alpha)
        }
        // The padding (and beyond), element by element.
        func fill(_ j: Int) {
            row[j] = paddedElement(xRow, at: first + j * s + r, length: tin, left: left, right: shape.padRight, mode: mode, alpha: alpha)
        }
        for j in 0..<jLo { fill(j) }
        for j in jEnd..<ld { fill(j) }
    }
}

/// Scalar reference for `conv1dForward`: ELU, then `pad1dForward`, then the formula above in plain loops,
/// accumulated in Double.
public func conv1dForwardReference(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, shape: Conv1dShape,
                                   padMode: PadMode = .zero, inputELU alpha: Float? = nil, accumulate: Bool = false) {
    shape.validate("conv1dForwardReference")
    let cin = shape.inChannels, cout = shape.outChannels, tin = shape.inLength, tout = shape.outLength
    let k = shape.kernelSize, tp = shape.paddedLength
    var act = [Float](repeating: 0, count: cin * tin), xp = [Float](repeating: 0, count: cin * tp)
    for b in 0..<shape.batch {
        for i in 0..<(cin * tin) {
            let v = x[b * cin * tin + i]
            act[i] = alpha.map { v > 0 ? v : $0 * Float(expm1(Double(v))) } ?? v
        }
        pad1dForward(out: &xp, x: act, shape: Pad1dShape(rows: cin, inLength: tin, left: shape.padLeft, right: shape.padRight), mode: padMode)
        for co in 0..<cout {
            for t in 0..<tout {
                var acc = Double(bias?[co] ?? 0)
                for ci in 0..<cin {
                    for kk in 0..<k {
                        let v = xp[ci * tp + t * shape.stride + kk * shape.dilation]
                        acc += Double(weight[(co * cin + ci) * k + kk]) * Double(v)
                    }
                }
                let o = (b * cout + co) * tout + t
                out[o] = accumulate ? out[o] + Float(acc) : Float(acc)
            }
        }
    }
}

/// A 1-D convolution layer (torch.nn.Conv1d with padding 0, groups 1): `[B, Cin, T] → [B, Cout, Tout]`.
/// Holds the weights in PyTorch layout and a packed copy for the fast kernel.
public struct Conv1d: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let dilation: Int
    /// `[Cout, Cin, K]`.
    public let weight: [Float]
    /// `[Cout]` or nil.
    public let bias: [Float]?
    /// The weights packed for `conv1dForward(out:x:packed:…)`.
    public let packed: PackedConvWeights

    public init(weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int, kernelSize: Int,
                stride: Int = 1, dilation: Int = 1) {
        precondition(weight.count == outChannels * inChannels * kernelSize,
                     "Conv1d: weight has \(weight.count) elements, [\(outChannels), \(inChannels), \(kernelSize)] needs \(outChannels * inChannels * kernelSize)")
        precondition(bias == nil || bias!.count == outChannels, "Conv1d: bias has \(bias!.count) elements, expected \(outChannels)")
        precondition(stride > 0 && dilation > 0, "Conv1d: stride \(stride) and dilation \(dilation) must be positive")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.dilation = dilation
        self.weight = weight
        self.bias = bias
        packed = weight.withUnsafeBufferPointer { w in
            if let bias {
                return bias.withUnsafeBufferPointer { packConv1dWeights(w.baseAddress!, bias: $0.baseAddress!, outChannels: outChannels, inChannels: inChannels, kernelSize: kernelSize) }
            }
            return packConv1dWeights(w.baseAddress!, bias: nil, outChannels: outChannels, inChannels: inChannels, kernelSize: kernelSize)
        }
    }

    /// From tensors: weight `[Cout, Cin, K]`, bias `[Cout]`.
    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, dilation: Int = 1) {
        precondition(weight.rank == 3, "Conv1d: weight must be [Cout, Cin, K], got \(weight.shape)")
        self.init(weight: weight.data, bias: bias?.data, inChannels: weight.shape[1], outChannels: weight.shape[0],
                  kernelSize: weight.shape[2], stride: stride, dilation: dilation)
    }

    /// Output length for an input of `inLength` steps padded by `padLeft` and `padRight`.
    public func outLength(_ inLength: Int, padLeft: Int = 0, padRight: Int = 0) -> Int {
        shape(batch: 1, inLength: inLength, padLeft: padLeft, padRight: padRight).outLength
    }

    /// The layer's `Conv1dShape` for an input of `inLength` steps padded by `padLeft` and `padRight`.
    public func shape(batch: Int, inLength: Int, padLeft: Int = 0, padRight: Int = 0) -> Conv1dShape {
        Conv1dShape(batch: batch, inChannels: inChannels, outChannels: outChannels, inLength: inLength,
                    kernelSize: kernelSize, stride: stride, dilation: dilation, padLeft: padLeft, padRight: padRight)
    }

    /// `x [B, Cin, T] → [B, Cout, Tout]`.
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }

    /// `x [B, Cin, T] → [B, Cout, Tout]`, with ELU(alpha) applied to the input on the fly when given.
    public func callAsFunction(_ x: Tensor, inputELU alpha: Float?) -> Tensor { forward(x, inputELU: alpha) }

    /// `residual + conv(f(x))` with the add fused into the kernel's store (`residual` must be
    /// `[B, Cout, Tout]`); the same bits as adding the two tensors afterwards.
    public func callAsFunction(_ x: Tensor, inputELU alpha: Float?, adding residual: Tensor) -> Tensor {
        forward(x, inputELU: alpha, adding: residual)
    }

    /// The whole contract in one call: `[residual +] conv(pad1d(f(x), padLeft, padRight, padMode))` with
    /// `f` = ELU(alpha) when given; padding, ELU and the residual add are fused into the kernel.
    /// `x [B, Cin, T] → [B, Cout, Tout]`, Tout = ⌊(T + padLeft + padRight − d·(K − 1) − 1) / s⌋ + 1.
    public func forward(_ x: Tensor, padLeft: Int = 0, padRight: Int = 0, padMode: PadMode = .zero,
                        inputELU alpha: Float? = nil, adding residual: Tensor? = nil) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == inChannels, "Conv1d: input must be [B, \(inChannels), T], got \(x.shape)")
        let sh = shape(batch: x.shape[0], inLength: x.shape[2], padLeft: padLeft, padRight: padRight)
        let input = x.data.isEmpty ? [0] : x.data  // an empty input (all padding) still needs a valid pointer
        var y: Tensor
        if let residual {
            precondition(residual.shape == [sh.batch, outChannels, sh.outLength],
                         "Conv1d: residual is \(residual.shape), the output is [\(sh.batch), \(outChannels), \(sh.outLength)]")
            y = residual
        } else {
            // The kernel writes every output element: no zero fill (a pass over the whole output).
            let n = sh.outputCount
            guard n > 0 else { return Tensor.zeros([sh.batch, outChannels, sh.outLength]) }
            let data = [Float](unsafeUninitializedCapacity: n) { buf, count in
                input.withUnsafeBufferPointer { xp in
                    conv1dForward(out: buf.baseAddress!, x: xp.baseAddress!, packed: packed, shape: sh, padMode: padMode, inputELU: alpha)
                }
                count = n
            }
            return Tensor(shape: [sh.batch, outChannels, sh.outLength], data: data)
        }
        input.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                conv1dForward(out: yp.baseAddress!, x: xp.baseAddress!, packed: packed, shape: sh, padMode: padMode,
                              inputELU: alpha, accumulate: residual != nil)
            }
        }
        return y
    }
}

// MARK: 1×1 convolution over two stacked inputs (a residual unit's last conv and its shortcut in one pass)

/// Packs `[Cout, Ca]` and `[Cout, Cb]` 1×1 weights side by side, as one `[Cout, Ca + Cb, 1]` conv over the
/// channel concatenation `[a; b]`, with bias `[Cout]` (or zeros), for `conv1x1ConcatForward`.
public func packConcatConv1x1Weights(weightA: UnsafePointer<Float>, channelsA: Int, weightB: UnsafePointer<Float>,
                                     channelsB: Int, bias: UnsafePointer<Float>?, outChannels: Int) -> PackedConvWeights {
    PackedConvWeights(rows: outChannels, taps: 1, inChannels: channelsA + channelsB,
                      weight: { co, _, ci in ci < channelsA ? weightA[co * channelsA + ci] : weightB[co * channelsB + ci - channelsA] },
                      bias: { co in bias?[co] ?? 0 })
}

/// `out[co, t] = bias[co] + Σ_{ci < Ca} Wa[co, ci]·f(a[ci, t]) + Σ_{ci < Cb} Wb[co, ci]·b[ci, t]`, t < length,
/// with `f` = ELU(alpha) when given: a 1×1 conv over `[f(a); b]` without building the concatenation
/// (EnCodec's residual unit `shortcut(x) + conv_k1(ELU(h))` as one product: its output written once).
/// - out: `[Cout, length]`, row stride `ldy`; a: `[Ca, length]`, row stride `lda`; b: `[Cb, length]`, row
///   stride `ldb` (windows of longer buffers for streaming callers); `packed` from `packConcatConv1x1Weights`.
/// Each output sums in a fixed order (bias, channel blocks of 256, channels of a then b), whatever the
/// window or thread count.
public func conv1x1ConcatForward(out: UnsafeMutablePointer<Float>, ldy: Int, a: UnsafePointer<Float>, lda: Int,
                                 inputELUOnA alpha: Float?, b: UnsafePointer<Float>, ldb: Int, channelsA: Int,
                                 packed: PackedConvWeights, length: Int) {
    precondition(packed.taps == 1 && channelsA >= 0 && channelsA <= packed.inChannels && length >= 0,
                 "conv1x1ConcatForward: packed [\(packed.rows), \(packed.inChannels), \(packed.taps)] with Ca \(channelsA)")
    precondition(lda >= length && ldb >= length && ldy >= length, "conv1x1ConcatForward: row strides shorter than \(length)")
    runConvCore(weights: packed, cols: length, layout: { nc in ConvStageLayout(channelStride: nc, tapOffsets: [0]) },
                stage: { ciLo, ciHi, c0, bc, nc, dst in
        for ci in ciLo..<ciHi {
            let fromA = ci < channelsA
            let src = fromA ? a + ci * lda + c0 : b + (ci - channelsA) * ldb + c0
            stageRow(dst + (ci - ciLo) * nc, width: nc, src: src, step: 1, count: bc, alpha: fromA ? alpha : nil)
        }
    }, store: .rows(y: out, ldy: ldy, accumulate: false))
}

/// Scalar reference for `conv1x1ConcatForward` (Double sums; weights `[Cout, Ca]`, `[Cout, Cb]`, dense rows).
public func conv1x1ConcatForwardReference(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, inputELUOnA alpha: Float?,
                                          b: UnsafePointer<Float>, weightA: UnsafePointer<Float>, channelsA: Int,
                                          weightB: UnsafePointer<Float>, channelsB: Int, bias: UnsafePointer<Float>?,
                                          outChannels: Int, length: Int) {
    for co in 0..<outChannels {
        for t in 0..<length {
            var acc = Double(bias?[co] ?? 0)
            for ci in 0..<channelsA {
                let v = a[ci * length + t]
                let fv = alpha.map { v > 0 ? v : $0 * Float(expm1(Double(v))) } ?? v
                acc += Double(weightA[co * channelsA + ci]) * Double(fv)
            }
            for ci in 0..<channelsB { acc += Double(weightB[co * channelsB + ci]) * Double(b[ci * length + t]) }
            out[co * length + t] = Float(acc)
        }
    }
}

// MARK: A residual unit in time tiles (the path's intermediate stays in cache)

/// EnCodec's residual unit over one sequence, `x [dim, n] → out [dim, n]`:
/// `out = bias + [W_last | W_shortcut] · [g(h); x]` with `h = conv_k(pad1d(f(x)))` (`first`: `[hidden, dim, K]`,
/// stride 1, padded back to length n) and `f`, `g` = ELU(inputELU), ELU(hiddenELU) when given; `last` from
/// `packConcatConv1x1Weights` (`[dim, hidden + dim]`). The time axis is cut into tiles of about
/// `tileLength` columns; per tile, `h` goes to a `[hidden, tile]` scratch that stays in L2 while the fused 1×1
/// conv reads it, instead of a `[hidden, n]` tensor written to and read back from memory.
///
/// The same bits as `conv1dForward` over the whole row followed by `conv1x1ConcatForward`: each output sums
/// in the kernels' fixed order, padding is taken from the same input positions (a tile window touches a
/// padded edge only at the ends of the row, and is longer than the padding, so the short-input reflect rule
/// does not change), so the result depends on neither `tileLength` nor the thread count.
/// - shape: the first conv's shape: batch 1, stride 1, `outLength == inLength` (`padLeft + padRight = (K − 1)·d`).
public func residualUnitForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape: Conv1dShape,
                                first: PackedConvWeights, padMode: PadMode = .zero, inputELU: Float?, hiddenELU: Float?,
                                last: PackedConvWeights, tileLength: Int) {
    shape.validate("residualUnitForward")
    let n = shape.inLength, dim = shape.inChannels, hidden = shape.outChannels
    precondition(shape.batch == 1 && shape.stride == 1 && shape.outLength == n,
                 "residualUnitForward: needs batch 1, stride 1 and an output as long as the input, got \(shape)")
    precondition(first.rows == hidden && first.inChannels == dim && first.taps == shape.kernelSize,
                 "residualUnitForward: first conv [\(first.rows), \(first.inChannels), \(first.taps)] does not match \(shape)")
    precondition(last.taps == 1 && last.rows == dim && last.inChannels == hidden + dim,
                 "residualUnitForward: last [\(last.rows), \(last.inChannels), \(last.taps)], needs [\(dim), \(hidden + dim), 1]")
    guard n > 0 else { return }
    let halo = (shape.kernelSize - 1) * shape.dilation
    let maxPad = max(shape.padLeft, shape.padRight)
    // Tiles of at least tileLength columns (and longer than the padding and the halo).
    var tiles = max(1, n / max(1, tileLength))
    if n / tiles <= maxPad + halo { tiles = 1 }
    let widest = (n + tiles - 1) / tiles
    let h = UnsafeMutableRawPointer.allocate(byteCount: hidden * widest * 4, alignment: 64)
        .bindMemory(to: Float.self, capacity: hidden * widest)
    defer { h.deallocate() }
    for i in 0..<tiles {
        let t0 = i * n / tiles, t1 = (i + 1) * n / tiles
        // Padded positions t0 ..< t1 + halo are input positions − padLeft; clip to the row, pad the rest.
        let lo = max(0, t0 - shape.padLeft), hi = min(n, t1 + halo - shape.padLeft)
        let sub = Conv1dShape(batch: 1, inChannels: dim, outChannels: hidden, inLength: hi - lo,
                              kernelSize: shape.kernelSize, stride: 1, dilation: shape.dilation,
                              padLeft: max(0, shape.padLeft - t0), padRight: max(0, t1 + halo - shape.padLeft - n))
        precondition(sub.outLength == t1 - t0, "residualUnitForward: tile \(t0)..<\(t1) maps to \(sub)")
        conv1dForward(out: h, x: x + lo, packed: first, shape: sub, padMode: padMode, inputELU: inputELU,
                      inputRowStride: n, outputRowStride: widest)
        conv1x1ConcatForward(out: out + t0, ldy: n, a: h, lda: widest, inputELUOnA: hiddenELU, b: x + t0, ldb: n,
                             channelsA: hidden, packed: last, length: t1 - t0)
    }
}

/// Scalar reference for `residualUnitForward` (Double sums): `conv1dForwardReference` then
/// `conv1x1ConcatForwardReference`, weights in PyTorch layout (`[hidden, dim, K]`, `[dim, hidden]`, `[dim, dim]`).
public func residualUnitForwardReference(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape: Conv1dShape,
                                         weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, padMode: PadMode = .zero,
                                         inputELU: Float?, hiddenELU: Float?, lastWeight: UnsafePointer<Float>,
                                         shortcutWeight: UnsafePointer<Float>, lastBias: UnsafePointer<Float>?) {
    let n = shape.inLength, dim = shape.inChannels, hidden = shape.outChannels
    var h = [Float](repeating: 0, count: hidden * n)
    conv1dForwardReference(out: &h, x: x, weight: weight, bias: bias, shape: shape, padMode: padMode, inputELU: inputELU)
    h.withUnsafeBufferPointer { hp in
        conv1x1ConcatForwardReference(out: out, a: hp.baseAddress!, inputELUOnA: hiddenELU, b: x, weightA: lastWeight,
                                      channelsA: hidden, weightB: shortcutWeight, channelsB: dim, bias: lastBias,
                                      outChannels: dim, length: n)
    }
}
