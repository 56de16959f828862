// CoordinateCheck: the µP coordinate check (Tensor Programs V, §D / the `mup` package's coord_check): train
// the autoencoder a few Adam steps at several widths and record each layer's activation RMS per step.
import Codec
import Foundation
import NN

/// One measurement: the RMS of `layer`'s output at `step` (0 = before any update) for `filters` = width.
public struct CoordinateCheckRow: Equatable, Sendable {
    public var filters: Int
    public var step: Int
    public var layer: String
    public var rms: Double
}

/// Trains `TrainableSEANet` (encoder → decoder, no quantizer, mean-squared waveform loss) for `steps` Adam
/// updates at constant `learningRate`, once per width in `widths` (n_filters; `config` gives the rest),
/// from seed `seed`, and records every layer's output RMS on `audio` (`[B, channels, T]`) before each update
/// and after the last. Under µP the RMS of each layer stays about flat across widths; under standard
/// parameterization it grows with width once updates accumulate.
public func coordinateCheck(config: CodecConfig, widths: [Int], scaling: WidthScaling, steps: Int, learningRate: Double,
                            audio: Tensor, seed: UInt64 = 0) throws -> [CoordinateCheckRow] {
    var rows: [CoordinateCheckRow] = []
    for width in widths {
        var c = config
        c.filters = width
        let model = try TrainableSEANet(config: c, scaling: scaling, seed: seed)
        let adam = Adam(model: model, scaling: scaling)
        for step in 0...steps {
            let (z, encTape) = model.encoderForward(audio)
            let (y, decTape) = model.decoderForward(z)
            for (layer, value) in encTape.activationRMS + decTape.activationRMS {
                rows.append(CoordinateCheckRow(filters: width, step: step, layer: layer, rms: value))
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

/// For each layer and step, max over widths of the RMS divided by its min: ≈ 1 when the activation size does
/// not depend on width. Returns (layer, step, ratio) sorted by layer order of first appearance.
public func coordinateCheckSpread(_ rows: [CoordinateCheckRow]) -> [(layer: String, step: Int, ratio: Double)] {
    var order: [String] = []
    var groups: [String: [Int: [Double]]] = [:]
    for r in rows {
        if groups[r.layer] == nil { order.append(r.layer) }
        groups[r.layer, default: [:]][r.step, default: []].append(r.rms)
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
