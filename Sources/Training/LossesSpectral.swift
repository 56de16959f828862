// Spectral reconstruction losses with gradients through FFTW: the multi-resolution STFT loss (auraloss's
// definition, equal to Metrics.MultiResolutionSTFTLoss) and a multi-scale log-mel L1 (DAC's
// MelSpectrogramLoss). Gradients go magnitude → (re, im) → signal through `STFT.backward` (the adjoint).
// Legend: B batch rows (stacked as STFT channels), T samples, F bins, N frames, M mel bands.
import DSP
import Foundation
import Metrics
import NN

/// Multi-resolution STFT loss with its gradient, as auraloss 0.4.0 `MultiResolutionSTFTLoss()` with
/// defaults on `[B, 1, T]` (value equal to `Metrics.MultiResolutionSTFTLoss` up to the order of its Double sums:
/// rows are summed in parallel, then added in row order, so the value does not depend on the thread count).
///
/// Per resolution r (periodic Hann of the window length centered in n_fft, reflect centering), with the
/// rows of the batch stacked and, over all rows, bins and frames,
///     X = √max(re² + im², ε) of the prediction, Y likewise of the target, ε = 1e-8:
///     SC_r = ‖Y − X‖_F / ‖Y‖_F,   LM_r = mean |ln Y − ln X|,   L = (1/R)·Σ_r (w_sc·SC_r + w_log·LM_r).
/// Gradient: dSC/dX = (X − Y)/(‖Y − X‖·‖Y‖) (0 when X = Y), dLM/dX = sign(ln X − ln Y)/(count·X),
/// dX/dre = re/X and dX/dim = im/X where re² + im² ≥ ε (0 under the clamp, as torch.clamp's backward),
/// then the STFT adjoint. Defaults: n_fft 1024/2048/512, hop 120/240/50, window 600/1200/240; rows need
/// more than 1024 samples.
public final class MRSTFTLoss: @unchecked Sendable {
    /// The resolutions are Metrics' (one definition of auraloss's defaults for the metric and the loss).
    public typealias Resolution = MultiResolutionSTFTLoss.Resolution
    public static let auralossResolutions = MultiResolutionSTFTLoss.auralossResolutions

    public struct Result: Sendable, Equatable {
        /// (1/R)·Σ_r (w_sc·SC_r + w_log·LM_r).
        public let loss: Double
        /// SC_r per resolution.
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

    public init(resolutions: [Resolution] = MRSTFTLoss.auralossResolutions, spectralConvergenceWeight: Double = 1,
                logMagnitudeWeight: Double = 1, powerFloor: Float = 1e-8) throws {
        guard !resolutions.isEmpty else {
            throw TrainingError.invalidParameter(name: "STFT loss resolutions", value: "[]", reason: "need at least one")
        }
        guard powerFloor > 0 else {
            throw TrainingError.invalidParameter(name: "STFT loss power floor", value: "\(powerFloor)",
                                                 reason: "must be positive (ln of a zero magnitude is -inf)")
        }
        self.resolutions = resolutions
        self.spectralConvergenceWeight = spectralConvergenceWeight
        self.logMagnitudeWeight = logMagnitudeWeight
        self.powerFloor = powerFloor
        transforms = try resolutions.map { try STFT(fftSize: $0.fftSize, hopLength: $0.hopLength, windowLength: $0.windowLength) }
    }

    /// The loss of `prediction` against `target` (same shape, [B, T] or [B, 1, T]).
    public func callAsFunction(prediction: Tensor, target: Tensor) throws -> Result {
        var none: [Float]? = nil
        return try evaluate(prediction: prediction, target: target, gradient: &none, scale: 0)
    }

    /// Returns the loss and accumulates `scale`·dL/dprediction into `gradient` (shape of `prediction`).
    @discardableResult
    public func backward(prediction: Tensor, target: Tensor, gradient: inout Tensor, scale: Float = 1) throws -> Result {
        precondition(gradient.shape == prediction.shape, "STFT loss: gradient shape \(gradient.shape) ≠ \(prediction.shape)")
        var g: [Float]? = gradient.data
        gradient.data = []  // hand the storage over without a copy
        defer { gradient.data = g! }
        return try evaluate(prediction: prediction, target: target, gradient: &g, scale: scale)
    }

