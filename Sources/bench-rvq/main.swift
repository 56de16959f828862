// bench-rvq: times RVQ's k-means, residual training and greedy/beam encoding on a raw float32 file, for
// scripts/bench-rvq-faiss.py (which runs faiss on the same file). Outside the test suite.
// Usage: bench-rvq DATA.f32 --dimension D [--clusters 1024] [--iterations 25] [--stages 8] [--beams 1,5]
//        [--progressive 4] [--refine 4] [--seed 1] [--out DIR] [--no-kernel] [--no-kmeans] [--random-init]
//        [--seed-sample N] [--train-iterations N] [--no-bounds]   (prints one JSON object on stdout; --stages 0: k-means only)
import Foundation
import NN
import RVQ

struct Options {
    var data = ""
    var dimension = 128
    var clusters = 1024
    var iterations = 25
    var stages = 8
    var beams = [1, 5]
    var refine = 4
    var seed: UInt64 = 1
    var out: String?
    var kernel = true
    var kMeans = true
    var seedSample: Int?
    var trainIterations: Int?
    var randomInit = false
    var progressive = 4
    var bounds = true
}

func parseOptions() -> Options {
    var o = Options()
    var args = Array(CommandLine.arguments.dropFirst())
    func value(_ name: String) -> String {
        guard !args.isEmpty else { fail("\(name) needs a value") }
        return args.removeFirst()
    }
    while !args.isEmpty {
        let a = args.removeFirst()
        switch a {
        case "--dimension": o.dimension = Int(value(a)) ?? 0
        case "--clusters": o.clusters = Int(value(a)) ?? 0
        case "--iterations": o.iterations = Int(value(a)) ?? 0
        case "--stages": o.stages = Int(value(a)) ?? 0
        case "--beams": o.beams = value(a).split(separator: ",").compactMap { Int($0) }
        case "--refine": o.refine = Int(value(a)) ?? 0
        case "--seed": o.seed = UInt64(value(a)) ?? 1
        case "--out": o.out = value(a)
        case "--no-kernel": o.kernel = false
        case "--no-kmeans": o.kMeans = false
        case "--no-bounds": o.bounds = false
        case "--random-init": o.randomInit = true
        case "--progressive": o.progressive = Int(value(a)) ?? 0
        case "--seed-sample": o.seedSample = Int(value(a))
        case "--train-iterations": o.trainIterations = Int(value(a))
        default:
            if a.hasPrefix("--") { fail("unknown option \(a)") }
            o.data = a
        }
    }
    if o.data.isEmpty { fail("usage: bench-rvq DATA.f32 --dimension D [options]") }
    return o
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-rvq: \(message)\n".utf8))
    exit(1)
}

func log(_ message: String) { FileHandle.standardError.write(Data("[bench-rvq] \(message)\n".utf8)) }

func readFloats(_ path: String) -> [Float] {
    guard let data = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read") }
    guard data.count % 4 == 0 else { fail("\(path): \(data.count) bytes is not a whole number of float32") }
    return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
}

func writeFloats(_ values: [Float], to path: String) {
    let data = values.withUnsafeBufferPointer { Data(buffer: $0) }
    guard FileManager.default.createFile(atPath: path, contents: data) else { fail("\(path): cannot write") }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

let o = parseOptions()
let x = readFloats(o.data)
let D = o.dimension
guard D > 0, x.count % D == 0 else { fail("\(o.data): \(x.count) floats do not form rows of dimension \(D)") }
let T = x.count / D
var report: [String: Any] = ["vectors": T, "dimension": D, "threads": Parallel.threadCount]
log("\(T) vectors of dimension \(D), \(Parallel.threadCount) threads")

do {
    // Search kernel throughput: one greedy search of every vector against a 1024-code codebook.
    if o.kernel {
        let book = Codebook(size: o.clusters, dimension: D, vectors: Array(x[0..<(o.clusters * D)]))
        var codes = [Int32](repeating: 0, count: T)
        let t = seconds { x.withUnsafeBufferPointer { xb in codes.withUnsafeMutableBufferPointer { book.nearest(xb, codes: $0) } } }
        report["search_gflops"] = 2.0 * Double(T) * Double(o.clusters) * Double(D) / t / 1e9
        log("search kernel: \(report["search_gflops"]!) GFLOP/s")
    }

    // k-means
    if o.kMeans {
    var kMeans = KMeans(clusterCount: o.clusters, maxIterations: o.iterations, tolerance: 0, seed: o.seed,
                        initialization: o.randomInit ? .randomPoints : .kMeansPlusPlus,
                        seedingSampleLimit: o.seedSample)
    kMeans.usesBounds = o.bounds
    var km: KMeansResult!
    let kmTime = try seconds { km = try kMeans.fit(x, dimension: D) }
    report["kmeans_seconds"] = kmTime
    report["kmeans_objective"] = km.objective
    report["kmeans_iterations"] = km.iterations
    report["kmeans_history"] = km.history
    log("k-means: \(kmTime) s, objective \(km.objective), \(km.iterations) iterations")
    if let out = o.out { writeFloats(km.centroids, to: out + "/ours_kmeans_centroids.f32") }
    }

    // Residual quantizer training
    guard o.stages > 0 else { throw CancellationError() }
    let trainer = ResidualQuantizerTrainer(stages: o.stages, codebookSize: o.clusters,
                                           kMeansIterations: o.trainIterations ?? o.iterations,
                                           tolerance: 0, seed: o.seed,
                                           initialization: o.randomInit ? .randomPoints : .kMeansPlusPlus,
                                           seedingSampleLimit: o.seedSample, progressiveSteps: o.progressive,
                                           refinementPasses: o.refine)
    var trained: ResidualTrainingResult!
    let trainTime = try seconds {
        trained = try trainer.train(x, dimension: D) { log("  \($0)") }
    }
    report["rvq_train_seconds"] = trainTime
    report["rvq_progressive_steps"] = o.progressive
    report["rvq_refinement_passes"] = trained.refinementPasses
    report["rvq_train_mse"] = trained.meanSquaredErrors
    log("RVQ training: \(trainTime) s, MSE \(trained.meanSquaredErrors)")
    let q = trained.quantizer
    if let out = o.out { writeFloats(q.codebooks.flatMap { $0.vectors }, to: out + "/ours_rvq_codebooks.f32") }

    // Encoding
    var encodes: [[String: Any]] = []
    for beam in o.beams {
        var codes: Codes!
        let t = try seconds { codes = beam == 1 ? try q.encode(x) : try q.encode(x, beamWidth: beam) }
        let mse = try meanSquaredError(x, q.decode(codes))
        encodes.append(["beam": beam, "seconds": t, "vectors_per_second": Double(T) / t, "mse": mse])
        log("encode beam \(beam): \(t) s (\(Double(T) / t) vectors/s), MSE \(mse)")
    }
    report["encode"] = encodes
    let stats = try q.statistics(x)
    report["stage_snr_db"] = stats.map { $0.snrDecibels }
    report["stage_entropy_bits"] = stats.map { $0.entropyBits }
    report["stage_dead_codes"] = stats.map { $0.deadCodes }
} catch is CancellationError {
    // --stages 0: k-means only
} catch {
    fail("\(error)")
}

let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
