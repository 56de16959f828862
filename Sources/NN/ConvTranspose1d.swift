// ConvTranspose1d: forward kernel (fast, polyphase over the tiled core) and its scalar reference, and the
// layer (torch.nn.ConvTranspose1d with padding 0: the full output; callers trim, see unpad1d).
// Legend: B batch, Cin/Cout channels, T input time, K kernel size, s stride, M = ⌈K/s⌉ taps per phase.
import Foundation

/// Sizes of a 1-D transposed convolution over `[B, Cin, T]` with weights `[Cin, Cout, K]`, whose full
/// output of (T − 1)·s + K steps is trimmed by `trimLeft` and `trimRight` (0 by default; EnCodec's
/// SConvTranspose1d removes K − s steps, see unpad1d).
public struct ConvTranspose1dShape: Equatable, Sendable {
    public var batch: Int
    public var inChannels: Int
    public var outChannels: Int
    public var inLength: Int
    public var kernelSize: Int
    public var stride: Int
    /// Steps dropped from the start of the full output.
    public var trimLeft: Int
    /// Steps dropped from the end of the full output.
    public var trimRight: Int

    public init(batch: Int = 1, inChannels: Int, outChannels: Int, inLength: Int, kernelSize: Int, stride: Int = 1,
                trimLeft: Int = 0, trimRight: Int = 0) {
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.inLength = inLength
        self.kernelSize = kernelSize
        self.stride = stride
        self.trimLeft = trimLeft
        self.trimRight = trimRight
    }

    /// Full output length (T − 1)·s + K, before trimming.
    public var fullLength: Int { (inLength - 1) * stride + kernelSize }
    /// Output length (T − 1)·s + K − trimLeft − trimRight.
    public var outLength: Int { fullLength - trimLeft - trimRight }
    /// Elements of the input `[B, Cin, T]`.
    public var inputCount: Int { batch * inChannels * inLength }
    /// Elements of the output `[B, Cout, (T − 1)·s + K]`.
    public var outputCount: Int { batch * outChannels * outLength }
    /// Elements of the weight `[Cin, Cout, K]`.
    public var weightCount: Int { inChannels * outChannels * kernelSize }
    /// Multiply-adds of one forward pass (2 FLOPs each).
    public var multiplyAdds: Int { batch * inChannels * outChannels * kernelSize * inLength }

    func validate(_ caller: String) {
        precondition(batch >= 0 && inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0 && inLength > 0
                     && trimLeft >= 0 && trimRight >= 0 && trimLeft + trimRight <= fullLength, "\(caller): invalid shape \(self)")
    }
}

/// Packs `[Cin, Cout, K]` weights and a `[Cout]` bias for `convTranspose1dForward(out:x:packed:…)`.
///
/// Output position `u·s + r` (phase r) receives taps `k = r + m·s`, m < M, from input step `u − m`, so the
/// transposed conv is a stride-1 conv with `Cout·s` rows `(co, r)` and M taps: no scatter-add, each output
/// summed once in a fixed order.
public func packConvTranspose1dWeights(_ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                       inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int) -> PackedConvWeights {
    let taps = (kernelSize + stride - 1) / stride
    return PackedConvWeights(rows: outChannels * stride, taps: taps, inChannels: inChannels,
                             weight: { row, m, ci in
                                 let co = row / stride, k = row % stride + m * stride
                                 return k < kernelSize ? weight[(ci * outChannels + co) * kernelSize + k] : 0  // w[ci, co, k]
                             },
                             bias: { row in bias?[row / stride] ?? 0 })
}

/// ConvTranspose1d forward (fast path):
/// `full[b, co, t·s + k] = bias[co] + Σ_ci Σ_{t,k} f(x[b, ci, t]) · weight[ci, co, k]` over (T − 1)·s + K steps,
/// `out[b, co, p] = full[b, co, trimLeft + p]` (the trim fused into the store), with `f` = ELU(alpha) when
/// `inputELU` is given, else the identity.
///
/// - out: `[B, Cout, (T − 1)·s + K − trimLeft − trimRight]`, overwritten (or added to when `accumulate`).
/// - x: `[B, Cin, T]`; weight `[Cin, Cout, K]` (PyTorch layout); bias `[Cout]` or nil.
/// Same tiling and threading as `conv1dForward`; results do not depend on the thread count.
public func convTranspose1dForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                   shape: ConvTranspose1dShape, inputELU alpha: Float? = nil, accumulate: Bool = false) {
    shape.validate("convTranspose1dForward")
    let packed = packConvTranspose1dWeights(weight, bias: bias, inChannels: shape.inChannels, outChannels: shape.outChannels,
                                            kernelSize: shape.kernelSize, stride: shape.stride)
    convTranspose1dForward(out: out, x: x, packed: packed, shape: shape, inputELU: alpha, accumulate: accumulate)
}