    private func evaluate(prediction: Tensor, target: Tensor, gradient: inout [Float]?, scale: Float) throws -> Result {
        let (B, T) = checkLossInputs(prediction, target, "multi-resolution STFT loss")
        let R = Double(resolutions.count)
        var sc = [Double](), lm = [Double]()
        for stft in transforms {
            let xs = try stft.forward(prediction.data, channels: B)
            let ys = try stft.forward(target.data, channels: B)
            let per = xs.real.count / B  // bins × frames of one row
            let floor = powerFloor
            // Pass 1: Σ(Y − X)², ΣY², Σ|ln Y − ln X| per row in parallel (X, Y as ComplexSpectrogram.magnitude
            // computes them), then added in row order: the same total for every thread count.
            var partial = [Double](repeating: 0, count: 3 * B)
            partial.withUnsafeMutableBufferPointer { part in
                parallelFor(B) { rows in
                    for b in rows {
                        var diff2 = 0.0, ref2 = 0.0, logL1 = 0.0
                        for i in b * per ..< (b + 1) * per {
                            let xv = Double(max(xs.real[i] * xs.real[i] + xs.imag[i] * xs.imag[i], floor).squareRoot())
                            let yv = Double(max(ys.real[i] * ys.real[i] + ys.imag[i] * ys.imag[i], floor).squareRoot())
                            diff2 += (yv - xv) * (yv - xv); ref2 += yv * yv
                            logL1 += abs(log(yv) - log(xv))
                        }
                        part[3 * b] = diff2; part[3 * b + 1] = ref2; part[3 * b + 2] = logL1
                    }
                }
            }
            var diff2 = 0.0, ref2 = 0.0, logL1 = 0.0
            for b in 0..<B { diff2 += partial[3 * b]; ref2 += partial[3 * b + 1]; logL1 += partial[3 * b + 2] }
            let count = Double(B * per)
            sc.append((diff2 / ref2).squareRoot()); lm.append(logL1 / count)
            guard gradient != nil else { continue }
            // Pass 2: dL/dX, then through the magnitude onto (re, im). sign(ln X − ln Y) = sign(X − Y).
            let wSC = diff2 > 0 ? Double(scale) * spectralConvergenceWeight / (R * diff2.squareRoot() * ref2.squareRoot()) : 0
            let wLM = Double(scale) * logMagnitudeWeight / (R * count)
            var gRe = [Float](repeating: 0, count: B * per), gIm = gRe
            gRe.withUnsafeMutableBufferPointer { gr in
                gIm.withUnsafeMutableBufferPointer { gi in
                    parallelFor(B) { rows in
                        for i in rows.lowerBound * per ..< rows.upperBound * per {
                            let re = xs.real[i], im = xs.imag[i]
                            let p = re * re + im * im
                            guard p >= floor else { continue }  // clamped: no gradient (torch.clamp's backward)
                            let xv = Double(p.squareRoot())
                            let yv = Double(max(ys.real[i] * ys.real[i] + ys.imag[i] * ys.imag[i], floor).squareRoot())
                            let sgn: Double = xv > yv ? 1 : (xv < yv ? -1 : 0)
                            let gOverX = Float((wSC * (xv - yv) + wLM * sgn / xv) / xv)
                            gr[i] = gOverX * re; gi[i] = gOverX * im
                        }
                    }
                }
            }
            try stft.backward(realGradient: gRe, imagGradient: gIm, channels: B, signalLength: T, gradient: &gradient!)
        }
        var total = 0.0
        for i in 0..<sc.count { total += spectralConvergenceWeight * sc[i] + logMagnitudeWeight * lm[i] }
        return Result(loss: total / R, spectralConvergence: sc, logMagnitude: lm)
    }
}

/// Multi-scale log-mel L1 with its gradient: DAC's `MelSpectrogramLoss` as configured for DAC training
/// (n_mels [5, 10, 20, 40, 80, 160, 320], window_lengths [32, 64, …, 2048], mag_weight 0, log_weight 1,
/// pow 1, clamp_eps 1e-5), with audiotools' STFT (`match_stride=False`: torch.stft, n_fft = window length,
/// hop = window/4, periodic Hann, reflect centering) and librosa mel filters (Slaney scale and norm,
/// fmin 0, fmax sr/2). Per scale s, over all rows, bands and frames:
///     M_s = W_s·|STFT_s(x)|,   L_s = mean |log₁₀ max(M_s(p), ε) − log₁₀ max(M_s(y), ε)|,   L = Σ_s L_s.
/// Gradient: dL_s/dM = sign(·)/(count·M·ln 10) where M ≥ ε (0 under the clamp), dM/d|X| = Wᵀ, d|X|/dre =
/// re/|X| (0 at |X| = 0, torch's abs), then the STFT adjoint. Rows need more than 1024 samples.
public final class MultiScaleMelLoss: @unchecked Sendable {
    public struct Scale: Sendable, Equatable {
        /// Window length = n_fft (hop is a quarter).
        public var windowLength: Int
        public var melCount: Int
        public init(windowLength: Int, melCount: Int) { self.windowLength = windowLength; self.melCount = melCount }
    }

    /// DAC's scales: windows 32 … 2048 (powers of two) with 5 … 320 mel bands.
    public static let dacScales = (0..<7).map { Scale(windowLength: 32 << $0, melCount: 5 << $0) }

