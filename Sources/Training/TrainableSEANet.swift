// TrainableSEANet: EnCodec's SEANet encoder and decoder with plain (not weight-normed) weights, a forward
// that records what backward needs, and backward passes accumulating parameter gradients. Parameter names are
// EnCodec's state-dict names, so the export loads into `CodecModel`. Mirrors encodec/modules/seanet.py.
import Codec
import Foundation
import ModelFile
import NN

/// How a parameter scales with width under µP (Tensor Programs V, Table 3; "width" = n_filters).
public enum ParameterRole: String, Codable, Sendable {
    /// Fan-in fixed across widths (the first conv of the encoder, from audio, and of the decoder, from the
    /// D-dimensional latent): init variance 1/fan_in, Adam learning rate η.
    case input
    /// Fan-in and fan-out both grow with width (residual, strided and transposed convs, LSTM): init
    /// variance 1/fan_in, Adam learning rate η/m.
    case hidden
    /// Fan-out fixed (the last conv of the encoder, to D, and of the decoder, to audio): init variance
    /// 1/(fan_in·m), Adam learning rate η/m.
    case output
    /// Biases (vectors): initialised to zero, Adam learning rate η.
    case bias
}

/// Name, shape and µP description of one trainable tensor.
public struct ParameterInfo: Equatable, Sendable {
    /// EnCodec state-dict name, e.g. `encoder.model.1.block.1.conv.conv.weight`.
    public let name: String
    public let shape: [Int]
    public let role: ParameterRole
    /// Inputs summed per output: Cin·K for a conv, Cin·K/s for a transposed conv, In or H for the LSTM.
    public let fanIn: Int
    public var count: Int { shape.reduce(1, *) }
}

/// Standard parameterization (PyTorch defaults at every width) or µP relative to a base width.
public enum Parameterization: String, Codable, Sendable {
    case standard = "sp"
    case muP = "mup"
}

/// Width scaling of initialisation and learning rates: µP multipliers use m = filters / baseFilters.
public struct WidthScaling: Codable, Equatable, Sendable {
    public var parameterization: Parameterization
    /// The base width (n_filters) at which µP equals standard parameterization.
    public var baseFilters: Int
    /// Standard deviation of the weight init in units of 1/√fan_in (1: variance 1/fan_in, TP5 Table 3;
    /// PyTorch's default conv init is 1/√3).
    public var initGain: Double

    public init(parameterization: Parameterization, baseFilters: Int, initGain: Double = 1) {
        self.parameterization = parameterization
        self.baseFilters = baseFilters
        self.initGain = initGain
    }

    /// Width multiplier m = filters / baseFilters.
    public func widthMultiplier(filters: Int) -> Double { Double(filters) / Double(baseFilters) }

    /// Adam learning-rate multiplier of a parameter (TP5 Table 3): 1 for input weights and biases, 1/m for
    /// hidden and output weights under µP; 1 for everything under standard parameterization.
    public func learningRateMultiplier(_ role: ParameterRole, filters: Int) -> Double {
        guard parameterization == .muP else { return 1 }
        switch role {
        case .input, .bias: return 1
        case .hidden, .output: return 1 / widthMultiplier(filters: filters)
        }
    }

    /// Half-width of the uniform initialisation: gain·√(3/fan_in) (variance gain²/fan_in); under µP the
    /// output layers get gain·√(3/(fan_in·m)) (variance ∝ 1/fan_in², TP5 Table 3). Biases start at zero.
    public func initBound(_ info: ParameterInfo, filters: Int) -> Double {
        switch info.role {
        case .bias: return 0
        case .input, .hidden: return initGain * (3 / Double(info.fanIn)).squareRoot()
        case .output:
            let m = parameterization == .muP ? widthMultiplier(filters: filters) : 1
            return initGain * (3 / (Double(info.fanIn) * m)).squareRoot()
        }
    }
}

