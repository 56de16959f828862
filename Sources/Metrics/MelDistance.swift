// Log-mel distance: L1 between log10 mel spectrograms (80 bands, n_fft 1024, hop 256 at 24 kHz by
// default), with the ε and clamping of DAC's MelSpectrogramLoss (and audiocraft's additive variant).
import DSP
import Foundation

/// Log-mel distance between a reference and an estimate:
///     M = W · |STFT(x)|          (magnitude, power 1; W: librosa Slaney-scale, Slaney-norm mel bank,
///                                 fmin 0, fmax sr/2; STFT: periodic Hann, n_fft = window, reflect centering)
///     D = mean over channels, bands, frames of |log₁₀ f(M_ref) − log₁₀ f(M_est)|
/// with f(m) = max(m, ε) (`.clamp`, default: DAC's `mels.clamp(eps)`, ε = 1e-5) or f(m) = m + ε (`.add`:
/// audiocraft/EnCodec's `log10(floor_level + mel)`, ε = 1e-5). DAC's MelSpectrogramLoss then squares
/// (`pow(2)`) before log10, which doubles the log term: its log part equals 2·D per resolution.
/// Defaults: 24 kHz, n_fft 1024, hop 256, 80 bands. Symmetric in its two arguments; defined (finite) for
/// every finite input, silence included (both sides clamp to log₁₀ ε).
public final class LogMelDistance: @unchecked Sendable {
    /// How ε keeps log₁₀ finite.
    public enum Floor: Sendable, Equatable {
        /// log₁₀(max(m, ε)), as DAC.
        case clamp
        /// log₁₀(m + ε), as audiocraft/EnCodec.
        case add
    }

    public let sampleRate: Double
    public let epsilon: Float
    public let floor: Floor
    public let melSpectrogram: MelSpectrogram

    public init(sampleRate: Double = 24000, fftSize: Int = 1024, hopLength: Int = 256, melCount: Int = 80,
                epsilon: Float = 1e-5, floor: Floor = .clamp) throws {
        guard epsilon > 0 else {
            throw MetricsError.invalidParameter(name: "epsilon", value: "\(epsilon)", reason: "must be positive")
        }
        self.sampleRate = sampleRate; self.epsilon = epsilon; self.floor = floor
        do {
            melSpectrogram = try MelSpectrogram(
                stft: try STFT(fftSize: fftSize, hopLength: hopLength),
                filterbank: try .librosa(sampleRate: sampleRate, fftSize: fftSize, melCount: melCount),
                power: 1)
        } catch let e as DSPError {
            throw MetricsError.transform(metric: "log-mel distance", e)
        }
    }

    /// D for [channels, T] row-major signals at `sampleRate`.
    public func callAsFunction(reference: [Float], estimate: [Float], channels: Int = 1) throws -> Double {
        try checkPair(reference: reference, estimate: estimate, channels: channels)
        let logFloor: Spectrogram.LogFloor = floor == .clamp ? .clamp(epsilon) : .add(epsilon)
        let r: Spectrogram, e: Spectrogram
        do {
            r = try melSpectrogram(reference, channels: channels).log10(logFloor)
            e = try melSpectrogram(estimate, channels: channels).log10(logFloor)
        } catch let error as DSPError {
            throw MetricsError.transform(metric: "log-mel distance", error)
        }
        var sum = 0.0
        for i in 0..<r.values.count { sum += Double(abs(r.values[i] - e.values[i])) }
        return sum / Double(r.values.count)
    }
}
