// bench-nn: times each NN kernel at the layer shapes of the full EnCodec 24 kHz SEANet on 10 s of audio,
// on 1 and 2 threads, and prints GFLOP/s. scripts/bench-nn.py runs PyTorch on the same shapes beside it.
// Output lines starting with "RESULT" are machine-readable: name, threads, ms, gflops.
import Foundation
import NN

/// One benchmark case: a name, its FLOP count, and a closure that sets up the data (only when the case
/// is selected) and returns the closure that runs the kernel once.
struct Case {
    let name: String
    let flops: Double
    /// Shape description for scripts/bench-nn.py (key=value pairs), printed by `--list`.
    let spec: String
    let setUp: () -> () -> Void
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// CPU time of the whole process (all threads), in seconds.
func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Best-of wall time and best-of CPU time in seconds: at least `minReps` runs and about `minTime`
/// seconds in all (after a warm-up). On a shared machine the CPU time of a 1-thread run is the better
/// measure of the kernel (it excludes time the process waited for a core).
func timeIt(_ body: () -> Void, minReps: Int = 3, minTime: Double = 0.4) -> (wall: Double, cpu: Double) {
    body()
    var best = Double.infinity, bestCPU = Double.infinity
    var total = 0.0, reps = 0
    while reps < minReps || total < minTime {
        let t0 = now(), c0 = cpuNow()
        body()
        let dt = now() - t0, dc = cpuNow() - c0
        best = min(best, dt)
        bestCPU = min(bestCPU, dc)
        total += dt
        reps += 1
        if reps >= 50 { break }
    }
    return (best, bestCPU)
}

/// Deterministic pseudo-random floats in [-scale, scale).
func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<n).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

/// Heap buffers that live for the whole benchmark (kept out of the timed region).
final class Buffer {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ values: [Float]) {
        count = values.count
        p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
        p.initialize(from: values, count: count)
    }
    init(zeros n: Int) {
        count = n
        p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
        p.initialize(repeating: 0, count: n)
    }
    deinit { p.deallocate() }
}

var cases: [Case] = []

/// Conv1d at one layer: name, Cin, Cout, K, stride, dilation, output length (input length derived).
/// With `winograd`, the F(2,2) kernel (K = 2·stride; FLOPs counted as the direct conv's).
func addConv(_ name: String, _ cin: Int, _ cout: Int, _ k: Int, stride: Int = 1, dilation: Int = 1, outLength: Int, elu: Bool = false,
             winograd: Bool = false) {
    let tin = (outLength - 1) * stride + dilation * (k - 1) + 1
    let shape = Conv1dShape(batch: 1, inChannels: cin, outChannels: cout, inLength: tin, kernelSize: k, stride: stride, dilation: dilation)
    cases.append(Case(name: name, flops: 2 * Double(shape.multiplyAdds),
                      spec: "kind=conv1d cin=\(cin) cout=\(cout) k=\(k) stride=\(stride) dilation=\(dilation) tin=\(tin) elu=\(elu ? 1 : 0)") {
    let x = Buffer(randomFloats(shape.inputCount, seed: 1))
    let w = Buffer(randomFloats(shape.weightCount, seed: 2, scale: 1 / Float(cin * k).squareRoot()))
    let b = Buffer(randomFloats(cout, seed: 3, scale: 0.1))
    let y = Buffer(zeros: shape.outputCount)
    if winograd {
        let packed = packConv1dWinogradWeights(w.p, bias: b.p, outChannels: cout, inChannels: cin, stride: stride)
        return { conv1dWinogradForward(out: y.p, x: x.p, weights: packed, shape: shape, inputELU: elu ? 1 : nil); _ = (x, w, b, y) }
    }
    let packed = packConv1dWeights(w.p, bias: b.p, outChannels: cout, inChannels: cin, kernelSize: k)
    return { conv1dForward(out: y.p, x: x.p, packed: packed, shape: shape, inputELU: elu ? 1 : nil); _ = (x, w, b, y) }
    })
}

