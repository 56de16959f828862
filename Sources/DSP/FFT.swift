// FFT: real FFTs over FFTW single precision (fftw3f). One Swift owner per fftwf_plan (`FFTPlan`), a plan
// cache keyed by size with planning serialized (FFTW's planner is not thread-safe), and `RealFFT`.
internal import CFFTW
import Foundation

// ref: fftw3.h planner flags.
private let fftwMeasure: UInt32 = 0        // FFTW_MEASURE: time candidate algorithms, keep the fastest
private let fftwEstimate: UInt32 = 1 << 6  // FFTW_ESTIMATE: pick by heuristics, no timing

/// How hard FFTW searches for a fast algorithm when it first plans a size.
public enum FFTPlanningRigor: Sendable, Hashable {
    /// FFTW_ESTIMATE: instant planning, slower transforms; the same algorithm in every process.
    case estimate
    /// FFTW_MEASURE (default): times candidates once per size and process (milliseconds to a second),
    /// then reuses the winner. The winner may differ between processes, so results may differ between
    /// runs in the last bits (never between thread counts within a run).
    case measure
}

/// Process-wide FFT planning settings and the plan cache's statistics.
public enum FFTPlanning {
    /// Rigor for plans created from now on (plans already cached keep theirs; the cache key includes it).
    public static var rigor: FFTPlanningRigor {
        get { FFTPlanCache.lock.lock(); defer { FFTPlanCache.lock.unlock() }; return FFTPlanCache.rigor }
        set { FFTPlanCache.lock.lock(); defer { FFTPlanCache.lock.unlock() }; FFTPlanCache.rigor = newValue }
    }
    /// Number of distinct FFTW plans created so far in this process (each is created once and reused).
    public static var planCount: Int {
        FFTPlanCache.lock.lock(); defer { FFTPlanCache.lock.unlock() }
        return FFTPlanCache.plans.count
    }
}

/// Float storage from `fftwf_malloc`, so every buffer has the SIMD alignment FFTW plans were made for
/// (the new-array execute functions require the same alignment as at planning). Freed in deinit.
final class AlignedFloats {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        precondition(count >= 0, "AlignedFloats: negative count")
        self.count = count
        guard let raw = fftwf_malloc(max(1, count) * MemoryLayout<Float>.stride) else {
            fatalError("fftwf_malloc failed for \(count) floats")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { fftwf_free(pointer) }
}

/// One FFTW plan: `howMany` real transforms of length `size`, frame j's real samples at
/// j·realDistance + [0, size) and its spectrum as interleaved re/im floats at j·complexDistance +
/// [0, 2·(size/2+1)). Distances are rounded up to 16 floats (64 bytes) by `FFTLayout`, so every frame
/// starts at the buffer's alignment. Owns the fftwf_plan; destroys it in deinit under the planner lock.
/// Execution is thread-safe on distinct buffers (new-array API).
final class FFTPlan: @unchecked Sendable {
    enum Kind: Hashable, CustomStringConvertible {
        case forward   // r2c
        case inverse   // c2r (unnormalized; destroys its complex input)
        var description: String { self == .forward ? "r2c" : "c2r" }
    }

    struct Key: Hashable {
        let size: Int
        let howMany: Int
        let kind: Kind
        let rigor: FFTPlanningRigor
        var realDistance: Int { FFTLayout.realDistance(size) }
        var complexDistance: Int { FFTLayout.complexDistance(size) }
    }

    let key: Key
    private let plan: OpaquePointer
    private let alignment: Int32

