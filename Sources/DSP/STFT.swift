// STFT and inverse STFT with the conventions of torch.stft / torch.istft, batched over channels, on
// cached FFTW plans with fixed frame blocks spread over threads.
// Legend: C channels, T samples per channel, n FFT size, F = n/2+1 bins, N frames, B frames per block.
import Foundation

/// Parameters of a short-time Fourier transform, named and defaulted as in `torch.stft`, except that
/// the default window is a periodic Hann (torch's default is rectangular).
public struct STFTConfig: Sendable, Equatable {
    /// How `center` pads the signal by n/2 samples on each side.
    public enum PadMode: Sendable, Equatable {
        /// Mirror without repeating the edge sample (torch `pad_mode='reflect'`, the default):
        /// x[−i] = x[i], x[T−1+i] = x[T−1−i].
        case reflect
        /// Zeros (torch `pad_mode='constant'`, librosa ≥ 0.10's default).
        case constant
    }

    /// n_fft: FFT length n (≥ 1). Bins per frame: n/2 + 1.
    public var fftSize: Int
    /// hop_length in samples (default n/4, as torch).
    public var hopLength: Int
    /// win_length ≤ n (default n). A shorter window is zero-padded on both sides to n, starting at
    /// (n − win_length)/2, as torch does.
    public var windowLength: Int
    /// The analysis/synthesis window, `windowLength` values (default: periodic Hann, torch.hann_window).
    public var window: [Float]
    /// Pad the signal by n/2 on both sides so frame t is centered at sample t·hop (torch `center=True`).
    public var center: Bool
    public var padMode: PadMode
    /// Multiply the forward transform by n^(−1/2) (torch `normalized=True`); the inverse undoes it.
    public var normalized: Bool

    public init(fftSize: Int, hopLength: Int? = nil, windowLength: Int? = nil, window: [Float]? = nil,
                center: Bool = true, padMode: PadMode = .reflect, normalized: Bool = false) {
        self.fftSize = fftSize
        self.hopLength = hopLength ?? max(1, fftSize / 4)
        let w = windowLength ?? fftSize
        self.windowLength = w
        self.window = window ?? (w >= 1 ? Window.hann(w) : [])
        self.center = center
        self.padMode = padMode
        self.normalized = normalized
    }

    /// n/2 + 1 (onesided).
    public var binCount: Int { fftSize / 2 + 1 }

    /// Samples added on each side before framing: n/2 when `center`, else 0.
    public var padding: Int { center ? fftSize / 2 : 0 }

    /// Frames for a signal of `signalLength` samples: 1 + ⌊(T + 2·padding − n)/hop⌋, or 0 if T + 2·padding < n.
    public func frameCount(signalLength: Int) -> Int {
        let padded = signalLength + 2 * padding
        return padded < fftSize ? 0 : 1 + (padded - fftSize) / hopLength
    }

    /// Throws `invalidParameter` for a configuration torch.stft would reject.
    public func validate() throws {
        guard fftSize >= 1 else {
            throw DSPError.invalidParameter(name: "n_fft", value: "\(fftSize)", reason: "must be at least 1")
        }
        guard hopLength >= 1 else {
            throw DSPError.invalidParameter(name: "hop length", value: "\(hopLength)", reason: "must be at least 1")
        }
        guard windowLength >= 1, windowLength <= fftSize else {
            throw DSPError.invalidParameter(name: "window length", value: "\(windowLength)",
                                            reason: "must be between 1 and n_fft = \(fftSize)")
        }
        guard window.count == windowLength else {
            throw DSPError.invalidParameter(name: "window", value: "of \(window.count) values",
                                            reason: "must have window length \(windowLength) values")
        }
        guard window.allSatisfy({ $0.isFinite }) else {
            throw DSPError.invalidParameter(name: "window", value: "with non-finite values", reason: "must be finite")
        }
    }
}

