// `codec model set-quantizer`: put codebooks trained with `codec rvq train` into a model file.
import ArgumentParser
import Codec
import Foundation

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Edit model files.", subcommands: [SetQuantizer.self])
}

struct SetQuantizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-quantizer",
        abstract: "Write a copy of a model with new quantizer codebooks (same dimension, stage count and codebook size).")

    @Argument(help: "Model: a NeuralCodec .safetensors model or an EnCodec checkpoint.")
    var model: String

    @Argument(help: "Codebooks from `codec rvq train` (.safetensors).")
    var codebooks: String

    @Option(name: .shortAndLong, help: "Output model file (.safetensors).")
    var output: String

    func run() throws {
        let archive = try ModelArchive.load(path: model)
        let quantizer = try RVQFiles.readQuantizer(path: codebooks)
        let updated = try archive.replacingQuantizer(quantizer, source: codebooks)
        _ = try CodecModel(updated) // verify every tensor before writing anything
        try updated.write(to: output)
        let c = updated.config
        print("wrote \(output): \(c.name) with the \(c.codebooks) × \(c.bins) codebooks of \(codebooks) (D \(c.dimension))")
    }
}