    /// Creates the plan. Call with `FFTPlanCache.lock` held (FFTW's planner is not thread-safe).
    fileprivate init(key: Key) throws {
        self.key = key
        let n = key.size
        let rDist = Int32(key.realDistance), cDist = Int32(key.complexDistance / 2)  // in complex elements
        // Planning with FFTW_MEASURE overwrites the arrays, so plan on scratch buffers.
        let real = AlignedFloats(count: key.realDistance * key.howMany)
        let complex = AlignedFloats(count: key.complexDistance * key.howMany)
        let flags = key.rigor == .measure ? fftwMeasure : fftwEstimate
        var dims = [Int32(n)]
        let cplx = UnsafeMutableRawPointer(complex.pointer).assumingMemoryBound(to: fftwf_complex.self)
        let made: OpaquePointer? = dims.withUnsafeMutableBufferPointer { d in
            switch key.kind {
            case .forward:
                return fftwf_plan_many_dft_r2c(1, d.baseAddress, Int32(key.howMany),
                                               real.pointer, nil, 1, rDist,
                                               cplx, nil, 1, cDist, flags)
            case .inverse:
                return fftwf_plan_many_dft_c2r(1, d.baseAddress, Int32(key.howMany),
                                               cplx, nil, 1, cDist,
                                               real.pointer, nil, 1, rDist, flags)
            }
        }
        guard let made else {
            throw DSPError.planCreationFailed(size: n, howMany: key.howMany, kind: key.kind.description)
        }
        plan = made
        alignment = fftwf_alignment_of(real.pointer)
    }

    deinit {
        FFTPlanCache.lock.lock()
        fftwf_destroy_plan(plan)
        FFTPlanCache.lock.unlock()
    }

    /// r2c: `real` holds howMany frames, `complex` receives howMany spectra (layout above). Both must
    /// start at an `AlignedFloats` base or a multiple of 16 floats from one.
    @inline(__always)
    func forward(_ real: UnsafeMutablePointer<Float>, _ complex: UnsafeMutablePointer<Float>) {
        precondition(key.kind == .forward, "FFTPlan.forward on a c2r plan")
        precondition(fftwf_alignment_of(real) == alignment && fftwf_alignment_of(complex) == alignment,
                     "FFTPlan: buffers must have the alignment of the planning arrays")
        fftwf_execute_dft_r2c(plan, real,
                              UnsafeMutableRawPointer(complex).assumingMemoryBound(to: fftwf_complex.self))
    }

    /// c2r (unnormalized: the result is `size` times the inverse DFT). Destroys `complex`.
    @inline(__always)
    func inverse(_ complex: UnsafeMutablePointer<Float>, _ real: UnsafeMutablePointer<Float>) {
        precondition(key.kind == .inverse, "FFTPlan.inverse on an r2c plan")
        precondition(fftwf_alignment_of(real) == alignment && fftwf_alignment_of(complex) == alignment,
                     "FFTPlan: buffers must have the alignment of the planning arrays")
        fftwf_execute_dft_c2r(plan,
                              UnsafeMutableRawPointer(complex).assumingMemoryBound(to: fftwf_complex.self),
                              real)
    }
}

/// Frame layout in batched buffers: distances between frames rounded up to 16 floats (64 bytes, a
/// cache line) so that every frame has the alignment of the buffer's base.
enum FFTLayout {
    /// Floats between consecutive real frames of length n.
    static func realDistance(_ n: Int) -> Int { (n + 15) & ~15 }
    /// Floats between consecutive interleaved spectra of n/2 + 1 bins.
    static func complexDistance(_ n: Int) -> Int { (2 * (n / 2 + 1) + 15) & ~15 }
}

/// The process-wide plan cache: one plan per (size, batch, direction, rigor), created on first use under
/// `lock` and kept for the life of the process.
enum FFTPlanCache {
    /// Serializes every FFTW planner call (plan creation and destruction).
    static let lock = NSLock()
    nonisolated(unsafe) static var plans: [FFTPlan.Key: FFTPlan] = [:]
    nonisolated(unsafe) static var rigor: FFTPlanningRigor = .measure