extension CodecConfig {
    /// A causal 24 kHz mono SEANet codec for training: ratios [8, 5, 4, 2] (75 frames/s), D = 128 at every
    /// width, `filters` = the width, plain convolutions (no weight norm, see TrainableSEANet), reflect padding,
    /// `codebooks` stages of 1024 codes (0.75 kbps each).
    public static func trainable24kHz(filters: Int, codebooks: Int = 8, lstmLayers: Int = 2) -> CodecConfig {
        let perStage = 0.75
        let bandwidths = [1.5, 3, 6, 12, 24].filter { $0 <= Double(codebooks) * perStage + 1e-9 }
        return CodecConfig(name: "neuralcodec_24khz", sampleRate: 24000, channels: 1, dimension: 128, filters: filters,
                           lstmLayers: lstmLayers, causal: true, norm: .none, codebooks: codebooks,
                           bandwidths: bandwidths.isEmpty ? [Double(codebooks) * perStage] : bandwidths,
                           normalize: false, segment: nil)
    }
}

/// What the backward pass of one layer needs, saved by the training forward.
enum LayerTape {
    case conv(input: Tensor)
    case convTranspose(input: Tensor)
    case residual(input: Tensor, hidden: Tensor)
    /// Per LSTM layer: its input, output, activated gates and cell states.
    case lstm(inputs: [Tensor], outputs: [Tensor], gates: [[Float]], cells: [[Float]])
}

/// The record of one encoder or decoder forward pass.
public struct SEANetTape {
    var layers: [LayerTape]
    /// Root-mean-square of each layer's output, named by the layer (`encoder.model.3`), in order.
    public var activationRMS: [(layer: String, rms: Double)]
}

/// A conv layer: parameter indices and the structure.
struct ConvSpec {
    let name: String
    let weight: Int, bias: Int
    let inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int, dilation: Int
    let eluBefore: Bool
}

struct ConvTransposeSpec {
    let name: String
    let weight: Int, bias: Int
    let inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int
    let trim: PaddingPair
    let eluBefore: Bool
}

struct LSTMSpec {
    let name: String
    /// Per layer: weight_ih, weight_hh, bias_ih, bias_hh indices.
    let layers: [(wih: Int, whh: Int, bih: Int, bhh: Int)]
    let dim: Int
}

enum TrainLayer {
    case conv(ConvSpec)
    case convTranspose(ConvTransposeSpec)
    case residual(name: String, first: ConvSpec, second: ConvSpec, shortcut: ConvSpec?)
    case lstm(LSTMSpec)

    var name: String {
        switch self {
        case let .conv(c): return c.name
        case let .convTranspose(c): return c.name
        case let .residual(name, _, _, _): return name
        case let .lstm(l): return l.name
        }
    }
}

/// SEANet encoder + decoder with trainable parameters (EnCodec structure for causal or non-causal models
/// without group norm). Activations are `[B, C, T]`.
///
/// Plain weights rather than weight norm: EnCodec trains with weight_norm (w = g·v/‖v‖), but the
/// reparametrisation only rescales Adam's per-coordinate steps through ‖v‖, which µP's per-layer learning
/// rates already control; exporting folded weights is what `CodecModel` loads anyway, and a plain weight keeps
/// µP's fan-in rules exact (no per-channel norm coupling the update to the init scale).
public final class TrainableSEANet {
    public let config: CodecConfig
    /// Every trainable tensor, encoder first, in structural order.
    public let parameters: [ParameterInfo]
    /// Values per parameter (row-major, PyTorch layouts).
    public var values: [[Float]]
    /// Gradients per parameter, accumulated by the backward passes; `zeroGradients()` clears them.
    public var gradients: [[Float]]
    let encoderLayers: [TrainLayer]
    let decoderLayers: [TrainLayer]
    private let indexByName: [String: Int]

    /// A freshly initialised model (uniform init, bounds from `scaling.initBound`, biases zero), seeded.
    public convenience init(config: CodecConfig, scaling: WidthScaling, seed: UInt64) throws {
        try self.init(config: config)
        var rng = InitRNG(seed: seed)
        for (i, p) in parameters.enumerated() {
            let bound = scaling.initBound(p, filters: config.filters)
            values[i] = (0..<p.count).map { _ in Float(bound * (2 * rng.unit() - 1)) }
        }
    }