/// Short-time Fourier transform and its inverse, with the conventions of `torch.stft` /
/// `torch.istft` (onesided, complex output `[bins, frames]` per channel).
///
/// Forward, for channel c, frame t and bin k (xₚ = x padded by n/2 when centered, w = window zero-padded
/// to n and centered):
///     X[c, k, t] = s · Σᵢ₌₀ⁿ⁻¹ w[i] · xₚ[c, t·hop + i] · e^(−2πi·k·i/n),   s = n^(−1/2) if normalized else 1.
/// Inverse (overlap-add with the squared-window envelope, as torch.istft):
///     y[j] = Σₜ w[j − t·hop] · irfft(X[:, t]/s)[j − t·hop] / Σₜ w²[j − t·hop],
/// then trimmed by n/2 at the start when centered, and to `length` (zero-padded past the last frame) or,
/// without `length`, by n/2 at the end when centered.
///
/// Thread-safe. Plans come from the process-wide cache (created once per size). Frames are processed in
/// fixed blocks of B (B depends only on n): each block's frames are windowed and transformed one by one
/// into a frame-major block buffer, then written to the [bins, frames] output in SIMD tiles. Blocks
/// are spread over `DSPThreads.threadCount` workers; every frame goes through the same arithmetic
/// whichever worker runs it, so results do not depend on the thread count.
public final class STFT: @unchecked Sendable {
    public let config: STFTConfig
    /// The window zero-padded to n, centered as torch pads it.
    public let paddedWindow: [Float]
    /// Nonzero span of `paddedWindow`: [windowStart, windowStart + windowLength).
    let windowStart: Int
    /// Frames per block (fixed per n, so block boundaries never depend on threads).
    let blockFrames: Int
    private let forwardPlan: FFTPlan

    /// Validates the configuration and plans the forward transform (the inverse plans on first use).
    public init(_ config: STFTConfig) throws {
        try config.validate()
        self.config = config
        let n = config.fftSize
        windowStart = (n - config.windowLength) / 2
        var w = [Float](repeating: 0, count: n)
        for i in 0..<config.windowLength { w[windowStart + i] = config.window[i] }
        paddedWindow = w
        // A block's spectra take about 256 KB: a quarter of L2, while the output tiles written from it
        // are 2 planes × 8 bins × B frames.
        blockFrames = max(8, min(256, 65536 / FFTLayout.complexDistance(n)))
        forwardPlan = try FFTPlanCache.plan(size: n, howMany: 1, kind: .forward)
    }

    /// Convenience: `STFT(STFTConfig(fftSize:hopLength:windowLength:…))`.
    public convenience init(fftSize: Int, hopLength: Int? = nil, windowLength: Int? = nil, window: [Float]? = nil,
                            center: Bool = true, padMode: STFTConfig.PadMode = .reflect, normalized: Bool = false) throws {
        try self.init(STFTConfig(fftSize: fftSize, hopLength: hopLength, windowLength: windowLength, window: window,
                                 center: center, padMode: padMode, normalized: normalized))
    }

    /// Checks a signal length and returns its frame count, throwing what torch.stft would reject.
    public func frameCount(signalLength length: Int) throws -> Int {
        let n = config.fftSize, pad = config.padding
        if pad > 0 && config.padMode == .reflect && length <= pad {
            throw DSPError.signalTooShort(length: length, required: pad + 1,
                                          reason: "reflect padding by n_fft/2 = \(pad) needs more samples than the padding")
        }
        let frames = config.frameCount(signalLength: length)
        if frames < 1 {
            throw DSPError.signalTooShort(length: length, required: n - 2 * pad,
                                          reason: "one frame of n_fft = \(n) samples")
        }
        return frames
    }

    /// STFT of `signal`, laid out `[channels, T]` row-major. Returns `[channels, n/2+1, N]`.
    public func forward(_ signal: [Float], channels: Int = 1) throws -> ComplexSpectrogram {
        guard channels >= 1, signal.count % channels == 0, !signal.isEmpty else {
            throw DSPError.shapeMismatch(what: "STFT input", expected: "[\(channels), T] samples with T ≥ 1",
                                         actual: "\(signal.count) samples")
        }
        let length = signal.count / channels
        let frames = try frameCount(signalLength: length)
        let bins = config.binCount
        // Every element is written by the kernel, so the (large) outputs are not zero-filled first.
        let count = channels * bins * frames
        var im = [Float]()
        let re = [Float](unsafeUninitializedCapacity: count) { reOut, reCount in
            im = [Float](unsafeUninitializedCapacity: count) { imOut, imCount in
                adviseHugePages(reOut.baseAddress!, count)
                adviseHugePages(imOut.baseAddress!, count)
                signal.withUnsafeBufferPointer { x in
                    forwardKernel(x.baseAddress!, channels: channels, length: length, frames: frames,
                                  real: reOut.baseAddress!, imag: imOut.baseAddress!)
                }
                imCount = count
            }
            reCount = count
        }
        return ComplexSpectrogram(uncheckedChannels: channels, bins: bins, frames: frames, real: re, imag: im)
    }

