// Losses: reconstruction losses over batches of waveforms with their gradients (L1 on samples here; the
// spectral ones in LossesSpectral.swift). Each loss returns its value and, in `backward`, accumulates
// scale·dL/dprediction into a gradient (`+=`, DESIGN.md §2). Legend: B batch rows, T samples.
import Foundation
import NN

/// Splits a waveform batch `[B, T]` or `[B, 1, T]` (any leading dims) into (rows, samples per row).
func waveformRows(_ x: Tensor, _ what: String) -> (rows: Int, length: Int) {
    precondition(x.rank >= 1 && x.shape.last! > 0, "\(what): expected a waveform batch [B, T], got \(x.shape)")
    let T = x.shape.last!
    return (x.count / T, T)
}

func checkLossInputs(_ prediction: Tensor, _ target: Tensor, _ loss: String) -> (rows: Int, length: Int) {
    precondition(prediction.shape == target.shape,
                 "\(loss): prediction \(prediction.shape) and target \(target.shape) differ in shape")
    return waveformRows(prediction, loss)
}

/// Mean absolute error between waveforms: L = (1/(B·T)) Σ |p − y|, dL/dp = sign(p − y)/(B·T)
/// (sign 0 at equality, as torch's l1_loss backward).
public struct L1WaveformLoss: Sendable {
    public init() {}

    /// L for `prediction` and `target` of the same shape ([B, T] or [B, 1, T]).
    public func callAsFunction(prediction: Tensor, target: Tensor) -> Double {
        _ = checkLossInputs(prediction, target, "L1 waveform loss")
        var sum = 0.0
        for i in 0..<prediction.count { sum += Double(abs(prediction.data[i] - target.data[i])) }
        return sum / Double(prediction.count)
    }

    /// Returns L and accumulates `scale`·dL/dprediction into `gradient` (shape of `prediction`).
    @discardableResult
    public func backward(prediction: Tensor, target: Tensor, gradient: inout Tensor, scale: Float = 1) -> Double {
        _ = checkLossInputs(prediction, target, "L1 waveform loss")
        precondition(gradient.shape == prediction.shape, "L1 waveform loss: gradient shape \(gradient.shape) ≠ \(prediction.shape)")
        let g = scale / Float(prediction.count)
        var sum = 0.0
        for i in 0..<prediction.count {
            let d = prediction.data[i] - target.data[i]
            sum += Double(abs(d))
            if d > 0 { gradient.data[i] += g } else if d < 0 { gradient.data[i] -= g }
        }
        return sum / Double(prediction.count)
    }
}