    public struct Result: Sendable, Equatable {
        /// Σ_s L_s.
        public let loss: Double
        /// L_s per scale.
        public let perScale: [Double]
    }

    public let sampleRate: Double
    public let scales: [Scale]
    /// Clamp of the mel values before log₁₀ (DAC's clamp_eps).
    public let epsilon: Float
    private let mels: [MelSpectrogram]

    public init(sampleRate: Double = 24000, scales: [Scale] = MultiScaleMelLoss.dacScales, epsilon: Float = 1e-5) throws {
        guard !scales.isEmpty else {
            throw TrainingError.invalidParameter(name: "mel loss scales", value: "[]", reason: "need at least one")
        }
        guard epsilon > 0 else {
            throw TrainingError.invalidParameter(name: "mel loss epsilon", value: "\(epsilon)", reason: "must be positive")
        }
        self.sampleRate = sampleRate; self.scales = scales; self.epsilon = epsilon
        mels = try scales.map { s in
            try MelSpectrogram(stft: try STFT(fftSize: s.windowLength, hopLength: s.windowLength / 4),
                               filterbank: try .librosa(sampleRate: sampleRate, fftSize: s.windowLength, melCount: s.melCount),
                               power: 1)
        }
    }

    /// The loss of `prediction` against `target` (same shape, [B, T] or [B, 1, T]).
    public func callAsFunction(prediction: Tensor, target: Tensor) throws -> Result {
        var none: [Float]? = nil
        return try evaluate(prediction: prediction, target: target, gradient: &none, scale: 0)
    }

    /// Returns the loss and accumulates `scale`·dL/dprediction into `gradient` (shape of `prediction`).
    @discardableResult
    public func backward(prediction: Tensor, target: Tensor, gradient: inout Tensor, scale: Float = 1) throws -> Result {
        precondition(gradient.shape == prediction.shape, "mel loss: gradient shape \(gradient.shape) ≠ \(prediction.shape)")
        var g: [Float]? = gradient.data
        gradient.data = []
        defer { gradient.data = g! }
        return try evaluate(prediction: prediction, target: target, gradient: &g, scale: scale)
    }

    private func evaluate(prediction: Tensor, target: Tensor, gradient: inout [Float]?, scale: Float) throws -> Result {
        let (B, T) = checkLossInputs(prediction, target, "multi-scale mel loss")
        var perScale = [Double]()
        let eps = epsilon
        for mel in mels {
            let xs = try mel.stft.forward(prediction.data, channels: B)
            let xMag = xs.magnitude()
            let xMel = try mel.filterbank.apply(xMag).values
            let yMel = try mel(target.data, channels: B).values
            var sum = 0.0
            for i in 0..<xMel.count {
                sum += Double(abs(log10(max(xMel[i], eps)) - log10(max(yMel[i], eps))))
            }
            perScale.append(sum / Double(xMel.count))
            guard gradient != nil else { continue }
            // dL/dM [B, M, N] → dL/d|X| [B, F, N] = Wᵀ·dL/dM → (re, im).
            let M = mel.filterbank.melCount, F = mel.filterbank.binCount, N = xs.frames
            let c = Double(scale) / (Double(xMel.count) * log(10.0))
            var gMel = [Float](repeating: 0, count: xMel.count)
            for i in 0..<xMel.count where xMel[i] >= eps {
                let lx = log10(xMel[i]), ly = log10(max(yMel[i], eps))
                if lx != ly { gMel[i] = Float((lx > ly ? c : -c) / Double(xMel[i])) }
            }
            var gMag = [Float](repeating: 0, count: B * F * N)
            var gRe = [Float](repeating: 0, count: gMag.count), gIm = gRe
            let weights = mel.filterbank.weights, support = mel.filterbank.support
            gMag.withUnsafeMutableBufferPointer { gm in
                gRe.withUnsafeMutableBufferPointer { gr in
                    gIm.withUnsafeMutableBufferPointer { gi in
                        parallelFor(B) { rows in
                            for b in rows {
                                for m in 0..<M {
                                    let gRow = b * M * N + m * N  // dL/dM[b, m, :]
                                    for k in support[m] {
                                        let w = weights[m * F + k], dst = (b * F + k) * N  // dL/d|X|[b, k, :]
                                        for t in 0..<N { gm[dst + t] += w * gMel[gRow + t] }
                                    }
                                }
                                for i in b * F * N ..< (b + 1) * F * N where xMag.values[i] > 0 {
                                    let r = gm[i] / xMag.values[i]
                                    gr[i] = r * xs.real[i]; gi[i] = r * xs.imag[i]
                                }
                            }
                        }
                    }
                }
            }
            try mel.stft.backward(realGradient: gRe, imagGradient: gIm, channels: B, signalLength: T, gradient: &gradient!)
        }
        return Result(loss: perScale.reduce(0, +), perScale: perScale)
    }
}
