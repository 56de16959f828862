// bench-dsp: STFT throughput (frames per second) of the DSP module on a long signal, per thread count.
// Run by scripts/bench-stft.py, which times numpy/scipy/torch on the same signal in the same run.
import DSP
import Foundation

let usage = """
usage: bench-dsp [--input FILE.f32 | --seconds S] [--rate HZ] [--n-fft N] [--hop H] [--threads 1,2]
                 [--repeats R] [--inverse] [--json]
Times STFT.forward (complex [bins, frames] output, torch.stft conventions: periodic Hann, reflect
centering) on a mono signal: raw little-endian float32 from --input, or S seconds of seeded noise.
Reports the best of R runs after one warm-up run (which also plans FFTW with FFTW_MEASURE).
"""

var inputPath: String?
var seconds = 300.0, rate = 24000.0, fftSize = 1024, hop = 256, repeats = 5
var threadCounts = [1, 2]
var json = false, inverse = false
var args = CommandLine.arguments.dropFirst().makeIterator()
func value(_ flag: String) -> String {
    guard let v = args.next() else { FileHandle.standardError.write("bench-dsp: \(flag) needs a value\n".data(using: .utf8)!); exit(2) }
    return v
}
func number<T: LosslessStringConvertible>(_ flag: String) -> T {
    let v = value(flag)
    guard let n = T(v) else { FileHandle.standardError.write("bench-dsp: \(flag) \(v) is not a number\n".data(using: .utf8)!); exit(2) }
    return n
}
while let a = args.next() {
    switch a {
    case "--input": inputPath = value(a)
    case "--seconds": seconds = number(a)
    case "--rate": rate = number(a)
    case "--n-fft": fftSize = number(a)
    case "--hop": hop = number(a)
    case "--repeats": repeats = number(a)
    case "--threads": threadCounts = value(a).split(separator: ",").compactMap { Int($0) }
    case "--json": json = true
    case "--inverse": inverse = true
    case "-h", "--help": print(usage); exit(0)
    default: FileHandle.standardError.write("bench-dsp: unknown argument \(a)\n\(usage)\n".data(using: .utf8)!); exit(2)
    }
}

var signal: [Float]
if let inputPath {
    guard let data = FileManager.default.contents(atPath: inputPath), data.count % 4 == 0, !data.isEmpty else {
        FileHandle.standardError.write("bench-dsp: \(inputPath): cannot read raw float32 samples\n".data(using: .utf8)!); exit(1)
    }
    signal = data.withUnsafeBytes { raw in
        (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
    }
} else {
    var state: UInt64 = 42
    signal = (0..<Int(seconds * rate)).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int32(truncatingIfNeeded: state >> 32)) / Float(Int32.max) * 0.5
    }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
/// CPU time of the whole process (all threads), robust to other processes sharing the cores.
func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

do {
    let planStart = now()
    let stft = try STFT(fftSize: fftSize, hopLength: hop)
    let planSeconds = now() - planStart
    let frames = try stft.frameCount(signalLength: signal.count)
    if !json {
        print("signal: \(signal.count) samples (\(String(format: "%.0f", Double(signal.count) / rate)) s at \(Int(rate)) Hz), "
              + "n_fft \(fftSize), hop \(hop), \(frames) frames; FFTW planning \(String(format: "%.3f", planSeconds)) s")
    }
    for threads in threadCounts {
        try DSPThreads.withThreads(threads) {
            var spec = try stft.forward(signal)  // warm-up
            var best = Double.infinity, bestCPU = Double.infinity
            for _ in 0..<max(1, repeats) {
                let t0 = now(), c0 = cpuNow()
                spec = try stft.forward(signal)
                best = min(best, now() - t0); bestCPU = min(bestCPU, cpuNow() - c0)
            }
            var bestInverse = Double.nan, bestInverseCPU = Double.nan
            if inverse {
                _ = try stft.inverse(spec, length: signal.count)
                bestInverse = .infinity; bestInverseCPU = .infinity
                for _ in 0..<max(1, repeats) {
                    let t0 = now(), c0 = cpuNow()
                    _ = try stft.inverse(spec, length: signal.count)
                    bestInverse = min(bestInverse, now() - t0); bestInverseCPU = min(bestInverseCPU, cpuNow() - c0)
                }
            }
            if json {
                var line = "{\"impl\": \"NeuralCodec DSP STFT\", \"threads\": \(threads), \"frames\": \(frames), "
                    + "\"seconds\": \(best), \"cpu_seconds\": \(bestCPU), \"frames_per_second\": \(Double(frames) / best), "
                    + "\"planning_seconds\": \(planSeconds)"
                if inverse {
                    line += ", \"inverse_seconds\": \(bestInverse), \"inverse_cpu_seconds\": \(bestInverseCPU), "
                        + "\"inverse_frames_per_second\": \(Double(frames) / bestInverse)"
                }
                print(line + "}")
            } else {
                var line = "threads \(threads): forward \(String(format: "%.4f", best)) s (CPU \(String(format: "%.4f", bestCPU)) s), "
                    + "\(String(format: "%.0f", Double(frames) / best)) frames/s"
                if inverse {
                    line += "; inverse \(String(format: "%.4f", bestInverse)) s (CPU \(String(format: "%.4f", bestInverseCPU)) s), "
                        + "\(String(format: "%.0f", Double(frames) / bestInverse)) frames/s"
                }
                print(line)
            }
        }
    }
} catch {
    FileHandle.standardError.write("bench-dsp: \(error)\n".data(using: .utf8)!)
    exit(1)
}