    /// A model with the given tensors (EnCodec names, plain weights), e.g. from a model file; every
    /// parameter must be present with its shape. Quantizer tensors are ignored.
    public convenience init(config: CodecConfig, tensors: [String: TensorData], path: String) throws {
        try self.init(config: config)
        for (i, p) in parameters.enumerated() {
            guard let t = tensors[p.name] else { throw ModelFileError.missingTensor(path: path, name: p.name) }
            guard t.shape == p.shape else { throw ModelFileError.shapeMismatch(path: path, name: p.name, expected: p.shape, found: t.shape) }
            values[i] = t.values
        }
    }

    /// Builds the structure with zero parameters.
    private init(config c: CodecConfig) throws {
        try c.validate()
        guard c.norm != .timeGroupNorm else {
            throw TrainingError.invalidParameter(name: "norm", value: c.norm.rawValue, reason: "training supports weight_norm/none models (plain weights)")
        }
        config = c
        let b = StructureBuilder()
        // Encoder: conv → [residual blocks, ELU, strided conv] per ratio → LSTM → ELU → conv to D.
        var index = 0
        func encName() -> String { defer { index += 1 }; return "encoder.model.\(index)" }
        var enc: [TrainLayer] = []
        var mult = 1
        enc.append(.conv(b.conv(encName(), c.channels, c.filters, c.kernelSize, role: .input, elu: false)))
        for ratio in c.encoderRatios {
            for j in 0..<c.residualLayers {
                enc.append(b.residual(encName(), dim: mult * c.filters, dilation: Int(pow(Double(c.dilationBase), Double(j))), config: c))
            }
            index += 1  // ELU
            enc.append(.conv(b.conv(encName(), mult * c.filters, mult * c.filters * 2, 2 * ratio, stride: ratio, role: .hidden, elu: true)))
            mult *= 2
        }
        if c.lstmLayers > 0 { enc.append(.lstm(b.lstm(encName(), dim: mult * c.filters, layers: c.lstmLayers))) }
        index += 1  // ELU
        enc.append(.conv(b.conv(encName(), mult * c.filters, c.dimension, c.lastKernelSize, role: .output, elu: true)))
        // Decoder: conv from D → LSTM → [ELU, transposed conv, residual blocks] per ratio → ELU → conv to audio.
        index = 0
        func decName() -> String { defer { index += 1 }; return "decoder.model.\(index)" }
        var dec: [TrainLayer] = []
        mult = 1 << c.ratios.count
        dec.append(.conv(b.conv(decName(), c.dimension, mult * c.filters, c.kernelSize, role: .input, elu: false)))
        if c.lstmLayers > 0 { dec.append(.lstm(b.lstm(decName(), dim: mult * c.filters, layers: c.lstmLayers))) }
        for ratio in c.ratios {
            index += 1  // ELU
            let name = decName()
            let trim = ConvPadding.transposedTrim(kernelSize: 2 * ratio, stride: ratio, causal: c.causal, trimRightRatio: c.trimRightRatio)
            let w = b.add("\(name).convtr.convtr.weight", [mult * c.filters, mult * c.filters / 2, 2 * ratio], .hidden,
                          fanIn: mult * c.filters * 2)  // Cin·K/s
            let bias = b.add("\(name).convtr.convtr.bias", [mult * c.filters / 2], .bias, fanIn: 1)
            dec.append(.convTranspose(ConvTransposeSpec(name: name, weight: w, bias: bias, inChannels: mult * c.filters,
                                                        outChannels: mult * c.filters / 2, kernelSize: 2 * ratio, stride: ratio,
                                                        trim: trim, eluBefore: true)))
            for j in 0..<c.residualLayers {
                dec.append(b.residual(decName(), dim: mult * c.filters / 2, dilation: Int(pow(Double(c.dilationBase), Double(j))), config: c))
            }
            mult /= 2
        }
        index += 1  // ELU
        dec.append(.conv(b.conv(decName(), c.filters, c.channels, c.lastKernelSize, role: .output, elu: true)))
        encoderLayers = enc
        decoderLayers = dec
        parameters = b.infos
        values = b.infos.map { [Float](repeating: 0, count: $0.count) }
        gradients = values
        var idx: [String: Int] = [:]
        for (i, p) in b.infos.enumerated() { idx[p.name] = i }
        indexByName = idx
    }

