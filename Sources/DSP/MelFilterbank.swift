// Mel filterbanks as librosa.filters.mel and torchaudio.functional.melscale_fbanks build them (HTK and
// Slaney scales, Slaney area norm), and the mel spectrogram on top of our STFT.
// Legend: M mel bands, F frequency bins, N frames, C channels.
import Foundation

/// Hz ↔ mel conversions.
public enum MelScale: Sendable, Equatable {
    /// HTK: m = 2595·log₁₀(1 + f/700).
    case htk
    /// Slaney (Auditory Toolbox, librosa's default): linear below 1 kHz, m = f / (200/3); above,
    /// m = 15 + ln(f/1000) / (ln 6.4 / 27).
    case slaney

    // ref: librosa.core.convert.hz_to_mel / mel_to_hz; torchaudio.functional._hz_to_mel / _mel_to_hz.
    private static let linearStep = 200.0 / 3      // Hz per mel below 1 kHz
    private static let breakHz = 1000.0
    private static let breakMel = 15.0             // breakHz / linearStep
    private static let logStep = log(6.4) / 27.0   // mels per log-Hz above the break

    public func mel(fromHz f: Double) -> Double {
        switch self {
        case .htk: return 2595.0 * log10(1.0 + f / 700.0)
        case .slaney:
            return f >= Self.breakHz ? Self.breakMel + log(f / Self.breakHz) / Self.logStep : f / Self.linearStep
        }
    }

    public func hz(fromMel m: Double) -> Double {
        switch self {
        case .htk: return 700.0 * (pow(10.0, m / 2595.0) - 1.0)
        case .slaney:
            return m >= Self.breakMel ? Self.breakHz * exp(Self.logStep * (m - Self.breakMel)) : m * Self.linearStep
        }
    }
}

/// A bank of triangular mel filters, `weights` [melCount, binCount] row-major (librosa's layout;
/// torchaudio returns the transpose, `transposedWeights`).
///
/// With band edges f₀ < f₁ < … < f_{M+1} equally spaced on the mel scale between `minFrequency` and
/// `maxFrequency`, and bin frequencies φ_k = k·Δ (Δ = sr/n for librosa, ⌊sr/2⌋/(F−1) for torchaudio):
///     W[m, k] = max(0, min((φ_k − f_m)/(f_{m+1} − f_m), (f_{m+2} − φ_k)/(f_{m+2} − f_{m+1})))
/// times 2/(f_{m+2} − f_m) under Slaney norm (constant area per band). Computed in Double, stored Float.
public struct MelFilterbank: Sendable, Equatable {
    /// Normalization of each triangle.
    public enum Norm: Sendable, Equatable {
        /// Peak 1 (librosa `norm=None`, torchaudio `norm=None`).
        case none
        /// Divide by the band's width in Hz / 2 (librosa's default `norm='slaney'`, torchaudio 'slaney').
        case slaney
    }

    public let melCount: Int
    public let binCount: Int
    public let minFrequency: Double
    public let maxFrequency: Double
    public let scale: MelScale
    public let norm: Norm
    /// [melCount, binCount] row-major.
    public let weights: [Float]
    /// Per band, the bins with nonzero weight: W[m, k] ≠ 0 only for k in `support[m]`.
    public let support: [Range<Int>]

    /// The general constructor: `binCount` bins at 0, Δ, 2Δ, … Hz (Δ = `binSpacing`).
    /// Throws `invalidParameter` for counts below 1 or frequencies outside 0 ≤ min < max.
    public init(binCount: Int, binSpacing: Double, melCount: Int, minFrequency: Double, maxFrequency: Double,
                scale: MelScale, norm: Norm) throws {
        guard binCount >= 2 else {
            throw DSPError.invalidParameter(name: "bin count", value: "\(binCount)", reason: "must be at least 2")
        }
        guard melCount >= 1 else {
            throw DSPError.invalidParameter(name: "mel count", value: "\(melCount)", reason: "must be at least 1")
        }
        guard minFrequency >= 0, maxFrequency > minFrequency, maxFrequency.isFinite, binSpacing > 0 else {
            throw DSPError.invalidParameter(name: "mel frequency range", value: "\(minFrequency)…\(maxFrequency) Hz",
                                            reason: "needs 0 ≤ fmin < fmax")
        }
        self.binCount = binCount; self.melCount = melCount
        self.minFrequency = minFrequency; self.maxFrequency = maxFrequency
        self.scale = scale; self.norm = norm
        // Band edges: M + 2 points equally spaced in mel (as np.linspace: i·step + lo, last point exact).
        let mLo = scale.mel(fromHz: minFrequency), mHi = scale.mel(fromHz: maxFrequency)
        let step = (mHi - mLo) / Double(melCount + 1)
        let edges: [Double] = (0..<(melCount + 2)).map { i in
            scale.hz(fromMel: i == melCount + 1 ? mHi : Double(i) * step + mLo)
        }
        let binHz: [Double] = (0..<binCount).map { Double($0) * binSpacing }
        var w = [Float](repeating: 0, count: melCount * binCount)
        var support = [Range<Int>]()
        for m in 0..<melCount {
            let lower = edges[m], center = edges[m + 1], upper = edges[m + 2]
            let enorm = norm == .slaney ? 2.0 / (upper - lower) : 1.0
            var lo = binCount, hi = 0
            for k in 0..<binCount {
                let rising = (binHz[k] - lower) / (center - lower)
                let falling = (upper - binHz[k]) / (upper - center)
                let v = max(0, min(rising, falling)) * enorm
                if v > 0 {
                    w[m * binCount + k] = Float(v)
                    lo = min(lo, k); hi = max(hi, k + 1)
                }
            }
            support.append(lo < hi ? lo..<hi : 0..<0)
        }
        weights = w
        self.support = support
    }

