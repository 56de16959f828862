// SignalMetrics: waveform-domain quality measures (SNR, SI-SDR), computed in Double.
import Foundation

public enum SignalMetrics {
    /// SNR in dB: 10·log10(Σ ref² / Σ (ref − est)²). Nil when the reference is silent (undefined);
    /// +∞ when the estimate is exact.
    public static func snr(reference: [Float], estimate: [Float]) -> Double? {
        precondition(reference.count == estimate.count, "SNR needs equal lengths")
        var s = 0.0, e = 0.0
        for i in 0..<reference.count {
            let r = Double(reference[i]); let d = r - Double(estimate[i])
            s += r * r; e += d * d
        }
        if s == 0 { return nil }
        return e == 0 ? .infinity : 10 * log10(s / e)
    }

    /// SI-SDR in dB (Le Roux et al. 2019), zero-mean: α = ⟨est, ref⟩/‖ref‖², target = α·ref,
    /// SI-SDR = 10·log10(‖target‖² / ‖est − target‖²). Nil when the reference is silent.
    public static func siSDR(reference: [Float], estimate: [Float]) -> Double? {
        precondition(reference.count == estimate.count, "SI-SDR needs equal lengths")
        let n = Double(reference.count)
        guard n > 0 else { return nil }
        let mr = reference.reduce(0.0) { $0 + Double($1) } / n
        let me = estimate.reduce(0.0) { $0 + Double($1) } / n
        var dot = 0.0, rr = 0.0
        for i in 0..<reference.count {
            let r = Double(reference[i]) - mr, e = Double(estimate[i]) - me
            dot += r * e; rr += r * r
        }
        if rr == 0 { return nil }
        let alpha = dot / rr
        var t2 = 0.0, n2 = 0.0
        for i in 0..<reference.count {
            let t = alpha * (Double(reference[i]) - mr)
            let d = (Double(estimate[i]) - me) - t
            t2 += t * t; n2 += d * d
        }
        return n2 == 0 ? .infinity : 10 * log10(t2 / n2)
    }
}