    static func plan(size: Int, howMany: Int, kind: FFTPlan.Kind) throws -> FFTPlan {
        precondition(size >= 1 && howMany >= 1, "FFTPlanCache: size and howMany must be ≥ 1")
        lock.lock(); defer { lock.unlock() }
        let key = FFTPlan.Key(size: size, howMany: howMany, kind: kind, rigor: rigor)
        if let p = plans[key] { return p }
        let p = try FFTPlan(key: key)
        plans[key] = p
        return p
    }
}

/// Real-input FFT of one fixed length over FFTW single precision. Thread-safe: each call uses its own
/// aligned scratch; the plans are shared from the cache.
public final class RealFFT: @unchecked Sendable {
    /// Transform length n (any n ≥ 1; FFTW is fastest for products of small primes).
    public let size: Int
    /// Number of non-redundant bins, n/2 + 1.
    public var binCount: Int { size / 2 + 1 }

    private let forwardPlan: FFTPlan
    private let inversePlan: FFTPlan

    /// Plans (or reuses cached plans for) length `size`. Throws `invalidParameter` when size < 1.
    public init(size: Int) throws {
        guard size >= 1 else {
            throw DSPError.invalidParameter(name: "FFT size", value: "\(size)", reason: "must be at least 1")
        }
        self.size = size
        forwardPlan = try FFTPlanCache.plan(size: size, howMany: 1, kind: .forward)
        inversePlan = try FFTPlanCache.plan(size: size, howMany: 1, kind: .inverse)
    }

    /// X[k] = Σₜ x[t]·e^(−2πi·k·t/n) for k = 0 … n/2, unnormalized (as `numpy.fft.rfft`).
    /// `signal` has `size` samples; returns the real and imaginary parts, `binCount` each.
    public func forward(_ signal: [Float]) throws -> (real: [Float], imag: [Float]) {
        guard signal.count == size else {
            throw DSPError.shapeMismatch(what: "RealFFT.forward input", expected: "\(size) samples",
                                         actual: "\(signal.count)")
        }
        let input = AlignedFloats(count: size), output = AlignedFloats(count: 2 * binCount)
        signal.withUnsafeBufferPointer { input.pointer.update(from: $0.baseAddress!, count: size) }
        forwardPlan.forward(input.pointer, output.pointer)
        var re = [Float](repeating: 0, count: binCount), im = re
        for k in 0..<binCount { re[k] = output.pointer[2 * k]; im[k] = output.pointer[2 * k + 1] }
        return (re, im)
    }

    /// x[t] = (1/n)·Σₖ X[k]·e^(2πi·k·t/n) over the Hermitian extension of the `binCount` bins (as
    /// `numpy.fft.irfft(X, n)`): the imaginary parts of bin 0 and, for even n, bin n/2 are ignored.
    public func inverse(real: [Float], imag: [Float]) throws -> [Float] {
        guard real.count == binCount, imag.count == binCount else {
            throw DSPError.shapeMismatch(what: "RealFFT.inverse input", expected: "\(binCount) bins",
                                         actual: "\(real.count) real, \(imag.count) imaginary")
        }
        let input = AlignedFloats(count: 2 * binCount), output = AlignedFloats(count: size)
        for k in 0..<binCount { input.pointer[2 * k] = real[k]; input.pointer[2 * k + 1] = imag[k] }
        inversePlan.inverse(input.pointer, output.pointer)
        let scale = 1 / Float(size)
        return (0..<size).map { output.pointer[$0] * scale }
    }

    /// Scalar reference for tests: the O(n²) DFT of `signal` in Double, bins 0 … n/2.
    public static func referenceForward(_ signal: [Float]) -> (real: [Double], imag: [Double]) {
        let n = signal.count, bins = n / 2 + 1
        var re = [Double](repeating: 0, count: bins), im = re
        for k in 0..<bins {
            var sr = 0.0, si = 0.0
            for t in 0..<n {
                // Reduce k·t mod n first so the angle stays small and exact.
                let angle = -2 * Double.pi * Double((k * t) % n) / Double(n)
                sr += Double(signal[t]) * cos(angle); si += Double(signal[t]) * sin(angle)
            }
            re[k] = sr; im[k] = si
        }
        return (re, im)
    }
}