/// ConvTranspose1d at one layer: Cin, Cout, K, stride, input length.
/// With `winograd`, the F(2,2) kernel (K = 2·stride; FLOPs counted as the direct transposed conv's).
func addConvTranspose(_ name: String, _ cin: Int, _ cout: Int, _ k: Int, stride: Int, inLength: Int, elu: Bool = false,
                      winograd: Bool = false) {
    let shape = ConvTranspose1dShape(batch: 1, inChannels: cin, outChannels: cout, inLength: inLength, kernelSize: k, stride: stride)
    cases.append(Case(name: name, flops: 2 * Double(shape.multiplyAdds),
                      spec: "kind=convtranspose1d cin=\(cin) cout=\(cout) k=\(k) stride=\(stride) tin=\(inLength) elu=\(elu ? 1 : 0)") {
    let x = Buffer(randomFloats(shape.inputCount, seed: 4))
    let w = Buffer(randomFloats(shape.weightCount, seed: 5, scale: 1 / Float(cin).squareRoot()))
    let b = Buffer(randomFloats(cout, seed: 6, scale: 0.1))
    let y = Buffer(zeros: shape.outputCount)
    if winograd {
        let packed = packConvTranspose1dWinogradWeights(w.p, bias: b.p, inChannels: cin, outChannels: cout, stride: stride)
        return { convTranspose1dWinogradForward(out: y.p, x: x.p, weights: packed, shape: shape, inputELU: elu ? 1 : nil); _ = (x, w, b, y) }
    }
    let packed = packConvTranspose1dWeights(w.p, bias: b.p, inChannels: cin, outChannels: cout, kernelSize: k, stride: stride)
    return { convTranspose1dForward(out: y.p, x: x.p, packed: packed, shape: shape, inputELU: elu ? 1 : nil); _ = (x, w, b, y) }
    })
}

// Command line: optional name filter (substring), thread counts, input length in samples.
let args = CommandLine.arguments.dropFirst()
let filter = args.first { !$0.hasPrefix("-") }
var threadCounts = [1, 2]
if let t = args.first(where: { $0.hasPrefix("--threads=") }) {
    threadCounts = t.dropFirst("--threads=".count).split(separator: ",").compactMap { Int($0) }
}
/// Input length in samples: 10 s at 24 kHz unless `--length=N` (a multiple of 320, the hop).
let T = args.first(where: { $0.hasPrefix("--length=") }).flatMap { Int($0.dropFirst("--length=".count)) } ?? 240_000
precondition(T % 320 == 0 && T > 0, "--length must be a positive multiple of 320")

// Encoder (EnCodec 24 kHz: n_filters 32, ratios 8,5,4,2 reversed, residual kernel 3 then 1, true_skip False).
addConv("enc.conv0 1->32 k7", 1, 32, 7, outLength: T)
for (c, t) in [(32, T), (64, T / 2), (128, T / 8), (256, T / 40)] {
    addConv("res\(c).conv1 \(c)->\(c / 2) k3", c, c / 2, 3, outLength: t, elu: true)
    addConv("res\(c).conv2 \(c / 2)->\(c) k1", c / 2, c, 1, outLength: t, elu: true)
    addConv("res\(c).skip \(c)->\(c) k1", c, c, 1, outLength: t)
}
for (c, r, t) in [(32, 2, T / 2), (64, 4, T / 8), (128, 5, T / 40), (256, 8, T / 320)] {
    addConv("enc.down \(c)->\(2 * c) k\(2 * r) s\(r)", c, 2 * c, 2 * r, stride: r, outLength: t, elu: true)
    addConv("enc.down \(c)->\(2 * c) k\(2 * r) s\(r) F(2,2)", c, 2 * c, 2 * r, stride: r, outLength: t, elu: true, winograd: true)
}
addConv("enc.final 512->128 k7", 512, 128, 7, outLength: T / 320, elu: true)
// Decoder.
addConv("dec.conv0 128->512 k7", 128, 512, 7, outLength: T / 320)
for (c, r, t) in [(512, 8, T / 320), (256, 5, T / 40), (128, 4, T / 8), (64, 2, T / 2)] {
    addConvTranspose("dec.up \(c)->\(c / 2) k\(2 * r) s\(r)", c, c / 2, 2 * r, stride: r, inLength: t, elu: true)
    addConvTranspose("dec.up \(c)->\(c / 2) k\(2 * r) s\(r) F(2,2)", c, c / 2, 2 * r, stride: r, inLength: t, elu: true, winograd: true)
}
addConv("dec.final 32->1 k7", 32, 1, 7, outLength: T, elu: true)

