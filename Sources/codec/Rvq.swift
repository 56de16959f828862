// `codec rvq train|encode|decode|stats`: residual vector quantization of any vectors in `.npy` files
// (embeddings, features, codec latents), with codebooks in a safetensors file.
import ArgumentParser
import Codec
import Foundation
import ModelFile
import RVQ

struct Rvq: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train residual vector quantizers on [N, D] vectors (.npy), encode, decode and measure them.",
        subcommands: [RvqTrain.self, RvqEncode.self, RvqDecode.self, RvqStats.self])
}

/// Code dtype of `codec rvq encode`.
enum CodeType: String, ExpressibleByArgument, CaseIterable {
    case int16, int32
    var elementType: IntegerElementType { self == .int16 ? .int16 : .int32 }
}

struct CodebooksOption: ParsableArguments {
    @Option(help: ArgumentHelp("Codebooks: a file from `codec rvq train`, or a NeuralCodec model file (its quantizer).",
                               valueName: "path"))
    var codebooks: String

    func load() throws -> ResidualVectorQuantizer { try RVQFiles.readQuantizer(path: codebooks) }
}

/// Throws a validation error unless `value` (an optional option) is ≥ `minimum`.
func requireAtLeast(_ value: Int?, _ minimum: Int, _ name: String) throws {
    if let value, value < minimum { throw ValidationError("\(name) must be ≥ \(minimum) (got \(value))") }
}

/// Seconds since `start`, for summary lines.
func elapsed(_ start: Date) -> Double { Date().timeIntervalSince(start) }

struct RvqTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a residual quantizer: k-means per stage on the residual of the stages before, then refinement.")

    @Argument(help: "Training vectors: .npy [N, D], floating point.")
    var input: String

    @Option(name: .shortAndLong, help: "Output codebooks (.safetensors).")
    var output: String

    @Option(help: "Number of stages K (codebooks).")
    var stages: Int?

    @Option(help: "Codes per stage N (e.g. 1024).")
    var codebookSize: Int?

    @Option(help: ArgumentHelp("Codes per stage, comma-separated (e.g. 1024,512,256), instead of --stages and --codebook-size.",
                               valueName: "n,n,..."))
    var codebookSizes: String?

    @Option(help: "Lloyd iterations of each k-means.")
    var iterations: Int = 25

    @Option(help: "Relative objective change that stops a k-means (0: run every iteration).")
    var tolerance: Double = 1e-4

    @Option(help: "Refinement passes after the stage-wise training (0: none).")
    var refine: Int = 4

    @Option(help: "Progressive-dimension steps of each k-means over principal components (0: plain k-means).")
    var progressive: Int = 4

    @Option(help: "Beam width the training encodes with (1: greedy); use the width you will encode with.")
    var beam: Int = 1

    @Option(help: "Random seed (same seed, same data: same codebooks, whatever the thread count).")
    var seed: UInt64 = 0

    @Flag(help: "Print each stage and refinement pass on standard error (shown anyway on a terminal).")
    var verbose = false

    func validate() throws {
        if codebookSizes == nil && (stages == nil || codebookSize == nil) {
            throw ValidationError("give --stages and --codebook-size, or --codebook-sizes")
        }
        if codebookSizes != nil && (stages != nil || codebookSize != nil) {
            throw ValidationError("--codebook-sizes replaces --stages and --codebook-size; give one or the other")
        }
        try requireAtLeast(stages, 1, "--stages")
        try requireAtLeast(codebookSize, 1, "--codebook-size")
        _ = try sizes()
        try requireAtLeast(iterations, 0, "--iterations")
        try requireAtLeast(refine, 0, "--refine")
        try requireAtLeast(progressive, 0, "--progressive")
        try requireAtLeast(beam, 1, "--beam")
        if !(tolerance >= 0 && tolerance.isFinite) { throw ValidationError("--tolerance must be finite and ≥ 0") }
    }

    func sizes() throws -> [Int] {
        guard let list = codebookSizes else { return [Int](repeating: codebookSize ?? 0, count: stages ?? 0) }
        let parts = list.split(separator: ",", omittingEmptySubsequences: false)
        let values = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, values.count == parts.count, values.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--codebook-sizes must be positive integers separated by commas (got '\(list)')")
        }
        return values
    }

    func run() throws {
        let start = Date()
        let sizes = try sizes()
        let x = try RVQFiles.readVectors(path: input)
        try RVQFiles.checkEnoughVectors(x, codebookSizes: sizes)
        let trainer = ResidualQuantizerTrainer(codebookSizes: sizes, kMeansIterations: iterations, tolerance: tolerance,
                                               seed: seed, progressiveSteps: progressive, refinementPasses: refine,
                                               beamWidth: beam)
        let show = verbose || stderrIsTerminal
        let result = try trainer.train(x.values, dimension: x.dimension) { event in
            if show { FileHandle.standardError.write(Data("  \(event)\n".utf8)) }
        }
        let mse = result.meanSquaredErrors.last ?? 0
        let signal = x.values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.values.count)
        try RVQFiles.writeQuantizer(result.quantizer, to: output, metadata: [
            "trained_on": URL(fileURLWithPath: input).lastPathComponent,
            "vectors": String(x.count),
            "seed": String(seed), "iterations": String(iterations), "tolerance": String(tolerance),
            "refinement_passes": String(result.refinementPasses), "progressive_steps": String(progressive),
            "beam": String(beam), "mean_squared_error": String(mse),
        ])
        let sizeText = Set(sizes).count == 1 ? "\(sizes.count) stages × \(sizes[0])" : "stages of \(sizes.map(String.init).joined(separator: "/"))"
        print(String(format: "trained %@: %@ codes, D %d, on %d vectors: MSE %.6g (SNR %.2f dB, beam %d, %d refinement passes) in %.1f s",
                     output, sizeText, x.dimension, x.count, mse, 10 * log10(signal / max(mse, .leastNonzeroMagnitude)),
                     beam, result.refinementPasses, elapsed(start)))
    }
}