/// ConvTranspose1d forward with weights packed once by `packConvTranspose1dWeights` (same contract).
///
/// `inputRowStride` / `outputRowStride` (default T / (T − 1)·s + K) let x and out be windows of longer
/// buffers, as for `conv1dForward`.
public func convTranspose1dForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, packed: PackedConvWeights,
                                   shape: ConvTranspose1dShape, inputELU alpha: Float? = nil, accumulate: Bool = false,
                                   inputRowStride: Int? = nil, outputRowStride: Int? = nil) {
    shape.validate("convTranspose1dForward")
    let s = shape.stride, cin = shape.inChannels, t = shape.inLength, outLen = shape.outLength, full = shape.fullLength
    let ldx = inputRowStride ?? t, ldy = outputRowStride ?? outLen
    precondition(ldx >= t && ldy >= outLen, "convTranspose1dForward: row strides (\(ldx), \(ldy)) shorter than the rows (\(t), \(outLen))")
    let m = (shape.kernelSize + s - 1) / s
    precondition(packed.rows == shape.outChannels * s && packed.taps == m && packed.inChannels == cin,
                 "convTranspose1dForward: packed weights (rows \(packed.rows), taps \(packed.taps), Cin \(packed.inChannels)) do not match \(shape)")
    let cols = (full - 1) / s + 1  // phase columns u; output u·s + r
    let halo = m - 1
    let ldStage = { (nc: Int) in (nc + halo + 7) / 8 * 8 }
    for b in 0..<shape.batch {
        let xb = x + b * cin * ldx                         // x[b, :, :]
        let yb = out + b * shape.outChannels * ldy         // out[b, :, :]
        // Stage Z[ci][j] = f(x[b, ci, c0 − (M − 1) + j]), zeros outside 0..<T; tap m of column j reads
        // Z[ci][j + M − 1 − m] = x[ci, c0 + j − m].
        runConvCore(weights: packed, cols: cols, layout: { nc in
            ConvStageLayout(channelStride: ldStage(nc), tapOffsets: (0..<m).map { halo - $0 })
        }, stage: { ciLo, ciHi, c0, _, nc, dst in
            let ld = ldStage(nc)
            let first = c0 - halo  // input step held in Z[ci][0]
            let lo = min(ld, max(0, -first)), hi = max(lo, min(ld, t - first))
            for ci in ciLo..<ciHi {
                let zRow = dst + (ci - ciLo) * ld  // Z[ci, :]
                zRow.update(repeating: 0, count: lo)
                stageRow(zRow + lo, width: ld - lo, src: xb + ci * ldx + first + lo, step: 1, count: hi - lo, alpha: alpha)
            }
        }, store: .interleaved(y: yb, ldy: ldy, stride: s, first: shape.trimLeft, end: full - shape.trimRight, accumulate: accumulate))
    }
}

/// Scalar reference for `convTranspose1dForward`: for each output position, the sum over every (t, k)
/// with t·s + k = position, accumulated in Double.
public func convTranspose1dForwardReference(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                            weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                            shape: ConvTranspose1dShape, inputELU alpha: Float? = nil,
                                            accumulate: Bool = false) {
    shape.validate("convTranspose1dForwardReference")
    let cin = shape.inChannels, cout = shape.outChannels, t = shape.inLength, k = shape.kernelSize, s = shape.stride
    let outLen = shape.outLength
    for b in 0..<shape.batch {
        for co in 0..<cout {
            for o in 0..<outLen {
                let p = o + shape.trimLeft  // position in the full output
                var acc = Double(bias?[co] ?? 0)
                for kk in 0..<k where (p - kk) >= 0 && (p - kk) % s == 0 && (p - kk) / s < t {
                    let ti = (p - kk) / s
                    for ci in 0..<cin {
                        var v = x[(b * cin + ci) * t + ti]
                        if let alpha, v <= 0 { v = alpha * Float(expm1(Double(v))) }
                        acc += Double(v) * Double(weight[(ci * cout + co) * k + kk])
                    }
                }
                let i = (b * cout + co) * outLen + o
                out[i] = accumulate ? out[i] + Float(acc) : Float(acc)
            }
        }
    }
}

