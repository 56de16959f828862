// bench-codec: times encode and decode of a model on an audio file, on 1 and 2 threads, with a per-layer
// profile of the encoder and decoder. scripts/bench-codec.py runs PyTorch's encodec on the same weights
// and input beside it. Lines starting with "RESULT" are machine-readable.
// Usage: bench-codec MODEL AUDIO [--bandwidth B] [--repeats N] [--threads 1,2] [--profile]
import AudioIO
import Codec
import Foundation
import NN

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-codec: \(message)\n".utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    let v = args[i + 1]; args.removeSubrange(i...i + 1); return v
}
let bandwidth = option("--bandwidth").flatMap(Double.init)
let repeats = option("--repeats").flatMap(Int.init) ?? 3
let threadList = (option("--threads") ?? "1,2").split(separator: ",").compactMap { Int($0) }
let profile = args.contains("--profile"); args.removeAll { $0 == "--profile" }
guard args.count == 2 else { fail("usage: bench-codec MODEL AUDIO [--bandwidth B] [--repeats N] [--threads 1,2] [--profile]") }

do {
    let model = try CodecModel.load(path: args[0])
    let audio = try AudioFile.read(args[1], sampleRate: model.config.sampleRate, channels: model.config.channels)
    let seconds = audio.duration
    print("model \(model.config.name): \(model.config.filters) filters, D \(model.config.dimension), \(model.config.codebooks) codebooks; input \(String(format: "%.2f", seconds)) s")
    for threads in threadList {
        Parallel.threadCount = threads
        var encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: bandwidth) // warm-up
        var bestEnc = Double.infinity, bestDec = Double.infinity
        for _ in 0..<repeats {
            let t0 = now()
            encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: bandwidth)
            bestEnc = min(bestEnc, now() - t0)
            let t1 = now()
            _ = try model.decode(encoded)
            bestDec = min(bestDec, now() - t1)
        }
        print(String(format: "RESULT encode threads=%d seconds=%.4f rtf=%.5f", threads, bestEnc, bestEnc / seconds))
        print(String(format: "RESULT decode threads=%d seconds=%.4f rtf=%.5f", threads, bestDec, bestDec / seconds))
        if profile {
            for (stage, rows) in model.profileLayers(audio.samples, channels: audio.channelCount, bandwidth: bandwidth) {
                let total = rows.reduce(0) { $0 + $1.seconds }
                print("profile \(stage) threads=\(threads) total \(String(format: "%.1f ms", total * 1000))")
                for r in rows {
                    print(String(format: "  %-34@ %8.2f ms %5.1f%%  %7.2f GFLOP/s", r.name as NSString, r.seconds * 1000,
                                 100 * r.seconds / total, r.flops / r.seconds / 1e9))
                }
            }
        }
    }
} catch {
    fail("\(error)")
}
