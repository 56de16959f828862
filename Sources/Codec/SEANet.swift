// SEANet encoder and decoder: streamable convolutions, residual blocks and an LSTM, built by looping over
// the ratios. Mirrors encodec/modules/seanet.py (SEANetResnetBlock, SEANetEncoder, SEANetDecoder) and
// encodec/modules/conv.py (SConv1d, SConvTranspose1d), lstm.py (SLSTM). Activations are [1, C, T].
import NN

/// A convolution with EnCodec's padding policy: pad (causal: all left; else split, larger half left; plus
/// the extra right padding that makes the last window full), convolve, then GroupNorm(1, C) if the model
/// uses time_group_norm.
struct StreamableConv1d {
    var conv: Conv1d
    var norm: GroupNorm?
    var causal: Bool
    var padMode: PadMode
    let kernelSize: Int, stride: Int, dilation: Int
    /// The F(2,2) form of a K = 2·stride down-sampling conv (3 products per 2 outputs instead of 4).
    let winograd: WinogradConvWeights?

    init(_ w: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, kernelSize: Int,
         stride: Int = 1, dilation: Int = 1, config: CodecConfig) throws {
        let weight = try w.take("\(prefix).conv.conv.weight", [outChannels, inChannels, kernelSize])
        let bias = try w.take("\(prefix).conv.conv.bias", [outChannels])
        conv = Conv1d(weight: weight, bias: bias, stride: stride, dilation: dilation)
        if config.norm == .timeGroupNorm {
            norm = GroupNorm(groups: 1, channels: outChannels, eps: 1e-5,
                             weight: try w.take("\(prefix).conv.norm.weight", [outChannels]).data,
                             bias: try w.take("\(prefix).conv.norm.bias", [outChannels]).data)
        }
        causal = config.causal
        padMode = config.padMode
        self.kernelSize = kernelSize; self.stride = stride; self.dilation = dilation
        winograd = WinogradConvWeights.applies(kernelSize: kernelSize, stride: stride, dilation: dilation)
            ? weight.data.withUnsafeBufferPointer { w in
                bias.data.withUnsafeBufferPointer { b in
                    packConv1dWinogradWeights(w.baseAddress!, bias: b.baseAddress!, outChannels: outChannels,
                                              inChannels: inChannels, stride: stride)
                }
            } : nil
    }

    /// `[residual +] conv(pad1d(f(x), padLeft, padRight))`, by F(2,2) when `winograd` is set (outputs
    /// paired from absolute index 0, as the streaming stage pairs them), else by `Conv1d.forward`.
    func forward(_ x: Tensor, padLeft: Int, padRight: Int, inputELU: Float?, adding residual: Tensor? = nil) -> Tensor {
        guard let winograd else {
            return conv.forward(x, padLeft: padLeft, padRight: padRight, padMode: padMode.nn, inputELU: inputELU, adding: residual)
        }
        precondition(x.rank == 3 && x.shape[1] == conv.inChannels, "StreamableConv1d: input must be [B, \(conv.inChannels), T], got \(x.shape)")
        let sh = conv.shape(batch: x.shape[0], inLength: x.shape[2], padLeft: padLeft, padRight: padRight)
        let input = x.data.isEmpty ? [0] : x.data
        let outShape = [sh.batch, conv.outChannels, sh.outLength]
        var y: Tensor
        if let residual {
            precondition(residual.shape == outShape, "StreamableConv1d: residual is \(residual.shape), the output is \(outShape)")
            y = residual
        } else {
            y = Tensor(shape: outShape, data: [Float](unsafeUninitializedCapacity: sh.outputCount) { _, count in count = sh.outputCount })
        }
        guard sh.outputCount > 0 else { return y }
        input.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                conv1dWinogradForward(out: yp.baseAddress!, x: xp.baseAddress!, weights: winograd, shape: sh, padMode: padMode.nn,
                                      inputELU: inputELU, accumulate: residual != nil)
            }
        }
        return y
    }

    /// y = norm(conv(pad(x))), optionally with ELU fused on the input (ELU commutes with the padding
    /// because ELU(0) = 0 and reflect/replicate copy values).
    /// `residual + conv(pad(x))` when `residual` is given (fused into the kernel's store, the same bits as
    /// adding afterwards; not with GroupNorm, which must see the convolution alone).
    func callAsFunction(_ x: Tensor, inputELU: Float? = nil, adding residual: Tensor? = nil) -> Tensor {
        let p = ConvPadding.conv(length: x.shape[2], kernelSize: kernelSize, stride: stride, dilation: dilation, causal: causal)
        guard let norm else {
            // Padding (with EnCodec's short-input reflect rule) and ELU happen while the kernel stages x.
            return forward(x, padLeft: p.left, padRight: p.right, inputELU: inputELU, adding: residual)
        }
        let y = norm(forward(x, padLeft: p.left, padRight: p.right, inputELU: inputELU))
        return residual.map { add($0, y) } ?? y
    }
}

