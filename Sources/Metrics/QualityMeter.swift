// QualityMeter: the four quality figures (SNR, SI-SDR, MR-STFT loss, log-mel distance) of an estimate
// against a reference, with "undefined (reason)" where a formula has no value. Used by the per-stage
// report and by `codec eval REF DEGRADED`.
import DSP
import Foundation

/// SNR and SI-SDR in dB, MR-STFT loss and log-mel distance (lower is better), each a value or undefined.
public struct QualityFigures: Sendable, Equatable, Codable {
    /// `SignalMetrics.snr` over all channels together.
    public var snr: MetricResult
    /// `SignalMetrics.siSDR` (zero-mean) per channel, averaged over channels; undefined if any channel is.
    public var siSDR: MetricResult
    /// `MultiResolutionSTFTLoss` (auraloss defaults) total; undefined when shorter than 1025 samples.
    public var mrSTFT: MetricResult
    /// `LogMelDistance` (80 bands, n_fft 1024, hop 256 at the signal's rate); undefined when shorter than 513.
    public var logMel: MetricResult

    public init(snr: MetricResult, siSDR: MetricResult, mrSTFT: MetricResult, logMel: MetricResult) {
        self.snr = snr; self.siSDR = siSDR; self.mrSTFT = mrSTFT; self.logMel = logMel
    }
}

/// Measures `QualityFigures` at one sample rate; the transforms (FFTW plans, mel bank) are built once.
public final class QualityMeter: @unchecked Sendable {
    public let sampleRate: Int
    public let stftLoss: MultiResolutionSTFTLoss
    public let melDistance: LogMelDistance

    /// Throws when the mel filterbank cannot be built for `sampleRate` (e.g. a rate too low for 80 bands).
    public init(sampleRate: Int) throws {
        guard sampleRate > 0 else {
            throw MetricsError.invalidParameter(name: "sample rate", value: "\(sampleRate)", reason: "must be positive")
        }
        self.sampleRate = sampleRate
        stftLoss = try MultiResolutionSTFTLoss()
        melDistance = try LogMelDistance(sampleRate: Double(sampleRate))
    }

    /// Figures of `estimate` against `reference`, both planar `[channels, T]` at `sampleRate`.
    /// Throws on different lengths, a bad channel layout or non-finite samples.
    public func measure(reference: [Float], estimate: [Float], channels: Int) throws -> QualityFigures {
        try checkPair(reference: reference, estimate: estimate, channels: channels)
        let t = reference.count / channels
        let snr = try SignalMetrics.snr(reference: reference, estimate: estimate)
        var siSDR = MetricResult.value(0)
        var sum = 0.0
        for c in 0..<channels {
            let r = try SignalMetrics.siSDR(reference: Array(reference[c * t ..< (c + 1) * t]),
                                            estimate: Array(estimate[c * t ..< (c + 1) * t]))
            guard let v = r.value else { siSDR = r; break }
            sum += v
            if c == channels - 1 { siSDR = .value(sum / Double(channels)) }
        }
        if t == 0 { siSDR = .undefined(.emptySignal) }
        let mr = try undefinedWhenTooShort(t) {
            try stftLoss(reference: reference, estimate: estimate, channels: channels).loss
        }
        let mel = try undefinedWhenTooShort(t) {
            try melDistance(reference: reference, estimate: estimate, channels: channels)
        }
        return QualityFigures(snr: snr, siSDR: siSDR, mrSTFT: mr, logMel: mel)
    }

    /// The value of `body`, or `.undefined(.tooShort)` when its transform refuses the signal's length.
    private func undefinedWhenTooShort(_ length: Int, _ body: () throws -> Double) throws -> MetricResult {
        if length == 0 { return .undefined(.emptySignal) }
        do { return .value(try body()) } catch MetricsError.transform(_, .signalTooShort) {
            return .undefined(.tooShort)
        }
    }
}