    /// Index of the parameter called `name`, or nil.
    public func parameterIndex(_ name: String) -> Int? { indexByName[name] }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Sets every gradient to zero (backward passes accumulate).
    public func zeroGradients() {
        for i in 0..<gradients.count { gradients[i].withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
    }

    // MARK: forward and backward

    /// Encoder: audio `[B, channels, T]` → latents `[B, D, ⌈T / hop⌉]`, with the tape for `encoderBackward`.
    public func encoderForward(_ x: Tensor) -> (latent: Tensor, tape: SEANetTape) {
        precondition(x.rank == 3 && x.shape[1] == config.channels, "encoderForward: audio must be [B, \(config.channels), T], got \(x.shape)")
        return run(encoderLayers, x)
    }

    /// Decoder: latents `[B, D, F]` → audio `[B, channels, F·hop]`, with the tape for `decoderBackward`.
    public func decoderForward(_ z: Tensor) -> (audio: Tensor, tape: SEANetTape) {
        precondition(z.rank == 3 && z.shape[1] == config.dimension, "decoderForward: latents must be [B, \(config.dimension), F], got \(z.shape)")
        return run(decoderLayers, z)
    }

    /// Accumulates the encoder's parameter gradients for `dLatent` (the loss gradient of the latents).
    public func encoderBackward(_ tape: SEANetTape, dLatent: Tensor) {
        _ = backprop(encoderLayers, tape, dLatent, needInputGradient: false)
    }

    /// Accumulates the decoder's parameter gradients for `dAudio` and returns the gradient of the latents.
    public func decoderBackward(_ tape: SEANetTape, dAudio: Tensor) -> Tensor {
        backprop(decoderLayers, tape, dAudio, needInputGradient: true)!
    }

    private func run(_ layers: [TrainLayer], _ input: Tensor) -> (Tensor, SEANetTape) {
        var x = input
        var tape = SEANetTape(layers: [], activationRMS: [])
        for layer in layers {
            let y: Tensor
            switch layer {
            case let .conv(c):
                y = convForward(c, x)
                tape.layers.append(.conv(input: x))
            case let .convTranspose(c):
                y = convTransposeForward(c, x)
                tape.layers.append(.convTranspose(input: x))
            case let .residual(_, first, second, shortcut):
                let h = convForward(first, x)
                var out = shortcut.map { convForward($0, x) } ?? x
                convForward(second, h, accumulateInto: &out)
                y = out
                tape.layers.append(.residual(input: x, hidden: h))
            case let .lstm(l):
                var inputs: [Tensor] = [], outputs: [Tensor] = [], gates: [[Float]] = [], cells: [[Float]] = []
                var h = x
                for p in l.layers {
                    let w = lstmWeights(p, l.dim)
                    let shape = LSTMShape(batch: x.shape[0], inputSize: l.dim, hiddenSize: l.dim, length: x.shape[2])
                    var out = Tensor.zeros(h.shape)
                    var g = [Float](repeating: 0, count: 4 * h.count), cs = [Float](repeating: 0, count: h.count)
                    if h.count > 0 {
                        lstmLayerForwardTraining(out: &out.data, gates: &g, cells: &cs, x: h.data, weights: w, shape: shape)
                    }
                    inputs.append(h); outputs.append(out); gates.append(g); cells.append(cs)
                    h = out
                }
                y = addTensors(h, x)  // SLSTM skip connection
                tape.layers.append(.lstm(inputs: inputs, outputs: outputs, gates: gates, cells: cells))
            }
            tape.activationRMS.append((layer.name, rms(y)))
            x = y
        }
        return (x, tape)
    }

    private func backprop(_ layers: [TrainLayer], _ tape: SEANetTape, _ dOutput: Tensor, needInputGradient: Bool) -> Tensor? {
        precondition(tape.layers.count == layers.count, "backward: the tape does not belong to this stack")
        var dy = dOutput
        for li in stride(from: layers.count - 1, through: 0, by: -1) {
            let wantDx = li > 0 || needInputGradient
            switch (layers[li], tape.layers[li]) {
            case let (.conv(c), .conv(x)):
                dy = convBackward(c, x, dy, wantDx: wantDx) ?? dy
            case let (.convTranspose(c), .convTranspose(x)):
                dy = convTransposeBackward(c, x, dy, wantDx: wantDx) ?? dy
            case let (.residual(_, first, second, shortcut), .residual(x, h)):
                let dh = convBackward(second, h, dy, wantDx: true)!
                var dx = convBackward(first, x, dh, wantDx: true)!
                if let shortcut {
                    let ds = convBackward(shortcut, x, dy, wantDx: true)!
                    dx = addTensors(dx, ds)
                } else {
                    dx = addTensors(dx, dy)
                }
                dy = dx
            case let (.lstm(l), .lstm(inputs, outputs, gates, cells)):
                var dh = dy
                for k in stride(from: l.layers.count - 1, through: 0, by: -1) {
                    let p = l.layers[k]
                    let w = lstmWeights(p, l.dim)
                    let shape = LSTMShape(batch: dy.shape[0], inputSize: l.dim, hiddenSize: l.dim, length: dy.shape[2])
                    var dx = Tensor.zeros(inputs[k].shape)
                    if dx.count > 0 {
                        withGradients(p.wih, p.whh, p.bih, p.bhh) { a, b, c, d in
                            lstmLayerBackward(dx: &dx.data, gradients: LSTMLayerGradients(weightIH: a, weightHH: b, biasIH: c, biasHH: d),
                                              dOut: dh.data, out: outputs[k].data, gates: gates[k], cells: cells[k],
                                              x: inputs[k].data, weights: w, shape: shape)
                        }
                    }
                    dh = dx
                }
                dy = addTensors(dh, dy)  // skip connection
            default:
                preconditionFailure("backward: tape entry \(li) does not match its layer")
            }
        }
        return needInputGradient ? dy : nil
    }

    // MARK: layers

    private func convShape(_ c: ConvSpec, _ x: Tensor) -> Conv1dShape {
        let p = ConvPadding.conv(length: x.shape[2], kernelSize: c.kernelSize, stride: c.stride, dilation: c.dilation, causal: config.causal)
        return Conv1dShape(batch: x.shape[0], inChannels: c.inChannels, outChannels: c.outChannels, inLength: x.shape[2],
                           kernelSize: c.kernelSize, stride: c.stride, dilation: c.dilation, padLeft: p.left, padRight: p.right)
    }

    private var padMode: NN.PadMode {
        switch config.padMode {
        case .reflect: return .reflect
        case .replicate: return .replicate
        case .constant: return .zero
        }
    }

    private func convForward(_ c: ConvSpec, _ x: Tensor) -> Tensor {
        let sh = convShape(c, x)
        var y = Tensor.zeros([sh.batch, sh.outChannels, sh.outLength])
        convForward(c, x, accumulateInto: &y, accumulate: false)
        return y
    }

    private func convForward(_ c: ConvSpec, _ x: Tensor, accumulateInto y: inout Tensor, accumulate: Bool = true) {
        let sh = convShape(c, x)
        precondition(y.shape == [sh.batch, sh.outChannels, sh.outLength], "conv \(c.name): output \(y.shape) does not match \(sh)")
        guard sh.batch > 0 else { return }
        let input = x.data.isEmpty ? [0] : x.data
        conv1dForward(out: &y.data, x: input, weight: values[c.weight], bias: values[c.bias], shape: sh, padMode: padMode,
                      inputELU: c.eluBefore ? 1 : nil, accumulate: accumulate)
    }

    private func convBackward(_ c: ConvSpec, _ x: Tensor, _ dy: Tensor, wantDx: Bool) -> Tensor? {
        let sh = convShape(c, x)
        var dx = wantDx ? Tensor.zeros(x.shape) : Tensor.zeros([0])
        withGradients(c.weight, c.bias) { dw, db in
            let input = x.data.isEmpty ? [0] : x.data
            if wantDx && !dx.data.isEmpty {
                conv1dBackward(dx: &dx.data, dWeight: dw, dBias: db, dOut: dy.data, x: input, weight: values[c.weight], shape: sh,
                               padMode: padMode, inputELU: c.eluBefore ? 1 : nil)
            } else {
                conv1dBackward(dx: nil, dWeight: dw, dBias: db, dOut: dy.data, x: input, weight: values[c.weight], shape: sh,
                               padMode: padMode, inputELU: c.eluBefore ? 1 : nil)
            }
        }
        return wantDx ? dx : nil
    }

    private func convTransposeShape(_ c: ConvTransposeSpec, _ x: Tensor) -> ConvTranspose1dShape {
        ConvTranspose1dShape(batch: x.shape[0], inChannels: c.inChannels, outChannels: c.outChannels, inLength: x.shape[2],
                             kernelSize: c.kernelSize, stride: c.stride, trimLeft: c.trim.left, trimRight: c.trim.right)
    }

    private func convTransposeForward(_ c: ConvTransposeSpec, _ x: Tensor) -> Tensor {
        let sh = convTransposeShape(c, x)
        var y = Tensor.zeros([sh.batch, sh.outChannels, sh.outLength])
        guard y.count > 0 else { return y }
        convTranspose1dForward(out: &y.data, x: x.data, weight: values[c.weight], bias: values[c.bias], shape: sh,
                               inputELU: c.eluBefore ? 1 : nil)
        return y
    }

    private func convTransposeBackward(_ c: ConvTransposeSpec, _ x: Tensor, _ dy: Tensor, wantDx: Bool) -> Tensor? {
        let sh = convTransposeShape(c, x)
        var dx = Tensor.zeros(x.shape)
        withGradients(c.weight, c.bias) { dw, db in
            if wantDx {
                convTranspose1dBackward(dx: &dx.data, dWeight: dw, dBias: db, dOut: dy.data, x: x.data, weight: values[c.weight],
                                        shape: sh, inputELU: c.eluBefore ? 1 : nil)
            } else {
                convTranspose1dBackward(dx: nil, dWeight: dw, dBias: db, dOut: dy.data, x: x.data, weight: values[c.weight],
                                        shape: sh, inputELU: c.eluBefore ? 1 : nil)
            }
        }
        return wantDx ? dx : nil
    }

    private func lstmWeights(_ p: (wih: Int, whh: Int, bih: Int, bhh: Int), _ dim: Int) -> LSTMLayerWeights {
        LSTMLayerWeights(inputSize: dim, hiddenSize: dim, weightIH: values[p.wih], weightHH: values[p.whh],
                         biasIH: values[p.bih], biasHH: values[p.bhh])
    }

    /// Pointers to the gradients of parameters `a` and `b`: the arrays are moved out while `body` runs, so
    /// the two mutable accesses do not overlap on `gradients` (and no copy is made).
    private func withGradients(_ a: Int, _ b: Int, _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        precondition(a != b, "withGradients: the same parameter twice")
        var ga = gradients[a], gb = gradients[b]
        gradients[a] = []; gradients[b] = []
        defer { gradients[a] = ga; gradients[b] = gb }
        ga.withUnsafeMutableBufferPointer { pa in gb.withUnsafeMutableBufferPointer { pb in body(pa.baseAddress!, pb.baseAddress!) } }
    }

    private func withGradients(_ a: Int, _ b: Int, _ c: Int, _ d: Int,
                               _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        withGradients(a, b) { ga, gb in withGradients(c, d) { gc, gd in body(ga, gb, gc, gd) } }
    }

    // MARK: export

    /// The encoder and decoder tensors by EnCodec name (plain weights, as `CodecModel` loads them).
    public func namedTensors() -> [String: TensorData] {
        var out: [String: TensorData] = [:]
        for (i, p) in parameters.enumerated() { out[p.name] = TensorData(shape: p.shape, values: values[i]) }
        return out
    }

    /// A model archive for `CodecModel`: these weights plus `codebooks` (one `[bins, D]` row-major table per
    /// stage, `config.codebooks` of them), saved as `quantizer.vq.layers.k._codebook.embed`.
    public func archive(codebooks: [[Float]], path: String = "trained model") throws -> ModelArchive {
        guard codebooks.count == config.codebooks else {
            throw TrainingError.invalidParameter(name: "codebooks", value: "\(codebooks.count)", reason: "the config has \(config.codebooks) stages")
        }
        var tensors = namedTensors()
        for (k, book) in codebooks.enumerated() {
            guard book.count == config.bins * config.dimension else {
                throw TrainingError.invalidParameter(name: "codebook \(k)", value: "\(book.count) values",
                                                     reason: "expected \(config.bins) × \(config.dimension)")
            }
            tensors["quantizer.vq.layers.\(k)._codebook.embed"] = TensorData(shape: [config.bins, config.dimension], values: book)
        }
        return ModelArchive(config: config, tensors: tensors, path: path)
    }
}

/// Collects parameter descriptions while the structure is built.
private final class StructureBuilder {
    var infos: [ParameterInfo] = []

