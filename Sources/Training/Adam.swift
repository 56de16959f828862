// Adam with per-parameter learning-rate multipliers (µP, Tensor Programs V), the warm-up + decay schedule,
// global gradient-norm clipping, and the optimizer state as named tensors for exact resume.
// Mirrors torch.optim.Adam (single-tensor path), torch.nn.utils.clip_grad_norm_.
import Foundation
import ModelFile
import NN

/// Adam hyper-parameters (PyTorch's defaults except the learning rate, which comes from the schedule).
public struct AdamSettings: Codable, Equatable, Sendable {
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    /// Decoupled weight decay (AdamW: p −= lr·mult·wd·p before the Adam step); 0 = plain Adam.
    public var weightDecay: Double

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

/// Learning rate by step: linear warm-up from 0 to `peak` over `warmupSteps`, then decay to
/// `peak·finalRatio` at `totalSteps` (cosine or linear), constant afterwards.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public enum Decay: String, Codable, Sendable { case cosine, linear, constant }
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    public var finalRatio: Double

    public init(peak: Double, warmupSteps: Int, totalSteps: Int, decay: Decay = .cosine, finalRatio: Double = 0.1) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.decay = decay
        self.finalRatio = finalRatio
    }

    /// Learning rate of step `step` (0-based: the first update uses step 0, lr = peak/warmupSteps).
    public func learningRate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        let low = peak * finalRatio
        switch decay {
        case .constant: return peak
        case .linear: return peak - (peak - low) * progress
        case .cosine: return low + (peak - low) * 0.5 * (1 + cos(Double.pi * progress))
        }
    }
}

/// Adam over a list of named parameters, each with its own learning-rate multiplier (µP).
///
/// Update per element (torch.optim.Adam): `m = m + (1 − β1)(g − m)`, `v = β2·v + (1 − β2)·g²`,
/// `p −= (lr·mult / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)`. Elementwise, threaded by parameter chunks:
/// the result does not depend on the thread count.
public final class Adam {
    public let names: [String]
    public let counts: [Int]
    /// Learning-rate multiplier per parameter.
    public var multipliers: [Double]
    public var settings: AdamSettings
    /// Updates taken so far (t in the bias corrections).
    public private(set) var step: Int = 0
    /// First and second moments per parameter.
    public private(set) var firstMoment: [[Float]]
    public private(set) var secondMoment: [[Float]]

    public init(names: [String], counts: [Int], multipliers: [Double], settings: AdamSettings = AdamSettings()) {
        precondition(names.count == counts.count && names.count == multipliers.count, "Adam: names, counts and multipliers differ in length")
        self.names = names; self.counts = counts; self.multipliers = multipliers; self.settings = settings
        firstMoment = counts.map { [Float](repeating: 0, count: $0) }
        secondMoment = firstMoment
    }

    /// Adam for a model's parameters with the µP (or SP) multipliers of `scaling`.
    public convenience init(model: TrainableSEANet, scaling: WidthScaling, settings: AdamSettings = AdamSettings()) {
        self.init(names: model.parameters.map(\.name), counts: model.parameters.map(\.count),
                  multipliers: model.parameters.map { scaling.learningRateMultiplier($0.role, filters: model.config.filters) },
                  settings: settings)
    }

    /// One update of every parameter with learning rate `lr` (times each parameter's multiplier).
    public func update(values: inout [[Float]], gradients: [[Float]], lr: Double) {
        precondition(values.count == names.count && gradients.count == names.count, "Adam.update: \(values.count) parameters, expected \(names.count)")
        step += 1
        let b1 = settings.beta1, b2 = settings.beta2
        let bc1 = 1 - pow(b1, Double(step)), bc2Sqrt = (1 - pow(b2, Double(step))).squareRoot()
        for i in 0..<names.count {
            precondition(values[i].count == counts[i] && gradients[i].count == counts[i], "Adam.update: \(names[i]) has the wrong size")
            let stepSize = Float(lr * multipliers[i] / bc1)
            let decay = Float(lr * multipliers[i] * settings.weightDecay)
            let oneMinusB1 = Float(1 - b1), fb2 = Float(b2), oneMinusB2 = Float(1 - b2)
            let fbc2 = Float(bc2Sqrt), feps = Float(settings.eps)
            let n = counts[i]
            values[i].withUnsafeMutableBufferPointer { p in
                gradients[i].withUnsafeBufferPointer { g in
                    firstMoment[i].withUnsafeMutableBufferPointer { m in
                        secondMoment[i].withUnsafeMutableBufferPointer { v in
                            let p = p.baseAddress!, g = g.baseAddress!, m = m.baseAddress!, v = v.baseAddress!
                            parallelFor(n, minChunk: 1 << 15) { r in
                                for j in r {
                                    if decay != 0 { p[j] -= decay * p[j] }
                                    let gj = g[j]
                                    m[j] += oneMinusB1 * (gj - m[j])
                                    v[j] = fb2 * v[j] + oneMinusB2 * gj * gj
                                    p[j] -= stepSize * m[j] / (v[j].squareRoot() / fbc2 + feps)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The state as named tensors: `adam.step` (scalar), `adam.exp_avg.<name>`, `adam.exp_avg_sq.<name>`
    /// (1-D, one per parameter). `load(_:path:)` restores it exactly.
    public func namedTensors() -> [String: TensorData] {
        var out: [String: TensorData] = ["adam.step": TensorData(shape: [], values: [Float(step)])]
        for (i, name) in names.enumerated() {
            out["adam.exp_avg.\(name)"] = TensorData(shape: [counts[i]], values: firstMoment[i])
            out["adam.exp_avg_sq.\(name)"] = TensorData(shape: [counts[i]], values: secondMoment[i])
        }
        return out
    }

    /// Restores the state written by `namedTensors()` (other tensors in `tensors` are ignored); throws when a
    /// moment is missing or has the wrong size.
    public func load(_ tensors: [String: TensorData], path: String) throws {
        guard let s = tensors["adam.step"], s.count == 1, s.values[0] >= 0, s.values[0] == s.values[0].rounded() else {
            throw TrainingError.checkpoint(path: path, reason: "missing or invalid adam.step")
        }
        var m = firstMoment, v = secondMoment
        for (i, name) in names.enumerated() {
            for (key, store) in [("adam.exp_avg.\(name)", 0), ("adam.exp_avg_sq.\(name)", 1)] {
                guard let t = tensors[key] else { throw TrainingError.checkpoint(path: path, reason: "missing \(key)") }
                guard t.count == counts[i] else {
                    throw TrainingError.checkpoint(path: path, reason: "\(key) has \(t.count) values, the parameter \(counts[i])")
                }
                if store == 0 { m[i] = t.values } else { v[i] = t.values }
            }
        }
        firstMoment = m
        secondMoment = v
        step = Int(s.values[0])
    }
}

/// Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_): with n = ‖all gradients‖₂ (summed in
/// Double), scales every gradient by maxNorm / (n + 1e-6) when that is below 1. Returns n (before clipping).
@discardableResult
public func clipGradientNorm(_ gradients: inout [[Float]], maxNorm: Double) -> Double {
    var total = 0.0
    for g in gradients {
        var s = 0.0
        for v in g { s += Double(v) * Double(v) }
        total += s
    }
    let norm = total.squareRoot()
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        let c = Float(coef)
        for i in 0..<gradients.count { gradients[i].withUnsafeMutableBufferPointer { p in for j in 0..<p.count { p[j] *= c } } }
    }
    return norm
}