/// A 1-D transposed convolution layer (torch.nn.ConvTranspose1d, padding 0, output_padding 0, groups 1):
/// `[B, Cin, T] → [B, Cout, (T − 1)·s + K]`. Holds the weights in PyTorch layout and a packed copy.
public struct ConvTranspose1d: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Int
    public let stride: Int
    /// `[Cin, Cout, K]`.
    public let weight: [Float]
    /// `[Cout]` or nil.
    public let bias: [Float]?
    /// The weights packed for `convTranspose1dForward(out:x:packed:…)`.
    public let packed: PackedConvWeights

    public init(weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1) {
        precondition(weight.count == inChannels * outChannels * kernelSize,
                     "ConvTranspose1d: weight has \(weight.count) elements, [\(inChannels), \(outChannels), \(kernelSize)] needs \(inChannels * outChannels * kernelSize)")
        precondition(bias == nil || bias!.count == outChannels, "ConvTranspose1d: bias has \(bias!.count) elements, expected \(outChannels)")
        precondition(stride > 0, "ConvTranspose1d: stride \(stride) must be positive")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.weight = weight
        self.bias = bias
        packed = weight.withUnsafeBufferPointer { w in
            if let bias {
                return bias.withUnsafeBufferPointer { packConvTranspose1dWeights(w.baseAddress!, bias: $0.baseAddress!, inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize, stride: stride) }
            }
            return packConvTranspose1dWeights(w.baseAddress!, bias: nil, inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize, stride: stride)
        }
    }

    /// From tensors: weight `[Cin, Cout, K]`, bias `[Cout]`.
    public init(weight: Tensor, bias: Tensor?, stride: Int = 1) {
        precondition(weight.rank == 3, "ConvTranspose1d: weight must be [Cin, Cout, K], got \(weight.shape)")
        self.init(weight: weight.data, bias: bias?.data, inChannels: weight.shape[0], outChannels: weight.shape[1],
                  kernelSize: weight.shape[2], stride: stride)
    }

    /// Output length (T − 1)·s + K − trimLeft − trimRight for an input of T steps.
    public func outLength(_ inLength: Int, trimLeft: Int = 0, trimRight: Int = 0) -> Int {
        (inLength - 1) * stride + kernelSize - trimLeft - trimRight
    }

    /// `x [B, Cin, T] → [B, Cout, (T − 1)·s + K]`.
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }

    /// As above, with ELU(alpha) applied to the input on the fly when given.
    public func callAsFunction(_ x: Tensor, inputELU alpha: Float?) -> Tensor { forward(x, inputELU: alpha) }

    /// `residual + convTranspose(f(x))` with the add fused into the kernel's store (`residual` must be
    /// `[B, Cout, (T − 1)·s + K]`).
    public func callAsFunction(_ x: Tensor, inputELU alpha: Float?, adding residual: Tensor) -> Tensor {
        forward(x, inputELU: alpha, adding: residual)
    }

    /// The whole contract in one call: `[residual +] unpad1d(convTranspose(f(x)), trimLeft, trimRight)` with
    /// `f` = ELU(alpha) when given; ELU, trim and residual add are fused into the kernel. (A layer followed by
    /// GroupNorm must not trim here: EnCodec normalizes over the untrimmed output.)
    /// `x [B, Cin, T] → [B, Cout, (T − 1)·s + K − trimLeft − trimRight]`.
    public func forward(_ x: Tensor, trimLeft: Int = 0, trimRight: Int = 0, inputELU alpha: Float? = nil,
                        adding residual: Tensor? = nil) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == inChannels, "ConvTranspose1d: input must be [B, \(inChannels), T], got \(x.shape)")
        let sh = ConvTranspose1dShape(batch: x.shape[0], inChannels: inChannels, outChannels: outChannels,
                                      inLength: x.shape[2], kernelSize: kernelSize, stride: stride,
                                      trimLeft: trimLeft, trimRight: trimRight)
        var y: Tensor
        if let residual {
            precondition(residual.shape == [sh.batch, outChannels, sh.outLength],
                         "ConvTranspose1d: residual is \(residual.shape), the output is [\(sh.batch), \(outChannels), \(sh.outLength)]")
            y = residual
        } else {
            // Every output position is written (all phases of all columns): no zero fill.
            let n = sh.batch * outChannels * sh.outLength
            guard n > 0 else { return Tensor.zeros([sh.batch, outChannels, sh.outLength]) }
            let data = [Float](unsafeUninitializedCapacity: n) { buf, count in
                x.data.withUnsafeBufferPointer { xp in
                    convTranspose1dForward(out: buf.baseAddress!, x: xp.baseAddress!, packed: packed, shape: sh, inputELU: alpha)
                }
                count = n
            }
            return Tensor(shape: [sh.batch, outChannels, sh.outLength], data: data)
        }
        guard y.count > 0 else { return y }
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                convTranspose1dForward(out: yp.baseAddress!, x: xp.baseAddress!, packed: packed, shape: sh, inputELU: alpha,
                                       accumulate: residual != nil)
            }
        }
        return y
    }
}
