// Spectrogram containers: complex STFT output and real-valued spectra (magnitude, power, mel, log),
// all [channels, rows, frames] row-major.
import Foundation

/// A complex STFT, `[channels, bins, frames]` row-major, real and imaginary parts in separate planes
/// (element (c, k, t) at index (c·bins + k)·frames + t). Same layout as `torch.stft(..., return_complex=True)`
/// on a `[channels, time]` input (`view_as_real` splits the last axis instead).
public struct ComplexSpectrogram: Sendable, Equatable {
    public let channels: Int
    /// Frequency bins, n_fft/2 + 1 for a onesided STFT.
    public let bins: Int
    public let frames: Int
    public var real: [Float]
    public var imag: [Float]

    /// Throws `shapeMismatch` unless both planes hold channels·bins·frames values.
    public init(channels: Int, bins: Int, frames: Int, real: [Float], imag: [Float]) throws {
        let n = channels * bins * frames
        guard channels >= 1, bins >= 1, frames >= 0, real.count == n, imag.count == n else {
            throw DSPError.shapeMismatch(what: "ComplexSpectrogram", expected: "[\(channels), \(bins), \(frames)] = \(n) values per plane",
                                         actual: "\(real.count) real, \(imag.count) imaginary")
        }
        self.channels = channels; self.bins = bins; self.frames = frames
        self.real = real; self.imag = imag
    }

    /// |X| = √(max(re² + im², powerFloor)). `powerFloor` 0 gives the plain magnitude; auraloss clamps the
    /// power at 1e-8 before the square root.
    public func magnitude(powerFloor: Float = 0) -> Spectrogram {
        var out = [Float](repeating: 0, count: real.count)
        for i in 0..<real.count { out[i] = max(real[i] * real[i] + imag[i] * imag[i], powerFloor).squareRoot() }
        return Spectrogram(uncheckedChannels: channels, rows: bins, frames: frames, values: out)
    }

    /// |X|² = re² + im².
    public func power() -> Spectrogram {
        var out = [Float](repeating: 0, count: real.count)
        for i in 0..<real.count { out[i] = real[i] * real[i] + imag[i] * imag[i] }
        return Spectrogram(uncheckedChannels: channels, rows: bins, frames: frames, values: out)
    }
}

/// A real spectrum, `[channels, rows, frames]` row-major: rows are frequency bins or mel bands.
public struct Spectrogram: Sendable, Equatable {
    public let channels: Int
    public let rows: Int
    public let frames: Int
    public var values: [Float]

    /// Throws `shapeMismatch` unless `values` holds channels·rows·frames elements.
    public init(channels: Int, rows: Int, frames: Int, values: [Float]) throws {
        guard channels >= 1, rows >= 1, frames >= 0, values.count == channels * rows * frames else {
            throw DSPError.shapeMismatch(what: "Spectrogram", expected: "[\(channels), \(rows), \(frames)]",
                                         actual: "\(values.count) values")
        }
        self.init(uncheckedChannels: channels, rows: rows, frames: frames, values: values)
    }

    init(uncheckedChannels channels: Int, rows: Int, frames: Int, values: [Float]) {
        self.channels = channels; self.rows = rows; self.frames = frames; self.values = values
    }

    /// How a logarithm keeps away from log(0).
    public enum LogFloor: Sendable, Equatable {
        /// log(max(v, ε)) (DAC's `clamp(eps)`, librosa's `amin`).
        case clamp(Float)
        /// log(v + ε) (audiocraft/EnCodec's mel `floor_level`).
        case add(Float)
    }

    /// log₁₀ of every value after applying `floor`.
    public func log10(_ floor: LogFloor) -> Spectrogram { mapLog(floor) { Foundation.log10($0) } }

    /// Natural log of every value after applying `floor`.
    public func naturalLog(_ floor: LogFloor) -> Spectrogram { mapLog(floor) { Foundation.log($0) } }

    /// Decibels of a power spectrum: 10·log₁₀(max(v, amin)) (librosa `power_to_db` with ref 1, no top_db).
    public func powerToDecibels(amin: Float = 1e-10) -> Spectrogram {
        mapLog(.clamp(amin)) { 10 * Foundation.log10($0) }
    }

    private func mapLog(_ floor: LogFloor, _ f: (Float) -> Float) -> Spectrogram {
        var out = values
        switch floor {
        case .clamp(let eps): for i in 0..<out.count { out[i] = f(max(out[i], eps)) }
        case .add(let eps): for i in 0..<out.count { out[i] = f(out[i] + eps) }
        }
        return Spectrogram(uncheckedChannels: channels, rows: rows, frames: frames, values: out)
    }
}
