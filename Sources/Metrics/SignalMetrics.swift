// SignalMetrics: waveform-domain quality measures (SNR, SI-SDR), accumulated in Double.
import Foundation

public enum SignalMetrics {
    /// Signal-to-noise ratio in dB of `estimate` against `reference` (equal lengths, any layout):
    ///     SNR = 10·log₁₀(Σ r² / Σ (r − e)²).
    /// Undefined when the reference is silent (Σ r² = 0) or empty; +∞ when the estimate is exact.
    /// Throws on different lengths or non-finite samples.
    public static func snr(reference: [Float], estimate: [Float]) throws -> MetricResult {
        try checkPair(reference: reference, estimate: estimate, channels: 1)
        if reference.isEmpty { return .undefined(.emptySignal) }
        var signal = 0.0, noise = 0.0
        for i in 0..<reference.count {
            let r = Double(reference[i]), d = r - Double(estimate[i])
            signal += r * r; noise += d * d
        }
        if signal == 0 { return .undefined(.silentReference) }
        return .value(noise == 0 ? .infinity : 10 * log10(signal / noise))
    }

    /// Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., "SDR – half-baked or well
    /// done?", 2019) of one channel. With r, e the signals minus their means when `zeroMean` (the
    /// paper's convention and the default; torchmetrics' default is `zeroMean: false`):
    ///     α = ⟨e, r⟩ / ‖r‖²,   s = α·r,   SI-SDR = 10·log₁₀(‖s‖² / ‖e − s‖²).
    /// Undefined when the reference (after mean removal) is silent, or the estimate is, since both
    /// terms are then 0; −∞ when the estimate is orthogonal to the reference; +∞ when e = α·r exactly.
    /// No ε is added (torchmetrics and asteroid add 1e-8-ish terms, which moves results by < 1e-6 dB
    /// on non-silent audio). Throws on different lengths or non-finite samples.
    public static func siSDR(reference: [Float], estimate: [Float], zeroMean: Bool = true) throws -> MetricResult {
        try checkPair(reference: reference, estimate: estimate, channels: 1)
        let count = reference.count
        if count == 0 { return .undefined(.emptySignal) }
        var meanR = 0.0, meanE = 0.0
        if zeroMean {
            for i in 0..<count { meanR += Double(reference[i]); meanE += Double(estimate[i]) }
            meanR /= Double(count); meanE /= Double(count)
        }
        var dot = 0.0, rr = 0.0, ee = 0.0
        for i in 0..<count {
            let r = Double(reference[i]) - meanR, e = Double(estimate[i]) - meanE
            dot += r * e; rr += r * r; ee += e * e
        }
        if rr == 0 { return .undefined(.silentReference) }
        if ee == 0 { return .undefined(.silentEstimate) }
        let alpha = dot / rr
        var target = 0.0, residual = 0.0
        for i in 0..<count {
            let s = alpha * (Double(reference[i]) - meanR)
            let d = (Double(estimate[i]) - meanE) - s
            target += s * s; residual += d * d
        }
        if residual == 0 { return .value(.infinity) }
        if target == 0 { return .value(-.infinity) }
        return .value(10 * log10(target / residual))
    }
}