    /// Forward kernel: x [C, T] → real, imag [C, F, N]. Tasks are (channel, block) pairs; each worker
    /// owns aligned scratch (one frame, one block of spectra) and writes only its blocks' columns.
    private func forwardKernel(_ x: UnsafePointer<Float>, channels C: Int, length T: Int, frames N: Int,
                               real: UnsafeMutablePointer<Float>, imag: UnsafeMutablePointer<Float>) {
        let n = config.fftSize, F = config.binCount, hop = config.hopLength, pad = config.padding
        let B = blockFrames, blocks = (N + B - 1) / B
        let rDist = FFTLayout.realDistance(n), cDist = FFTLayout.complexDistance(n)
        let w0 = windowStart, wl = config.windowLength
        let scale: Float = config.normalized ? 1 / Float(n).squareRoot() : 1
        let reflect = config.padMode == .reflect
        paddedWindow.withUnsafeBufferPointer { wp in
            let win = wp.baseAddress! + w0  // the nonzero span
            dspParallelFor(C * blocks) { tasks in
                // Frames are zero outside the window span, forever: only the span is ever written.
                let frame = AlignedFloats(count: rDist)
                let spectra = AlignedFloats(count: B * cDist)  // [B, cDist] interleaved
                for task in tasks {
                    let c = task / blocks, t0 = (task % blocks) * B, t1 = min(N, t0 + B)
                    let xRow = x + c * T  // x[c, :]
                    // Windowed frame t into frame[0..<n].
                    func fill(_ t: Int, _ frame: UnsafeMutablePointer<Float>) {
                        let dst = frame + w0
                        let s0 = t * hop - pad + w0  // signal index of the window's first sample
                        if s0 >= 0 && s0 + wl <= T {
                            let src = xRow + s0
                            for i in 0..<wl { dst[i] = win[i] * src[i] }
                        } else {
                            for i in 0..<wl {
                                var s = s0 + i
                                var v: Float = 0
                                if reflect {
                                    if s < 0 { s = -s }
                                    if s >= T { s = 2 * (T - 1) - s }
                                    v = xRow[s]
                                } else if s >= 0 && s < T {
                                    v = xRow[s]
                                }
                                dst[i] = win[i] * v
                            }
                        }
                    }
                    // One frame at a time through the single-transform plan: the frame stays in L1
                    // between windowing and FFT (measured faster here than one plan_many call per block).
                    for t in t0..<t1 {
                        fill(t, frame.pointer)
                        forwardPlan.forward(frame.pointer, spectra.pointer + (t - t0) * cDist)
                    }
                    storeColumns(spectra.pointer, cDist: cDist, count: t1 - t0, bins: F, scale: scale,
                                 real: real + c * F * N + t0, imag: imag + c * F * N + t0, rowStride: N)
                }
            }
        }
    }