struct RvqEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "Encode [N, D] vectors to codes [N, K] (.npy int16 or int32).")

    @Argument(help: "Vectors: .npy [N, D], floating point.")
    var input: String

    @OptionGroup var codebooks: CodebooksOption

    @Option(name: .shortAndLong, help: "Output codes (.npy [N, K]).")
    var output: String

    @Option(help: "Beam width (1: greedy); beam search is never worse than greedy.")
    var beam: Int = 1

    @Option(help: "Stages to use (default: all).")
    var stages: Int?

    @Option(help: "Code dtype: int16 or int32 (default: int16 when every codebook has at most 32768 codes).")
    var dtype: CodeType?

    func validate() throws {
        try requireAtLeast(beam, 1, "--beam")
        try requireAtLeast(stages, 1, "--stages")
    }

    func run() throws {
        let start = Date()
        let q = try codebooks.load()
        let x = try RVQFiles.readVectors(path: input)
        try RVQFiles.checkDimension(x, q, codebooksPath: codebooks.codebooks)
        let codes = beam == 1 ? try q.encode(x.values, stages: stages) : try q.encode(x.values, beamWidth: beam, stages: stages)
        let type = dtype?.elementType ?? RVQFiles.codeElementType(for: q)
        try RVQFiles.writeCodes(codes, elementType: type, to: output)
        let mse = try meanSquaredError(x.values, q.decode(codes))
        print(String(format: "encoded %@ → %@: %d vectors × %d stages (%@, beam %d), MSE %.6g in %.2f s",
                     input, output, codes.count, codes.stages, type.rawValue, beam, mse, elapsed(start)))
    }
}

struct RvqDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Decode codes [N, K] to vectors [N, D] (.npy float32).")

    @Argument(help: "Codes: .npy [N, K], any integer dtype.")
    var input: String

    @OptionGroup var codebooks: CodebooksOption

    @Option(name: .shortAndLong, help: "Output vectors (.npy float32 [N, D]).")
    var output: String

    @Option(help: "Decode only the first stages (default: all in the file).")
    var stages: Int?

    func validate() throws { try requireAtLeast(stages, 1, "--stages") }

    func run() throws {
        let start = Date()
        let q = try codebooks.load()
        let codes = try RVQFiles.readCodes(path: input, for: q)
        let vectors = try q.decode(codes, stages: stages)
        try RVQFiles.writeVectors(vectors, dimension: q.dimension, to: output)
        print(String(format: "decoded %@ → %@: %d vectors of dimension %d from %d stages in %.2f s",
                     input, output, codes.count, q.dimension, stages ?? codes.stages, elapsed(start)))
    }
}

struct RvqStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Per-stage residual energy, SNR, codebook usage entropy and dead codes on a set of vectors.")

    @Argument(help: "Vectors: .npy [N, D], floating point.")
    var input: String

    @OptionGroup var codebooks: CodebooksOption

    @Option(help: "Codes of these vectors (.npy [N, K]); default: encode them here.")
    var codes: String?

    @Option(help: "Beam width when encoding here (1: greedy).")
    var beam: Int = 1

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    struct Report: Codable {
        var vectors: Int
        var dimension: Int
        var stages: [Stage]
        struct Stage: Codable {
            var stage: Int
            var codebookSize: Int
            var residualEnergy: Double
            var relativeResidualEnergy: Double
            var snrDB: Double?
            var entropyBits: Double
            var perplexity: Double
            var deadCodes: Int
        }
    }

    func validate() throws { try requireAtLeast(beam, 1, "--beam") }

    func run() throws {
        let q = try codebooks.load()
        let x = try RVQFiles.readVectors(path: input)
        try RVQFiles.checkDimension(x, q, codebooksPath: codebooks.codebooks)
        let c: Codes
        if let codes {
            c = try RVQFiles.readCodes(path: codes, for: q)
            guard c.count == x.count else {
                throw CodecError.invalidInput("\(codes): codes for \(c.count) vectors, but \(input) holds \(x.count)")
            }
        } else {
            c = beam == 1 ? try q.encode(x.values) : try q.encode(x.values, beamWidth: beam)
        }
        let stats = try q.statistics(x.values, codes: c)
        let report = Report(vectors: x.count, dimension: x.dimension, stages: stats.map {
            .init(stage: $0.stage, codebookSize: $0.codebookSize, residualEnergy: $0.residualEnergy,
                  relativeResidualEnergy: $0.relativeResidualEnergy,
                  snrDB: $0.snrDecibels.isFinite ? $0.snrDecibels : nil, entropyBits: $0.entropyBits,
                  perplexity: $0.perplexity, deadCodes: $0.deadCodes)
        })
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
            return
        }
        print("\(input): \(x.count) vectors of dimension \(x.dimension), codebooks \(codebooks.codebooks)")
        print("stage   codes   residual energy   relative    SNR dB   entropy bits   perplexity   dead codes")
        for s in report.stages {
            let snr = s.snrDB.map { String(format: "%9.2f", $0) } ?? "      inf"
            print(String(format: "%5d %7d %17.6g %10.4f ", s.stage, s.codebookSize, s.residualEnergy, s.relativeResidualEnergy)
                  + snr + String(format: " %14.3f %12.1f %12d", s.entropyBits, s.perplexity, s.deadCodes))
        }
    }
}