/// A transposed convolution followed by EnCodec's trim (K − stride samples, causal: on the right).
/// GroupNorm, when used, runs before the trim, as in NormConvTranspose1d.
struct StreamableConvTranspose1d {
    var convtr: ConvTranspose1d
    var norm: GroupNorm?
    let trim: PaddingPair
    /// The F(2,2) form of a K = 2·stride up-sampling transposed conv.
    let winograd: WinogradConvWeights?

    init(_ w: WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int,
         config: CodecConfig) throws {
        let weight = try w.take("\(prefix).convtr.convtr.weight", [inChannels, outChannels, kernelSize])
        let bias = try w.take("\(prefix).convtr.convtr.bias", [outChannels])
        convtr = ConvTranspose1d(weight: weight, bias: bias, stride: stride)
        if config.norm == .timeGroupNorm {
            norm = GroupNorm(groups: 1, channels: outChannels, eps: 1e-5,
                             weight: try w.take("\(prefix).convtr.norm.weight", [outChannels]).data,
                             bias: try w.take("\(prefix).convtr.norm.bias", [outChannels]).data)
        }
        trim = ConvPadding.transposedTrim(kernelSize: kernelSize, stride: stride, causal: config.causal,
                                          trimRightRatio: config.trimRightRatio)
        winograd = WinogradConvWeights.applies(kernelSize: kernelSize, stride: stride)
            ? weight.data.withUnsafeBufferPointer { w in
                bias.data.withUnsafeBufferPointer { b in
                    packConvTranspose1dWinogradWeights(w.baseAddress!, bias: b.baseAddress!, inChannels: inChannels,
                                                       outChannels: outChannels, stride: stride)
                }
            } : nil
    }

    func callAsFunction(_ x: Tensor, inputELU: Float? = nil) -> Tensor {
        guard let norm else {
            // The trim is fused into the kernel's store.
            return forward(x, trimLeft: trim.left, trimRight: trim.right, inputELU: inputELU)
        }
        return unpad1d(norm(forward(x, trimLeft: 0, trimRight: 0, inputELU: inputELU)), left: trim.left, right: trim.right)
    }

    /// `unpad1d(convTranspose(f(x)), trimLeft, trimRight)`, by F(2,2) when `winograd` is set (input steps
    /// paired from absolute index 0, as the streaming stage pairs them), else by `ConvTranspose1d.forward`.
    func forward(_ x: Tensor, trimLeft: Int, trimRight: Int, inputELU: Float?) -> Tensor {
        guard let winograd else { return convtr.forward(x, trimLeft: trimLeft, trimRight: trimRight, inputELU: inputELU) }
        precondition(x.rank == 3 && x.shape[1] == convtr.inChannels,
                     "StreamableConvTranspose1d: input must be [B, \(convtr.inChannels), T], got \(x.shape)")
        let sh = ConvTranspose1dShape(batch: x.shape[0], inChannels: convtr.inChannels, outChannels: convtr.outChannels,
                                      inLength: x.shape[2], kernelSize: convtr.kernelSize, stride: convtr.stride,
                                      trimLeft: trimLeft, trimRight: trimRight)
        let n = sh.outputCount
        guard n > 0 else { return Tensor.zeros([sh.batch, convtr.outChannels, sh.outLength]) }
        let data = [Float](unsafeUninitializedCapacity: n) { buf, count in
            x.data.withUnsafeBufferPointer { xp in
                convTranspose1dWinogradForward(out: buf.baseAddress!, x: xp.baseAddress!, weights: winograd, shape: sh, inputELU: inputELU)
            }
            count = n
        }
        return Tensor(shape: [sh.batch, convtr.outChannels, sh.outLength], data: data)
    }
}