    /// Writes `count` interleaved spectra (spectrum j at src + j·cDist, bins × (re, im)) times `scale` into
    /// columns 0..<count of the planes real/imag [bins, rowStride]. 4 frames × 2 bins at a time: four
    /// 16-byte loads, a 4×4 register transpose, four 16-byte stores; the spectrum lines read for a bin pair
    /// stay in L1 for the next three pairs.
    @inline(__always)
    private func storeColumns(_ src: UnsafeMutablePointer<Float>, cDist: Int, count: Int, bins F: Int, scale: Float,
                              real: UnsafeMutablePointer<Float>, imag: UnsafeMutablePointer<Float>, rowStride N: Int) {
        let s4 = SIMD4<Float>(repeating: scale)
        let raw = UnsafeRawPointer(src)
        var k = 0
        while k + 1 < F {
            let re0 = UnsafeMutableRawPointer(real + k * N), im0 = UnsafeMutableRawPointer(imag + k * N)
            let re1 = UnsafeMutableRawPointer(real + (k + 1) * N), im1 = UnsafeMutableRawPointer(imag + (k + 1) * N)
            var j = 0
            while j + 3 < count {
                let base = 4 * (j * cDist + 2 * k)
                let a = raw.loadUnaligned(fromByteOffset: base, as: SIMD4<Float>.self)            // frame j
                let b = raw.loadUnaligned(fromByteOffset: base + 4 * cDist, as: SIMD4<Float>.self)
                let c = raw.loadUnaligned(fromByteOffset: base + 8 * cDist, as: SIMD4<Float>.self)
                let d = raw.loadUnaligned(fromByteOffset: base + 12 * cDist, as: SIMD4<Float>.self)
                re0.storeBytes(of: SIMD4(a[0], b[0], c[0], d[0]) * s4, toByteOffset: 4 * j, as: SIMD4<Float>.self)
                im0.storeBytes(of: SIMD4(a[1], b[1], c[1], d[1]) * s4, toByteOffset: 4 * j, as: SIMD4<Float>.self)
                re1.storeBytes(of: SIMD4(a[2], b[2], c[2], d[2]) * s4, toByteOffset: 4 * j, as: SIMD4<Float>.self)
                im1.storeBytes(of: SIMD4(a[3], b[3], c[3], d[3]) * s4, toByteOffset: 4 * j, as: SIMD4<Float>.self)
                j += 4
            }
            while j < count {
                let p = src + j * cDist + 2 * k
                real[k * N + j] = p[0] * scale; imag[k * N + j] = p[1] * scale
                real[(k + 1) * N + j] = p[2] * scale; imag[(k + 1) * N + j] = p[3] * scale
                j += 1
            }
            k += 2
        }
        if k < F {  // odd bin count: the last bin alone
            for j in 0..<count {
                let p = src + j * cDist + 2 * k
                real[k * N + j] = p[0] * scale; imag[k * N + j] = p[1] * scale
            }
        }
    }