    /// As `librosa.filters.mel(sr=sampleRate, n_fft=fftSize, n_mels=melCount, fmin=minFrequency,
    /// fmax=maxFrequency ?? sr/2, htk=scale == .htk, norm=norm)`; librosa's defaults are 128 bands,
    /// Slaney scale and Slaney norm. Bins: 1 + ⌊n/2⌋ at k·sr/n Hz.
    public static func librosa(sampleRate: Double, fftSize: Int, melCount: Int = 128, minFrequency: Double = 0,
                               maxFrequency: Double? = nil, scale: MelScale = .slaney,
                               norm: Norm = .slaney) throws -> MelFilterbank {
        guard fftSize >= 2 else {
            throw DSPError.invalidParameter(name: "n_fft", value: "\(fftSize)", reason: "must be at least 2")
        }
        return try MelFilterbank(binCount: fftSize / 2 + 1, binSpacing: sampleRate / Double(fftSize), melCount: melCount,
                          minFrequency: minFrequency, maxFrequency: maxFrequency ?? sampleRate / 2,
                          scale: scale, norm: norm)
    }

    /// As `torchaudio.functional.melscale_fbanks(n_freqs=binCount, f_min, f_max, n_mels, sample_rate,
    /// norm, mel_scale)` (defaults: HTK, no norm). torchaudio places bins up to ⌊sr/2⌋ (integer division),
    /// which differs from librosa for odd rates. torchaudio computes in float32, we in Double.
    public static func torchaudio(binCount: Int, minFrequency: Double, maxFrequency: Double, melCount: Int,
                                  sampleRate: Int, norm: Norm = .none, scale: MelScale = .htk) throws -> MelFilterbank {
        guard binCount >= 2 else {
            throw DSPError.invalidParameter(name: "bin count", value: "\(binCount)", reason: "must be at least 2")
        }
        return try MelFilterbank(binCount: binCount, binSpacing: Double(sampleRate / 2) / Double(binCount - 1),
                                 melCount: melCount,
                          minFrequency: minFrequency, maxFrequency: maxFrequency, scale: scale, norm: norm)
    }

    /// The weights [binCount, melCount], as torchaudio returns them.
    public var transposedWeights: [Float] {
        var t = [Float](repeating: 0, count: weights.count)
        for m in 0..<melCount { for k in 0..<binCount { t[k * melCount + m] = weights[m * binCount + k] } }
        return t
    }

    /// Mel spectrum: out[c, m, t] = Σₖ W[m, k] · S[c, k, t] for a spectrogram with `binCount` rows.
    /// Only each band's nonzero bins are summed (in increasing k), so the cost is ~2·F·N per channel.
    public func apply(_ spectrum: Spectrogram) throws -> Spectrogram {
        guard spectrum.rows == binCount else {
            throw DSPError.shapeMismatch(what: "mel filterbank input", expected: "\(binCount) frequency bins",
                                         actual: "\(spectrum.rows)")
        }
        let C = spectrum.channels, N = spectrum.frames, F = binCount, M = melCount
        var out = [Float](repeating: 0, count: C * M * N)
        spectrum.values.withUnsafeBufferPointer { sp in
            weights.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    let s = sp.baseAddress!, w = wp.baseAddress!, o = op.baseAddress!
                    dspParallelFor(C * M, minChunk: max(1, 16384 / max(1, N))) { rows in
                        for row in rows {
                            let c = row / M, m = row % M
                            let dst = o + row * N             // out[c, m, :]
                            let wRow = w + m * F              // W[m, :]
                            for k in support[m] {
                                let g = wRow[k], src = s + (c * F + k) * N  // S[c, k, :]
                                for t in 0..<N { dst[t] += g * src[t] }
                            }
                        }
                    }
                }
            }
        }
        return Spectrogram(uncheckedChannels: C, rows: M, frames: N, values: out)
    }
}

/// Mel spectrogram: mel filterbank applied to |STFT|^power (power 1: magnitude, 2: power), as
/// `torchaudio.transforms.MelSpectrogram` (which defaults to power 2, HTK scale, no norm) or librosa's
/// `feature.melspectrogram` (power 2, Slaney; librosa pads with zeros by default: use `.constant`).
public final class MelSpectrogram: @unchecked Sendable {
    public let stft: STFT
    public let filterbank: MelFilterbank
    /// Exponent applied to the magnitude before the filterbank: 1 or 2 (others allowed: |X|^p).
    public let power: Float

    /// Throws when the filterbank's bin count is not the STFT's n/2 + 1.
    public init(stft: STFT, filterbank: MelFilterbank, power: Float = 2) throws {
        guard filterbank.binCount == stft.config.binCount else {
            throw DSPError.shapeMismatch(what: "mel filterbank", expected: "\(stft.config.binCount) bins for n_fft \(stft.config.fftSize)",
                                         actual: "\(filterbank.binCount)")
        }
        guard power > 0, power.isFinite else {
            throw DSPError.invalidParameter(name: "power", value: "\(power)", reason: "must be positive")
        }
        self.stft = stft; self.filterbank = filterbank; self.power = power
    }

    /// [C, T] → mel spectrogram [C, melCount, N].
    public func callAsFunction(_ signal: [Float], channels: Int = 1) throws -> Spectrogram {
        let x = try stft.forward(signal, channels: channels)
        var s: Spectrogram
        if power == 2 { s = x.power() } else {
            s = x.magnitude()
            if power != 1 { for i in 0..<s.values.count { s.values[i] = pow(s.values[i], power) } }
        }
        return try filterbank.apply(s)
    }
}
