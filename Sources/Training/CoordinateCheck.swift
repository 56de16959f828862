// CoordinateCheck: the µP coordinate check (Tensor Programs V, §D / the `mup` package's coord_check): train
// the autoencoder a few Adam steps at several widths and record each layer's activation RMS per step.
import Codec
import Foundation
import NN

/// One measurement at `step` (0 = before any update) for `filters` = width: the RMS of `layer`'s output,
/// and the RMS of its change since step 0 (the part µP keeps width-independent: under standard
/// parameterization Adam's updates move a layer's output ∝ fan_in).
public struct CoordinateCheckRow: Equatable, Sendable {
    public var filters: Int
    public var step: Int
    public var layer: String
    public var rms: Double
    public var changeRMS: Double

    public init(filters: Int, step: Int, layer: String, rms: Double, changeRMS: Double) {
        self.filters = filters; self.step = step; self.layer = layer; self.rms = rms; self.changeRMS = changeRMS
    }
}

/// Trains `TrainableSEANet` (encoder → decoder, no quantizer, mean-squared waveform loss) for `steps` Adam
/// updates at constant `learningRate`, once per width in `widths` (n_filters; `config` gives the rest),
/// from seed `seed`, and records every layer's output RMS on `audio` (`[B, channels, T]`) before each update
/// and after the last, with the RMS of each output's change since step 0. Under µP both stay about flat
/// across widths; under standard parameterization the change grows with width.
public func coordinateCheck(config: CodecConfig, widths: [Int], scaling: WidthScaling, steps: Int, learningRate: Double,
                            audio: Tensor, seed: UInt64 = 0) throws -> [CoordinateCheckRow] {
    var rows: [CoordinateCheckRow] = []
    for width in widths {
        var c = config
        c.filters = width
        let model = try TrainableSEANet(config: c, scaling: scaling, seed: seed)
        let adam = Adam(model: model, scaling: scaling)
        var initial: [Tensor] = []
        for step in 0...steps {
            let (z, encTape) = model.encoderForward(audio)
            let (y, decTape) = model.decoderForward(z)
            let outputs = layerOutputs(encTape, z) + layerOutputs(decTape, y)
            if step == 0 { initial = outputs }
            for (i, (layer, value)) in (encTape.activationRMS + decTape.activationRMS).enumerated() {
                rows.append(CoordinateCheckRow(filters: width, step: step, layer: layer, rms: value,
                                               changeRMS: rmsDifference(outputs[i], initial[i])))
            }
            if step == steps { break }
            // Mean-squared error against the input (output may be longer: compare the overlap).
            let dy = meanSquaredErrorGradient(y, audio)
            model.zeroGradients()
            let dz = model.decoderBackward(decTape, dAudio: dy)
            model.encoderBackward(encTape, dLatent: dz)
            for g in model.gradients where g.contains(where: { !$0.isFinite }) {
                throw TrainingError.nonFinite(what: "coordinate-check gradient (width \(width))", step: step)
            }
            adam.update(values: &model.values, gradients: model.gradients, lr: learningRate)
        }
    }
    return rows
}

/// d/dy of mean((y[..., :T] − x)²) over the first T = x's length steps of each row; zero past T.
func meanSquaredErrorGradient(_ y: Tensor, _ x: Tensor) -> Tensor {
    precondition(y.rank == 3 && x.rank == 3 && y.shape[0] == x.shape[0] && y.shape[1] == x.shape[1] && y.shape[2] >= x.shape[2],
                 "meanSquaredErrorGradient: output \(y.shape) does not cover the target \(x.shape)")
    let rows = x.shape[0] * x.shape[1], t = x.shape[2], ty = y.shape[2]
    var g = Tensor.zeros(y.shape)
    let scale = Float(2) / Float(rows * t)
    for r in 0..<rows { for i in 0..<t { g.data[r * ty + i] = scale * (y.data[r * ty + i] - x.data[r * t + i]) } }
    return g
}

/// Each layer's output: the next layer's saved input, and `last` for the last layer.
private func layerOutputs(_ tape: SEANetTape, _ last: Tensor) -> [Tensor] {
    var out: [Tensor] = []
    for entry in tape.layers.dropFirst() {
        switch entry {
        case let .conv(x), let .convTranspose(x), let .residual(x, _): out.append(x)
        case let .lstm(inputs, _, _, _): out.append(inputs[0])
        }
    }
    out.append(last)
    return out
}

private func rmsDifference(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "rmsDifference: shapes differ")
    guard a.count > 0 else { return 0 }
    var s = 0.0
    for i in 0..<a.count { let d = Double(a.data[i]) - Double(b.data[i]); s += d * d }
    return (s / Double(a.count)).squareRoot()
}

/// For each layer and step, max over widths of the RMS divided by its min: ≈ 1 when the activation size does
/// not depend on width. Returns (layer, step, ratio) sorted by layer order of first appearance.
/// `change: true` compares the change since step 0 instead of the activation itself.
public func coordinateCheckSpread(_ rows: [CoordinateCheckRow], change: Bool = false) -> [(layer: String, step: Int, ratio: Double)] {
    var order: [String] = []
    var groups: [String: [Int: [Double]]] = [:]
    for r in rows {
        if groups[r.layer] == nil { order.append(r.layer) }
        groups[r.layer, default: [:]][r.step, default: []].append(change ? r.changeRMS : r.rms)
    }
    var out: [(String, Int, Double)] = []
    for layer in order {
        for step in groups[layer]!.keys.sorted() {
            let v = groups[layer]![step]!
            out.append((layer, step, (v.max()! / max(v.min()!, 1e-30))))
        }
    }
    return out
}