    /// Inverse STFT of `spectrum` ([C, n/2+1, N]) as torch.istft: returns [C, L] row-major, with
    /// L = `length` if given, else n + hop·(N−1) − 2·padding. Throws `windowEnvelopeVanishes` where the
    /// summed squared window is below 1e-11 (torch's NOLA check).
    /// The imaginary parts of bin 0 and (even n) bin n/2 are ignored, as by torch's C2R transform.
    public func inverse(_ spectrum: ComplexSpectrogram, length: Int? = nil) throws -> [Float] {
        let n = config.fftSize, F = config.binCount, hop = config.hopLength
        guard spectrum.bins == F else {
            throw DSPError.shapeMismatch(what: "inverse STFT input", expected: "\(F) bins for n_fft \(n)",
                                         actual: "\(spectrum.bins) bins")
        }
        guard spectrum.frames >= 1 else {
            throw DSPError.shapeMismatch(what: "inverse STFT input", expected: "at least one frame", actual: "0 frames")
        }
        if let length, length < 0 {
            throw DSPError.invalidParameter(name: "length", value: "\(length)", reason: "must not be negative")
        }
        let C = spectrum.channels, N = spectrum.frames
        let full = n + hop * (N - 1)                  // overlap-added length
        let start = config.padding
        let end = length.map { start + $0 } ?? (full - config.padding)
        let outLength = max(0, end - start)
        let valid = max(0, min(end, full) - start)    // samples that come from frames; the rest are zeros

        // Window envelope Σₜ w²[j − t·hop] on the kept samples, checked as torch does. Where every frame
        // covering j exists (n−1 ≤ j < N·hop) it depends only on j mod hop: precompute those hop sums.
        let envelope = windowEnvelope(frames: N, start: start, count: valid)
        if let bad = envelope.firstIndex(where: { abs($0) < 1e-11 }) {
            throw DSPError.windowEnvelopeVanishes(sample: bad, value: envelope[bad])
        }

        // Blocks of Bi frames, Bi ≥ ⌈n/hop⌉ so that blocks i and i+2 never touch the same sample. Even
        // blocks overlap-add first (in parallel), then odd blocks: race-free, and the summation order of
        // every sample is fixed whatever the thread count.
        let Bi = max(blockFrames, (n + hop - 1) / hop)
        let blocks = (N + Bi - 1) / Bi
        let plan = try FFTPlanCache.plan(size: n, howMany: 1, kind: .inverse)
        let rDist = FFTLayout.realDistance(n), cDist = FFTLayout.complexDistance(n)
        let scale: Float = (config.normalized ? Float(n).squareRoot() : 1) / Float(n)
        var summed = [Float](unsafeUninitializedCapacity: C * full) { buffer, initialized in
            adviseHugePages(buffer.baseAddress!, C * full)
            buffer.baseAddress!.initialize(repeating: 0, count: C * full)
            initialized = C * full
        }
        spectrum.real.withUnsafeBufferPointer { rp in
            spectrum.imag.withUnsafeBufferPointer { ip in
                paddedWindow.withUnsafeBufferPointer { wp in
                    summed.withUnsafeMutableBufferPointer { yp in
                        let re = rp.baseAddress!, im = ip.baseAddress!, y = yp.baseAddress!
                        // The window times the 1/n (and normalization) factor, applied once per sample.
                        let wScaled = AlignedFloats(count: n)
                        for i in 0..<n { wScaled.pointer[i] = wp[i] * scale }
                        let w = UnsafePointer(wScaled.pointer)
                        for parity in 0..<2 {
                            let phaseBlocks = (blocks - parity + 1) / 2
                            dspParallelFor(C * phaseBlocks) { range in
                                let spectra = AlignedFloats(count: Bi * cDist)  // [Bi, cDist] interleaved
                                let frame = AlignedFloats(count: rDist)
                                for task in range {
                                    let c = task / phaseBlocks, b = 2 * (task % phaseBlocks) + parity
                                    let t0 = b * Bi, t1 = min(N, t0 + Bi), count = t1 - t0
                                    loadColumns(re + c * F * N + t0, imag: im + c * F * N + t0, rowStride: N,
                                                count: count, bins: F, into: spectra.pointer, cDist: cDist)
                                    let yRow = y + c * full  // summed[c, :]
                                    for t in t0..<t1 {
                                        plan.inverse(spectra.pointer + (t - t0) * cDist, frame.pointer)
                                        let src = frame.pointer, dst = yRow + t * hop
                                        for i in 0..<n { dst[i] += src[i] * w[i] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // out[c, o] = summed[c, start + o] / envelope[o] for the kept samples, zeros past the last frame.
        return [Float](unsafeUninitializedCapacity: C * outLength) { out, initialized in
            initialized = C * outLength
            guard C * outLength > 0 else { return }
            adviseHugePages(out.baseAddress!, C * outLength)
            summed.withUnsafeBufferPointer { sp in
                envelope.withUnsafeBufferPointer { ep in
                    for c in 0..<C {
                        let src = sp.baseAddress! + c * full + start, dst = out.baseAddress! + c * outLength
                        for o in 0..<valid { dst[o] = src[o] / ep[o] }
                        (dst + valid).initialize(repeating: 0, count: outLength - valid)
                    }
                }
            }
        }
    }

    /// Σₜ w²[j − t·hop] over the frames t = 0…frames−1 that cover j, for j = start ..< start + count,
    /// summed in increasing t as torch's overlap-add does.
    private func windowEnvelope(frames N: Int, start: Int, count: Int) -> [Float] {
        let n = config.fftSize, hop = config.hopLength, w = paddedWindow
        func direct(_ j: Int) -> Float {
            let tLo = j >= n ? (j - n) / hop + 1 : 0, tHi = min(N - 1, j / hop)
            var s: Float = 0
            if tLo <= tHi { for t in tLo...tHi { let v = w[j - t * hop]; s += v * v } }
            return s
        }
        // periodic[r] = Σ w²[i] over i ≡ r (mod hop), i < n, in decreasing i (= increasing t).
        var periodic = [Float](repeating: 0, count: hop)
        for r in 0..<min(hop, n) {
            var i = r + ((n - 1 - r) / hop) * hop
            var s: Float = 0
            while i >= 0 { s += w[i] * w[i]; i -= hop }
            periodic[r] = s
        }
        var env = [Float](repeating: 0, count: count)
        // Kept samples j = start + o: direct sums before and after the interior [n−1, N·hop), periodic inside.
        let lo = min(count, max(0, n - 1 - start)), hi = max(lo, min(count, N * hop - start))
        for o in 0..<lo { env[o] = direct(start + o) }
        for o in hi..<count { env[o] = direct(start + o) }
        env.withUnsafeMutableBufferPointer { e in
            periodic.withUnsafeBufferPointer { p in
                var o = lo, r = (start + lo) % hop
                while o < hi {
                    let run = min(hop - r, hi - o)  // up to the end of this period
                    (e.baseAddress! + o).update(from: p.baseAddress! + r, count: run)
                    o += run; r = 0
                }
            }
        }
        return env
    }

    /// Inverse of `storeColumns`: columns 0..<count of the planes real/imag [bins, rowStride] into `count`
    /// interleaved spectra at dst + j·cDist, 4 frames × 2 bins at a time through a register transpose.
    @inline(__always)
    private func loadColumns(_ real: UnsafePointer<Float>, imag: UnsafePointer<Float>, rowStride N: Int, count: Int,
                             bins F: Int, into dst: UnsafeMutablePointer<Float>, cDist: Int) {
        let raw = UnsafeMutableRawPointer(dst)
        var k = 0
        while k + 1 < F {
            let re0 = UnsafeRawPointer(real + k * N), im0 = UnsafeRawPointer(imag + k * N)
            let re1 = UnsafeRawPointer(real + (k + 1) * N), im1 = UnsafeRawPointer(imag + (k + 1) * N)
            var j = 0
            while j + 3 < count {
                let a = re0.loadUnaligned(fromByteOffset: 4 * j, as: SIMD4<Float>.self)   // re_k, frames j…j+3
                let b = im0.loadUnaligned(fromByteOffset: 4 * j, as: SIMD4<Float>.self)
                let c = re1.loadUnaligned(fromByteOffset: 4 * j, as: SIMD4<Float>.self)
                let d = im1.loadUnaligned(fromByteOffset: 4 * j, as: SIMD4<Float>.self)
                let base = 4 * (j * cDist + 2 * k)
                raw.storeBytes(of: SIMD4(a[0], b[0], c[0], d[0]), toByteOffset: base, as: SIMD4<Float>.self)
                raw.storeBytes(of: SIMD4(a[1], b[1], c[1], d[1]), toByteOffset: base + 4 * cDist, as: SIMD4<Float>.self)
                raw.storeBytes(of: SIMD4(a[2], b[2], c[2], d[2]), toByteOffset: base + 8 * cDist, as: SIMD4<Float>.self)
                raw.storeBytes(of: SIMD4(a[3], b[3], c[3], d[3]), toByteOffset: base + 12 * cDist, as: SIMD4<Float>.self)
                j += 4
            }
            while j < count {
                let p = dst + j * cDist + 2 * k
                p[0] = real[k * N + j]; p[1] = imag[k * N + j]
                p[2] = real[(k + 1) * N + j]; p[3] = imag[(k + 1) * N + j]
                j += 1
            }
            k += 2
        }
        if k < F {
            for j in 0..<count {
                let p = dst + j * cDist + 2 * k
                p[0] = real[k * N + j]; p[1] = imag[k * N + j]
            }
        }
    }

    /// Scalar reference for tests: the same STFT by direct DFT in Double (O(N·n·F)); returns real and
    /// imaginary planes [C, F, N].
    public static func referenceForward(_ signal: [Float], channels: Int, config: STFTConfig) throws
        -> (real: [Double], imag: [Double]) {
        try config.validate()
        let stft = try STFT(config)
        let T = signal.count / channels, N = try stft.frameCount(signalLength: T)
        let n = config.fftSize, F = config.binCount, pad = config.padding
        let s = config.normalized ? 1 / Double(n).squareRoot() : 1
        var re = [Double](repeating: 0, count: channels * F * N), im = re
        for c in 0..<channels {
            for t in 0..<N {
                var frame = [Double](repeating: 0, count: n)
                for i in 0..<n {
                    var j = t * config.hopLength + i - pad
                    var v = 0.0
                    if config.padMode == .reflect {
                        if j < 0 { j = -j }
                        if j >= T { j = 2 * (T - 1) - j }
                        v = Double(signal[c * T + j])
                    } else if j >= 0 && j < T {
                        v = Double(signal[c * T + j])
                    }
                    frame[i] = v * Double(stft.paddedWindow[i])
                }
                for k in 0..<F {
                    var sr = 0.0, si = 0.0
                    for i in 0..<n {
                        let a = -2 * Double.pi * Double((k * i) % n) / Double(n)
                        sr += frame[i] * cos(a); si += frame[i] * sin(a)
                    }
                    re[(c * F + k) * N + t] = sr * s; im[(c * F + k) * N + t] = si * s
                }
            }
        }
        return (re, im)
    }
}

extension ComplexSpectrogram {
    init(uncheckedChannels channels: Int, bins: Int, frames: Int, real: [Float], imag: [Float]) {
        try! self.init(channels: channels, bins: bins, frames: frames, real: real, imag: imag)
    }
}