/// Residual block: shortcut(x) + conv_k1(ELU(conv_k3(ELU(x)))), with a 1×1 convolution as the shortcut
/// unless `trueSkip`. With a 1×1 shortcut, the last conv and the shortcut run as one 1×1 conv over
/// `[ELU(h); x]` (weights side by side, biases added): one pass writing the output once, instead of two
/// convs and an add. (A different rounding from summing the two convs separately, as EnCodec does: within
/// the parity tolerances; the streaming stage uses the same fused product, so streaming stays exact.)
struct ResidualBlock {
    var convs: [StreamableConv1d]
    var shortcut: StreamableConv1d?
    let alpha: Float = 1
    /// `[W_last | W_shortcut]` and `b_last + b_shortcut`, when the block has that form (2 convs, the last
    /// and the shortcut 1×1, stride 1, no GroupNorm).
    let fused: PackedConvWeights?

    init(_ w: WeightStore, _ prefix: String, dim: Int, dilation: Int, config: CodecConfig) throws {
        let hidden = dim / config.compress
        let kernels = [config.residualKernelSize, 1], dilations = [dilation, 1]
        convs = []
        for i in 0..<kernels.count {
            let cin = i == 0 ? dim : hidden, cout = i == kernels.count - 1 ? dim : hidden
            // block = [ELU, conv, ELU, conv]: the convolutions sit at odd indices.
            convs.append(try StreamableConv1d(w, "\(prefix).block.\(2 * i + 1)", inChannels: cin, outChannels: cout,
                                              kernelSize: kernels[i], dilation: dilations[i], config: config))
        }
        shortcut = config.trueSkip ? nil
            : try StreamableConv1d(w, "\(prefix).shortcut", inChannels: dim, outChannels: dim, kernelSize: 1, config: config)
        fused = ResidualBlock.fuse(convs, shortcut)
    }

    private static func fuse(_ convs: [StreamableConv1d], _ shortcut: StreamableConv1d?) -> PackedConvWeights? {
        guard let s = shortcut, convs.count == 2, convs[0].stride == 1 else { return nil }
        let last = convs[1]
        guard last.norm == nil, s.norm == nil, last.kernelSize == 1, last.stride == 1, s.kernelSize == 1, s.stride == 1,
              last.conv.outChannels == s.conv.outChannels else { return nil }
        let cout = s.conv.outChannels
        let bias = (0..<cout).map { (last.conv.bias?[$0] ?? 0) + (s.conv.bias?[$0] ?? 0) }
        return last.conv.weight.withUnsafeBufferPointer { wa in
            s.conv.weight.withUnsafeBufferPointer { wb in
                bias.withUnsafeBufferPointer { bp in
                    packConcatConv1x1Weights(weightA: wa.baseAddress!, channelsA: last.conv.inChannels, weightB: wb.baseAddress!,
                                             channelsB: s.conv.inChannels, bias: bp.baseAddress!, outChannels: cout)
                }
            }
        }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        if fused != nil && x.shape[0] == 1 {
            if convs[0].norm == nil { return tiled(x) }
            return fusedLast(convs[0](x, inputELU: alpha), x)
        }
        var y = x
        for c in convs.dropLast() { y = c(y, inputELU: alpha) }
        // shortcut(x) + last conv, the add fused into the last conv's store (s + y, as the block).
        let s = shortcut.map { $0(x) } ?? x
        return convs[convs.count - 1](y, inputELU: alpha, adding: s)
    }

