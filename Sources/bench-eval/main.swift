// bench-eval: time of the per-stage report (encode once, decode K prefixes, measure) against decoding the
// input K times and against K separate encode+decode round trips, on a full-size EnCodec 24 kHz model with
// seeded random weights (speed does not depend on the weights) or a given model file.
// Usage: bench-eval [--model PATH] [--seconds 10] [--stages 8] [--repeats 2]. "RESULT" lines are machine-readable.
import AudioIO
import Codec
import Foundation
import Metrics
import ModelFile
import NN

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-eval: \(message)\n".utf8)); exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    let v = args[i + 1]; args.removeSubrange(i...i + 1); return v
}
let modelPath = option("--model")
let seconds = option("--seconds").flatMap(Double.init) ?? 10
let stages = option("--stages").flatMap(Int.init) ?? 8
let repeats = option("--repeats").flatMap(Int.init) ?? 2
guard args.isEmpty else { fail("usage: bench-eval [--model PATH] [--seconds 10] [--stages 8] [--repeats 2]") }

/// SplitMix64 uniform in [-1, 1).
struct RNG { var s: UInt64; mutating func next() -> Float {
    s &+= 0x9E37_79B9_7F4A_7C15; var z = s
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return Float((z ^ (z >> 31)) >> 40) / Float(1 << 23) - 1 } }

/// Full-size EnCodec 24 kHz with seeded weights: uniform ±1/√fan-in (PyTorch's default init scale),
/// codebooks ±0.1.
func randomModel() throws -> CodecModel {
    let config = CodecConfig.encodec24kHz
    var rng = RNG(s: 7)
    var tensors: [String: TensorData] = [:]
    for (name, shape) in try CodecModel.expectedShapes(for: config).sorted(by: { $0.key < $1.key }) {
        let count = shape.reduce(1, *)
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : max(1, shape[0])
        let scale: Float = name.contains("codebook") ? 0.1 : 1 / Float(fanIn).squareRoot()
        tensors[name] = TensorData(shape: shape, values: (0..<count).map { _ in scale * rng.next() })
    }
    return try CodecModel(config: config, tensors: tensors, path: "random encodec_24khz")
}

do {
    let model = try modelPath.map { try CodecModel.load(path: $0) } ?? randomModel()
    let c = model.config
    let n = Int(seconds * Double(c.sampleRate))
    var audio = [Float](repeating: 0, count: n * c.channels)
    var rng = RNG(s: 1)
    for i in 0..<n {
        let t = Double(i) / Double(c.sampleRate)
        let v = Float(0.3 * sin(2 * .pi * 220 * t) * (1 + 0.5 * sin(2 * .pi * 0.5 * t))) + 0.05 * rng.next()
        for ch in 0..<c.channels { audio[ch * n + i] = v }
    }
    let evaluator = try StageEvaluator(model: model, stages: stages)
    print("model \(c.name): \(c.filters) filters, D \(c.dimension); \(String(format: "%.1f", seconds)) s input, \(stages) stages, \(Parallel.threadCount) threads, best of \(repeats)")
    var best = (report: Double.infinity, decodes: Double.infinity, roundtrips: Double.infinity)
    var parts = (encode: 0.0, decode: 0.0, measure: 0.0)
    for _ in 0..<repeats {
        var t0 = now()
        let r = try evaluator.evaluate(audio, channels: c.channels)
        let reportTime = now() - t0
        if reportTime < best.report { best.report = reportTime; parts = (r.encodeSeconds, r.decodeSeconds, r.measureSeconds) }
        // K full decodes (all stages) of one encoding.
        let encoding = try evaluator.encode(audio, channels: c.channels)
        t0 = now()
        for _ in 0..<stages { _ = try evaluator.decode(encoding, stages: stages) }
        best.decodes = min(best.decodes, now() - t0)
        // K separate round trips (encode + decode at 1…K stages), the naive per-stage evaluation.
        t0 = now()
        for k in 1...stages {
            let e = try evaluator.encode(audio, channels: c.channels)
            _ = try evaluator.decode(e, stages: k)
        }
        best.roundtrips = min(best.roundtrips, now() - t0)
    }
    print(String(format: "RESULT report seconds=%.3f (encode %.3f, %d decodes %.3f, metrics %.3f)", best.report,
                 parts.encode, stages, parts.decode, parts.measure))
    print(String(format: "RESULT decodes seconds=%.3f ratio=%.3f", best.decodes, best.report / best.decodes))
    print(String(format: "RESULT roundtrips seconds=%.3f ratio=%.3f", best.roundtrips, best.report / best.roundtrips))
} catch {
    fail("\(error)")
}