    func add(_ name: String, _ shape: [Int], _ role: ParameterRole, fanIn: Int) -> Int {
        infos.append(ParameterInfo(name: name, shape: shape, role: role, fanIn: fanIn))
        return infos.count - 1
    }

    func conv(_ name: String, _ cin: Int, _ cout: Int, _ k: Int, stride: Int = 1, dilation: Int = 1, role: ParameterRole,
              elu: Bool) -> ConvSpec {
        let w = add("\(name).conv.conv.weight", [cout, cin, k], role, fanIn: cin * k)
        let b = add("\(name).conv.conv.bias", [cout], .bias, fanIn: 1)
        return ConvSpec(name: name, weight: w, bias: b, inChannels: cin, outChannels: cout, kernelSize: k, stride: stride,
                        dilation: dilation, eluBefore: elu)
    }

    /// EnCodec's SEANetResnetBlock: block = [ELU, conv(k_res, dilation), ELU, conv(1)], shortcut conv(1).
    func residual(_ name: String, dim: Int, dilation: Int, config c: CodecConfig) -> TrainLayer {
        let hidden = dim / c.compress
        let first = conv("\(name).block.1", dim, hidden, c.residualKernelSize, dilation: dilation, role: .hidden, elu: true)
        let second = conv("\(name).block.3", hidden, dim, 1, role: .hidden, elu: true)
        let shortcut = c.trueSkip ? nil : conv("\(name).shortcut", dim, dim, 1, role: .hidden, elu: false)
        return .residual(name: name, first: first, second: second, shortcut: shortcut)
    }