    /// The whole block in time tiles (`residualUnitForward`): the first conv's output for a tile stays in
    /// cache for the fused last conv. The same bits as `fusedLast(convs[0](x), x)`.
    func tiled(_ x: Tensor) -> Tensor {
        let c = convs[0], n = x.shape[2], dim = x.shape[1]
        let p = ConvPadding.conv(length: n, kernelSize: c.kernelSize, stride: 1, dilation: c.dilation, causal: c.causal)
        let shape = c.conv.shape(batch: 1, inLength: n, padLeft: p.left, padRight: p.right)
        guard n > 0, shape.outLength == n else { return fusedLast(c(x, inputELU: alpha), x) }
        let data = [Float](unsafeUninitializedCapacity: dim * n) { buf, count in
            x.data.withUnsafeBufferPointer { xp in
                residualUnitForward(out: buf.baseAddress!, x: xp.baseAddress!, shape: shape, first: c.conv.packed,
                                    padMode: c.padMode.nn, inputELU: alpha, hiddenELU: alpha, last: fused!,
                                    tileLength: ResidualBlock.tileLength(dim: dim))
            }
            count = dim * n
        }
        return Tensor(shape: [1, dim, n], data: data)
    }

    /// Columns per tile: 65536 / dim (dim 32: 2048, the tile's input, path output and output ~640 KiB; the
    /// best of 32768, 65536 and 131072 / dim in a 10 s encode/decode profile), at least one 480-column block.
    static func tileLength(dim: Int) -> Int { max(480, 65536 / max(1, dim)) }

    /// The fused last conv and shortcut: `[1, hidden, n]` (before its ELU) and `[1, dim, n]` → `[1, dim, n]`.
    func fusedLast(_ h: Tensor, _ x: Tensor) -> Tensor {
        let packed = fused!
        let n = x.shape[2], hidden = h.shape[1], dim = packed.rows
        precondition(h.shape == [1, convs[1].conv.inChannels, n] && x.shape == [1, packed.inChannels - hidden, n],
                     "ResidualBlock: h \(h.shape) and x \(x.shape) do not line up")
        guard n > 0 else { return Tensor.zeros([1, dim, 0]) }
        let data = [Float](unsafeUninitializedCapacity: dim * n) { buf, count in
            h.data.withUnsafeBufferPointer { hp in
                x.data.withUnsafeBufferPointer { xp in
                    conv1x1ConcatForward(out: buf.baseAddress!, ldy: n, a: hp.baseAddress!, lda: n, inputELUOnA: alpha,
                                         b: xp.baseAddress!, ldb: n, channelsA: hidden, packed: packed, length: n)
                }
            }
            count = dim * n
        }
        return Tensor(shape: [1, dim, n], data: data)
    }
}

/// LSTM over [1, C, T] with the skip connection of EnCodec's SLSTM (y = LSTM(x) + x).
struct StreamableLSTM {
    var lstm: LSTM

    init(_ w: WeightStore, _ prefix: String, dim: Int, layers: Int) throws {
        var ls: [LSTMLayerWeights] = []
        for l in 0..<layers {
            ls.append(LSTMLayerWeights(
                inputSize: dim, hiddenSize: dim,
                weightIH: try w.take("\(prefix).lstm.weight_ih_l\(l)", [4 * dim, dim]).data,
                weightHH: try w.take("\(prefix).lstm.weight_hh_l\(l)", [4 * dim, dim]).data,
                biasIH: try w.take("\(prefix).lstm.bias_ih_l\(l)", [4 * dim]).data,
                biasHH: try w.take("\(prefix).lstm.bias_hh_l\(l)", [4 * dim]).data))
        }
        lstm = LSTM(layers: ls)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { add(lstm(x), x) }
}

/// One stage of a SEANet stack; the ELU before a convolution is fused into it.
enum SEANetLayer {
    case conv(StreamableConv1d, eluBefore: Bool)
    case convTranspose(StreamableConvTranspose1d, eluBefore: Bool)
    case residual(ResidualBlock)
    case lstm(StreamableLSTM)
}

/// Runs a list of layers in order.
func runLayers(_ layers: [SEANetLayer], _ input: Tensor) -> Tensor {
    var x = input
    for layer in layers {
        switch layer {
        case let .conv(c, elu): x = c(x, inputELU: elu ? 1 : nil)
        case let .convTranspose(c, elu): x = c(x, inputELU: elu ? 1 : nil)
        case let .residual(r): x = r(x)
        case let .lstm(l): x = l(x)
        }
    }
    return x
}

/// SEANet encoder: conv(k7) → [residual blocks, ELU, strided conv(2·r, stride r), width ×2] per ratio →
/// LSTM → ELU → conv(k7) to D channels. Input [1, channels, T] → output [1, D, ⌈T / hop⌉].
struct SEANetEncoder {
    let layers: [SEANetLayer]

