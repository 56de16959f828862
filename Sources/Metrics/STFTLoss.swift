// Multi-resolution STFT loss, exactly as auraloss.freq.MultiResolutionSTFTLoss() defines it with its
// defaults (auraloss 0.4.0, freq.py: STFTLoss, SpectralConvergenceLoss, STFTMagnitudeLoss).
import DSP
import Foundation

/// Multi-resolution STFT loss of an estimate against a reference (Yamamoto et al. 2019, as auraloss).
///
/// For each resolution r (n_fft, hop, window length; periodic Hann window centered in n_fft, reflect
/// centering: `torch.stft` defaults) with magnitudes over all channels, bins and frames
///     X = √max(|STFT(estimate)|², ε),   Y = √max(|STFT(reference)|², ε),   ε = 1e-8:
///     SC_r  = ‖Y − X‖_F / ‖Y‖_F                       (spectral convergence)
///     LM_r  = mean |ln Y − ln X|                      (log-magnitude L1, natural log, no extra ε)
///     L_r   = w_sc·SC_r + w_log·LM_r                  (w_sc = w_log = 1; auraloss's linear-magnitude
///                                                      and phase terms default to weight 0)
/// and the loss is the mean over resolutions, (1/R)·Σ_r L_r. Channels are stacked as auraloss stacks
/// batch × channels, so the Frobenius norms run over all of them together.
/// Defaults: n_fft 1024/2048/512, hop 120/240/50, window 600/1200/240. Signals need more than
/// 1024 samples per channel (reflect padding by 2048/2). Not symmetric: SC is normalized by the reference.
public final class MultiResolutionSTFTLoss: @unchecked Sendable {
    public struct Resolution: Sendable, Equatable {
        public var fftSize: Int
        public var hopLength: Int
        public var windowLength: Int
        public init(fftSize: Int, hopLength: Int, windowLength: Int) {
            self.fftSize = fftSize; self.hopLength = hopLength; self.windowLength = windowLength
        }
    }

    /// auraloss defaults: fft_sizes [1024, 2048, 512], hop_sizes [120, 240, 50], win_lengths [600, 1200, 240].
    public static let auralossResolutions = [
        Resolution(fftSize: 1024, hopLength: 120, windowLength: 600),
        Resolution(fftSize: 2048, hopLength: 240, windowLength: 1200),
        Resolution(fftSize: 512, hopLength: 50, windowLength: 240),
    ]

    /// Per-resolution terms and the total.
    public struct Result: Sendable, Equatable {
        /// (1/R)·Σ_r (w_sc·SC_r + w_log·LM_r).
        public let loss: Double
        /// SC_r per resolution, in the order of `resolutions`.
        public let spectralConvergence: [Double]
        /// LM_r per resolution.
        public let logMagnitude: [Double]
    }

    public let resolutions: [Resolution]
    public let spectralConvergenceWeight: Double
    public let logMagnitudeWeight: Double
    /// ε under the square root (auraloss `eps=1e-8`).
    public let powerFloor: Float
    private let transforms: [STFT]

    public init(resolutions: [Resolution] = MultiResolutionSTFTLoss.auralossResolutions,
                spectralConvergenceWeight: Double = 1, logMagnitudeWeight: Double = 1,
                powerFloor: Float = 1e-8) throws {
        guard !resolutions.isEmpty else {
            throw MetricsError.invalidParameter(name: "resolutions", value: "[]", reason: "need at least one")
        }
        guard powerFloor > 0 else {
            throw MetricsError.invalidParameter(name: "power floor", value: "\(powerFloor)",
                                                reason: "must be positive (the log of a zero magnitude is -inf)")
        }
        self.resolutions = resolutions
        self.spectralConvergenceWeight = spectralConvergenceWeight
        self.logMagnitudeWeight = logMagnitudeWeight
        self.powerFloor = powerFloor
        transforms = try resolutions.map { r in
            do {
                return try STFT(fftSize: r.fftSize, hopLength: r.hopLength, windowLength: r.windowLength)
            } catch let e as DSPError {
                throw MetricsError.transform(metric: "multi-resolution STFT loss", e)
            }
        }
    }

    /// The loss of `estimate` against `reference`, both [channels, T] row-major.
    /// Defined for every finite input (the ε floor keeps silence finite).
    public func callAsFunction(reference: [Float], estimate: [Float], channels: Int = 1) throws -> Result {
        try checkPair(reference: reference, estimate: estimate, channels: channels)
        var sc = [Double](), lm = [Double]()
        for (stft, r) in zip(transforms, resolutions) {
            let y: Spectrogram, x: Spectrogram
            do {
                y = try stft.forward(reference, channels: channels).magnitude(powerFloor: powerFloor)
                x = try stft.forward(estimate, channels: channels).magnitude(powerFloor: powerFloor)
            } catch let e as DSPError {
                throw MetricsError.transform(metric: "multi-resolution STFT loss at n_fft \(r.fftSize)", e)
            }
            var diff2 = 0.0, ref2 = 0.0, logL1 = 0.0
            for i in 0..<y.values.count {
                let yv = Double(y.values[i]), xv = Double(x.values[i])
                diff2 += (yv - xv) * (yv - xv); ref2 += yv * yv
                logL1 += abs(log(yv) - log(xv))
            }
            sc.append((diff2 / ref2).squareRoot())
            lm.append(logL1 / Double(y.values.count))
        }
        var total = 0.0
        for i in 0..<sc.count { total += spectralConvergenceWeight * sc[i] + logMagnitudeWeight * lm[i] }
        return Result(loss: total / Double(sc.count), spectralConvergence: sc, logMagnitude: lm)
    }
}