    func lstm(_ name: String, dim: Int, layers: Int) -> LSTMSpec {
        var ls: [(wih: Int, whh: Int, bih: Int, bhh: Int)] = []
        for l in 0..<layers {
            let wih = add("\(name).lstm.weight_ih_l\(l)", [4 * dim, dim], .hidden, fanIn: dim)
            let whh = add("\(name).lstm.weight_hh_l\(l)", [4 * dim, dim], .hidden, fanIn: dim)
            let bih = add("\(name).lstm.bias_ih_l\(l)", [4 * dim], .bias, fanIn: 1)
            let bhh = add("\(name).lstm.bias_hh_l\(l)", [4 * dim], .bias, fanIn: 1)
            ls.append((wih, whh, bih, bhh))
        }
        return LSTMSpec(name: name, layers: ls, dim: dim)
    }
}

/// SplitMix64 for parameter initialisation (platform-independent, seeded).
private struct InitRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 bits.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// Elementwise a + b.
private func addTensors(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
    var out = a
    out.data.withUnsafeMutableBufferPointer { o in b.data.withUnsafeBufferPointer { bb in for i in 0..<o.count { o[i] += bb[i] } } }
    return out
}

/// Root-mean-square of a tensor's elements (0 when empty).
private func rms(_ x: Tensor) -> Double {
    guard x.count > 0 else { return 0 }
    var s = 0.0
    for v in x.data { s += Double(v) * Double(v) }
    return (s / Double(x.count)).squareRoot()
}
