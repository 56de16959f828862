// DSPParallel: the thread pool contract of NN's `parallelFor` (DESIGN.md §6), for the DSP target, which
// sits below NN and cannot import it. Same semantics, same NEURALCODEC_THREADS default.
import Foundation

/// Thread settings for DSP kernels (STFT, inverse STFT, mel projection).
///
/// `threadCount` defaults to the `NEURALCODEC_THREADS` environment variable, else the number of active
/// processors. 1 runs every kernel serially on the calling thread. Results never depend on it: work is
/// split into fixed blocks whose arithmetic is the same whichever thread runs them.
public enum DSPThreads {
    nonisolated(unsafe) private static var _threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["NEURALCODEC_THREADS"], let n = Int(s), n >= 1 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()
    private static let lock = NSLock()

    /// Number of workers used by DSP kernels (≥ 1).
    public static var threadCount: Int {
        get { lock.lock(); defer { lock.unlock() }; return _threadCount }
        set { lock.lock(); defer { lock.unlock() }; _threadCount = max(1, newValue) }
    }

    /// Runs `body` with `threadCount` temporarily set to `n`, then restores it.
    public static func withThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        let old = threadCount
        threadCount = n
        defer { threadCount = old }
        return try body()
    }
}

/// Calls `body(range)` on disjoint contiguous sub-ranges covering `0..<count`, at most
/// `DSPThreads.threadCount` at once, each of at least `minChunk` items. Workers block (libdispatch),
/// never spin. `body` must write only memory owned by its range.
@inline(__always)
func dspParallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let threads = DSPThreads.threadCount
    let chunks = min(threads, max(1, count / max(1, minChunk)))
    if chunks <= 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Asks the kernel to back a large, not yet touched buffer of `count` floats with transparent huge
/// pages (Linux, where THP is in `madvise` mode): first-touch page faults then cost ~5× less, which is
/// a large share of an STFT's time on long signals. A no-op elsewhere or for buffers under 4 MB.
func adviseHugePages(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
    #if os(Linux)
    let bytes = count * MemoryLayout<Float>.stride
    guard bytes >= 4 << 20 else { return }
    let huge = 2 << 20
    let lo = (Int(bitPattern: pointer) + huge - 1) & ~(huge - 1)
    let hi = (Int(bitPattern: pointer) + bytes) & ~(huge - 1)
    if hi > lo { _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, 14 /* MADV_HUGEPAGE */) }
    #endif
}