// LSTM: 2 layers of 512 over the 750 frames.
do {
    let h = 512, steps = T / 320
    // 2 layers × steps × (input projection + recurrence), 2 FLOPs per multiply-add.
    cases.append(Case(name: "lstm 2x512 T\(steps)", flops: 2 * 2 * Double(steps) * 2 * Double(4 * h * h),
                      spec: "kind=lstm hidden=\(h) layers=2 steps=\(steps)") {
    let layers = (0..<2).map { l in
        LSTMLayerWeights(inputSize: h, hiddenSize: h,
                         weightIH: randomFloats(4 * h * h, seed: 10 + UInt64(l), scale: 0.044),
                         weightHH: randomFloats(4 * h * h, seed: 20 + UInt64(l), scale: 0.044),
                         biasIH: randomFloats(4 * h, seed: 30 + UInt64(l), scale: 0.044),
                         biasHH: randomFloats(4 * h, seed: 40 + UInt64(l), scale: 0.044))
    }
    let lstm = LSTM(layers: layers)
    let x = Tensor(shape: [1, h, steps], data: randomFloats(h * steps, seed: 7))
    return { _ = lstm(x) }
    })
}

// Elementwise and normalization at the widest activation.
do {
    let n = 32 * T
    cases.append(Case(name: "elu 32x\(T)", flops: Double(n), spec: "kind=elu channels=32 length=\(T)") {
        let x = Buffer(randomFloats(n, seed: 8, scale: 3)), y = Buffer(zeros: n)
        return { eluForward(out: y.p, x: x.p, count: n); _ = (x, y) }
    })
    cases.append(Case(name: "groupnorm(1) 32x\(T)", flops: 5 * Double(n), spec: "kind=groupnorm channels=32 length=\(T) groups=1") {
        let x = Buffer(randomFloats(n, seed: 8, scale: 3)), y = Buffer(zeros: n)
        let gamma = Buffer(randomFloats(32, seed: 9)), beta = Buffer(randomFloats(32, seed: 11))
        let gshape = GroupNormShape(batch: 1, channels: 32, length: T, groups: 1)
        return { groupNormForward(out: y.p, x: x.p, weight: gamma.p, bias: beta.p, shape: gshape, eps: 1e-5); _ = (x, y, gamma, beta) }
    })
}

if args.contains("--list") {
    for c in cases where filter == nil || c.name.contains(filter!) {
        print("CASE name=\(c.name.replacingOccurrences(of: " ", with: "_")) flops=\(Int(c.flops)) \(c.spec)")
    }
    exit(0)
}

print("bench-nn: EnCodec 24 kHz layer shapes, input \(T) samples; best of several runs")
do {
    let peak = Roofline.fmaPeakGFLOPs()
    print(String(format: "fp32 FMA peak of one core (measured, CPU time): %.1f GFLOP/s", peak))
    print("RESULT name=fp32_peak threads=1 ms=0 cpu_ms=0 gflops=\(peak)")
}
print(String(format: "%-34@ %7@ %9@ %9@ %9@ %9@", "kernel" as NSString, "threads" as NSString, "wall ms" as NSString,
             "cpu ms" as NSString, "GFLOP/s" as NSString, "cpuGF/s" as NSString))
var totals: [Int: Double] = [:]
for c in cases where filter == nil || c.name.contains(filter!) {
    let run = c.setUp()
    for th in threadCounts {
        let (dt, dc) = Parallel.withThreads(th) { timeIt(run) }
        totals[th, default: 0] += dt
        // GFLOP/s from wall time; cpuGF/s from CPU time per thread (CPU time / threads).
        let perThreadCPU = dc / Double(th)
        print(String(format: "%-34@ %7d %9.2f %9.2f %9.1f %9.1f", c.name as NSString, th, dt * 1e3, dc * 1e3,
                     c.flops / dt / 1e9, c.flops / perThreadCPU / 1e9))
        print("RESULT name=\(c.name.replacingOccurrences(of: " ", with: "_")) threads=\(th) ms=\(dt * 1e3) cpu_ms=\(dc * 1e3) gflops=\(c.flops / dt / 1e9)")
    }
}
for th in threadCounts { print(String(format: "total of the cases above, %d thread(s): %.1f ms", th, (totals[th] ?? 0) * 1e3)) }
