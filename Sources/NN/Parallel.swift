// Parallel: the one threading helper every kernel uses (DESIGN.md §6).
// Work is split by what each worker writes, so results never depend on the thread count.
import Foundation

/// Process-wide thread settings for all kernels.
///
/// `threadCount` defaults to the `NEURALCODEC_THREADS` environment variable, else the number of active
/// processors. Setting it to 1 runs every `parallelFor` serially on the calling thread (the test mode).
public enum Parallel {
    nonisolated(unsafe) private static var _threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["NEURALCODEC_THREADS"], let n = Int(s), n >= 1 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()
    private static let lock = NSLock()

    /// Number of workers used by `parallelFor` (≥ 1).
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

/// Pieces per worker: workers take pieces from a shared counter, so a worker that the OS deschedules (on a
/// machine shared with other processes) does not hold up the others.
private let piecesPerWorker = 4

/// Hands out piece indices to the workers of one `parallelFor` call.
private final class PieceCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    func take() -> Int { lock.lock(); defer { lock.unlock() }; let n = next; next += 1; return n }
}

/// Calls `body(range)` on disjoint, contiguous sub-ranges that together cover `0..<count`.
///
/// At most `Parallel.threadCount` ranges run at once; each range holds at least `minChunk` items (so small
/// jobs stay on one thread). The range is cut into up to 4 pieces per worker, handed out in order as
/// workers become free (dynamic balance). Workers block on completion (libdispatch), never spin. `body`
/// must only write memory owned by its range so that the result is identical for every thread count.
@inline(__always)
public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let threads = Parallel.threadCount
    let maxChunks = max(1, count / max(1, minChunk))
    let workers = min(threads, maxChunks)
    if workers <= 1 { body(0..<count); return }
    let pieces = min(maxChunks, workers * piecesPerWorker)
    let counter = PieceCounter()
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let p = counter.take()
                if p >= pieces { break }
                let lo = count * p / pieces, hi = count * (p + 1) / pieces
                if lo < hi { body(lo..<hi) }
            }
        }
    }
}
