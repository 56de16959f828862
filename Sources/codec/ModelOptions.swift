// Options shared by the commands that use a model.
import ArgumentParser
import Codec
import Foundation

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Model file: a NeuralCodec .safetensors model, an EnCodec .th checkpoint, or a Hugging Face EnCodec .safetensors.", valueName: "path"))
    var model: String

    func load() throws -> CodecModel { try CodecModel.load(path: model) }
}
