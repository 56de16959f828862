// bench-codec: times encode and decode of a model on an audio file, on 1 and 2 threads, with a per-layer
// profile of the encoder and decoder. scripts/bench-codec.py runs PyTorch's encodec on the same weights
// and input beside it. Lines starting with "RESULT" are machine-readable.
// Usage: bench-codec MODEL AUDIO [--bandwidth B] [--repeats N] [--threads 1,2] [--profile] [--floor] [--stream 16384,65536]
// (--stream: also time CodecEncoderStream/CodecDecoderStream with blocks of that many samples, checked
// equal to the whole-file result; --floor: measure this core's FMA peak and read bandwidth and print the
// least time the model's encode and decode work could take on one core, per layer with --profile).
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
let floor = args.contains("--floor"); args.removeAll { $0 == "--floor" }
let streamBlocks = (option("--stream") ?? "").split(separator: ",").compactMap { Int($0) }
guard args.count == 2 else { fail("usage: bench-codec MODEL AUDIO [--bandwidth B] [--repeats N] [--threads 1,2] [--profile] [--floor] [--stream BLOCKS]") }

/// Encodes and decodes through the streams in blocks of `block` samples; returns (codes, audio).
func streamed(_ model: CodecModel, _ audio: [Float], block: Int, bandwidth: Double?) throws -> (EncodedAudio, [Float], Double, Double) {
    let c = model.config.channels, t = audio.count / c
    precondition(c == 1, "--stream: mono models only")
    let t0 = now()
    let enc = try CodecEncoderStream(model: model, bandwidth: bandwidth)
    var chunks: [CodeChunk] = []
    var i = 0
    while i < t { chunks += try enc.push(Array(audio[i ..< min(t, i + block)])); i += block }
    chunks += try enc.finish()
    let te = now() - t0
    let encoded = EncodedAudio(modelName: model.config.name, length: t, codebooks: enc.codebooks, chunks: chunks)
    let t1 = now()
    let dec = try CodecDecoderStream(model: model, length: t)
    var out: [Float] = []
    let frames = max(1, block / model.config.hopLength)
    for seg in encoded.segments {
        var f = 0
        while f < seg.frames {
            let n = min(frames, seg.frames - f)
            var codes: [Int32] = []
            for k in 0..<seg.codebooks { codes += seg.codes[k * seg.frames + f ..< k * seg.frames + f + n] }
            out += try dec.push(CodeChunk(segment: 0, firstFrame: f, codes: EncodedSegment(codebooks: seg.codebooks, frames: n, codes: codes, scale: seg.scale),
                                          endsSegment: f + n == seg.frames))
            f += n
        }
    }
    out += try dec.finish()
    return (encoded, out, te, now() - t1)
}

do {
    AllocatorPolicy.keepFreedMemory()  // as the codec CLI does
    let model = try CodecModel.load(path: args[0])
    let audio = try AudioFile.read(args[1], sampleRate: model.config.sampleRate, channels: model.config.channels)
    let seconds = audio.duration
    print("model \(model.config.name): \(model.config.filters) filters, D \(model.config.dimension), \(model.config.codebooks) codebooks; input \(String(format: "%.2f", seconds)) s")
    for threads in threadList {
        Parallel.threadCount = threads
        var encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: bandwidth) // warm-up
        var bestEnc = Double.infinity, bestDec = Double.infinity, cpuEnc = Double.infinity, cpuDec = Double.infinity
        for _ in 0..<repeats {
            let t0 = now(), c0 = processCPUTime()
            encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: bandwidth)
            bestEnc = min(bestEnc, now() - t0); cpuEnc = min(cpuEnc, processCPUTime() - c0)
            let t1 = now(), c1 = processCPUTime()
            _ = try model.decode(encoded)
            bestDec = min(bestDec, now() - t1); cpuDec = min(cpuDec, processCPUTime() - c1)
        }
        // seconds: wall time (best of the repeats); cpu: CPU seconds of the process (best), robust to other jobs.
        print(String(format: "RESULT encode threads=%d seconds=%.4f rtf=%.5f cpu=%.4f", threads, bestEnc, bestEnc / seconds, cpuEnc))
        print(String(format: "RESULT decode threads=%d seconds=%.4f rtf=%.5f cpu=%.4f", threads, bestDec, bestDec / seconds, cpuDec))
        for block in streamBlocks {
            var se = Double.infinity, sd = Double.infinity
            let whole = try model.decode(encoded)
            for _ in 0..<repeats {
                let (codes, out, te, td) = try streamed(model, audio.samples, block: block, bandwidth: bandwidth)
                guard codes == encoded, out == whole else { fail("streamed result differs from the whole-file result (block \(block))") }
                se = min(se, te); sd = min(sd, td)
            }
            print(String(format: "RESULT stream-encode block=%d threads=%d seconds=%.4f rtf=%.5f", block, threads, se, se / seconds))
            print(String(format: "RESULT stream-decode block=%d threads=%d seconds=%.4f rtf=%.5f", block, threads, sd, sd / seconds))
        }
        let withFloor = floor && threads == 1
        if profile || withFloor {
            let stages = model.profileLayers(audio.samples, channels: audio.channelCount, bandwidth: bandwidth)
            // The roofline of this core: FMA throughput, and read bandwidth over the largest matrix a streamed
            // step re-reads (the LSTM's W_hh; 1 MiB when there is none).
            var floorSeconds: ((LayerTiming) -> Double)? = nil
            if withFloor {
                let workingSet = max(stages.flatMap { $0.1 }.map { $0.work.stepBytes }.max() ?? 0, 1 << 20)
                let peak = Roofline.fmaPeakGFLOPs(), bw = Roofline.readBandwidthGBs(bytes: workingSet)
                let least = { (r: LayerTiming) in r.work.floorSeconds(peakGFLOPs: peak, bandwidthGBs: bw) }
                floorSeconds = least
                // Encode = encoder + quantizer, decode = decoder: the least time of their work on one core.
                let sum = { (names: [String]) in stages.filter { names.contains($0.0) }.flatMap { $0.1 }.reduce(0) { $0 + least($1) } }
                print(String(format: "FLOOR threads=1 encode=%.4f decode=%.4f peak_gflops=%.1f bandwidth_gbs=%.1f working_set_mib=%.1f",
                             sum(["encoder", "quantizer"]), sum(["decoder"]), peak, bw, Double(workingSet) / 1048576))
            }
            if profile {
                for (stage, rows) in stages {
                    let total = rows.reduce(0) { $0 + $1.seconds }
                    print("profile \(stage) threads=\(threads) total \(String(format: "%.1f ms", total * 1000))")
                    for r in rows {
                        var line = String(format: "  %-34@ %8.2f ms CPU %5.1f%%  %7.2f GFLOP/s", r.name as NSString, r.seconds * 1000,
                                          100 * r.seconds / total, r.flops / r.seconds / 1e9)
                        if let f = floorSeconds?(r) { line += String(format: "  floor %6.2f ms (%3.0f%%)", f * 1000, 100 * f / r.seconds) }
                        print(line)
                    }
                }
            }
        }
    }
} catch {
    fail("\(error)")
}
