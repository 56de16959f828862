// Roofline: what one core of this machine can do at most, measured: fp32 FMA throughput and the read
// bandwidth for a working set the size of the LSTM's recurrent weights. The benchmarks divide a model's
// work by these to get the least time any implementation of that work could take here.
import Foundation

public enum Roofline {
    /// fp32 multiply-add throughput of the calling thread in GFLOP/s (2 FLOPs per lane per FMA): 12
    /// independent SIMD8 FMA chains, the best of 3 timed runs of `iterations` rounds, in CPU time.
    public static func fmaPeakGFLOPs(iterations: Int = 20_000_000) -> Double {
        var best = Double.infinity
        var sink: Float = 0
        for _ in 0..<3 {
            let c0 = threadCPUTime()
            sink += fmaChains(iterations)
            best = min(best, threadCPUTime() - c0)
        }
        if sink.isNaN { print("", terminator: "") }  // keeps the chains from being optimized away
        return Double(iterations) * 12 * 8 * 2 / best / 1e9
    }

    /// Read bandwidth of the calling thread in GB/s over a `bytes` buffer read front to back again and
    /// again (after a warm-up pass it sits in the nearest cache that holds it): 4 independent SIMD8 sums,
    /// the best of `passes` timed passes, in CPU time.
    public static func readBandwidthGBs(bytes: Int, passes: Int = 40) -> Double {
        let count = max(32, bytes / 4) / 32 * 32
        let p = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        defer { p.deallocate() }
        for i in 0..<count { p[i] = Float(i & 1023) * 1e-3 }
        var best = Double.infinity
        var sink: Float = 0
        for pass in 0...passes {
            let c0 = threadCPUTime()
            sink += readAll(p, count)
            if pass > 0 { best = min(best, threadCPUTime() - c0) }
        }
        if sink.isNaN { print("", terminator: "") }
        return Double(count * 4) / best / 1e9
    }

    @inline(never)
    private static func fmaChains(_ iterations: Int) -> Float {
        var a0 = Vec8(repeating: 1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0
        var a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0
        // a ← a·m + c converges (|m| < 1), so no lane ever overflows or goes subnormal.
        let m = Vec8(repeating: 0.5), c = Vec8(repeating: 0.25)
        for _ in 0..<iterations {
            a0 = c.addingProduct(a0, m); a1 = c.addingProduct(a1, m); a2 = c.addingProduct(a2, m)
            a3 = c.addingProduct(a3, m); a4 = c.addingProduct(a4, m); a5 = c.addingProduct(a5, m)
            a6 = c.addingProduct(a6, m); a7 = c.addingProduct(a7, m); a8 = c.addingProduct(a8, m)
            a9 = c.addingProduct(a9, m); a10 = c.addingProduct(a10, m); a11 = c.addingProduct(a11, m)
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
    }

    @inline(never)
    private static func readAll(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var s0 = Vec8(), s1 = Vec8(), s2 = Vec8(), s3 = Vec8()
        var i = 0
        while i < count {
            s0 += load8(p + i); s1 += load8(p + i + 8); s2 += load8(p + i + 16); s3 += load8(p + i + 24)
            i += 32
        }
        return ((s0 + s1) + (s2 + s3)).sum()
    }

    /// CPU seconds of the calling thread.
    private static func threadCPUTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