    init(_ w: WeightStore, config c: CodecConfig) throws {
        var layers: [SEANetLayer] = []
        var index = 0
        func name() -> String { defer { index += 1 }; return "encoder.model.\(index)" }
        var mult = 1
        layers.append(.conv(try StreamableConv1d(w, name(), inChannels: c.channels, outChannels: c.filters,
                                                 kernelSize: c.kernelSize, config: c), eluBefore: false))
        for ratio in c.encoderRatios {
            for j in 0..<c.residualLayers {
                layers.append(.residual(try ResidualBlock(w, name(), dim: mult * c.filters,
                                                          dilation: Int(pow(Double(c.dilationBase), Double(j))), config: c)))
            }
            index += 1 // ELU
            layers.append(.conv(try StreamableConv1d(w, name(), inChannels: mult * c.filters, outChannels: mult * c.filters * 2,
                                                     kernelSize: 2 * ratio, stride: ratio, config: c), eluBefore: true))
            mult *= 2
        }
        if c.lstmLayers > 0 {
            layers.append(.lstm(try StreamableLSTM(w, name(), dim: mult * c.filters, layers: c.lstmLayers)))
        }
        index += 1 // ELU
        layers.append(.conv(try StreamableConv1d(w, name(), inChannels: mult * c.filters, outChannels: c.dimension,
                                                 kernelSize: c.lastKernelSize, config: c), eluBefore: true))
        self.layers = layers
    }

    func callAsFunction(_ x: Tensor) -> Tensor { runLayers(layers, x) }
}

/// SEANet decoder, the mirror image: conv(k7) from D → LSTM → [ELU, transposed conv(2·r, stride r),
/// width ÷2, residual blocks] per ratio → ELU → conv(k7) to audio channels.
struct SEANetDecoder {
    let layers: [SEANetLayer]

    init(_ w: WeightStore, config c: CodecConfig) throws {
        var layers: [SEANetLayer] = []
        var index = 0
        func name() -> String { defer { index += 1 }; return "decoder.model.\(index)" }
        var mult = 1 << c.ratios.count
        layers.append(.conv(try StreamableConv1d(w, name(), inChannels: c.dimension, outChannels: mult * c.filters,
                                                 kernelSize: c.kernelSize, config: c), eluBefore: false))
        if c.lstmLayers > 0 {
            layers.append(.lstm(try StreamableLSTM(w, name(), dim: mult * c.filters, layers: c.lstmLayers)))
        }
        for ratio in c.ratios {
            index += 1 // ELU
            layers.append(.convTranspose(try StreamableConvTranspose1d(
                w, name(), inChannels: mult * c.filters, outChannels: mult * c.filters / 2,
                kernelSize: 2 * ratio, stride: ratio, config: c), eluBefore: true))
            for j in 0..<c.residualLayers {
                layers.append(.residual(try ResidualBlock(w, name(), dim: mult * c.filters / 2,
                                                          dilation: Int(pow(Double(c.dilationBase), Double(j))), config: c)))
            }
            mult /= 2
        }
        index += 1 // ELU
        layers.append(.conv(try StreamableConv1d(w, name(), inChannels: c.filters, outChannels: c.channels,
                                                 kernelSize: c.lastKernelSize, config: c), eluBefore: true))
        self.layers = layers
    }

    func callAsFunction(_ x: Tensor) -> Tensor { runLayers(layers, x) }
}

extension PadMode {
    var nn: NN.PadMode {
        switch self {
        case .reflect: return .reflect
        case .constant: return .constant(0)
        case .replicate: return .replicate
        }
    }
}

/// Elementwise a + b (same shape).
func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
    var out = a
    out.data.withUnsafeMutableBufferPointer { o in
        b.data.withUnsafeBufferPointer { bb in for i in 0..<o.count { o[i] += bb[i] } }
    }
    return out
}

import Foundation
