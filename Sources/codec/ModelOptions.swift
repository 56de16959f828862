// Options shared by the commands that use a model.
import ArgumentParser
import Codec
import Foundation

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Model file: a NeuralCodec .safetensors model, an EnCodec .th checkpoint, or a Hugging Face EnCodec .safetensors.", valueName: "path"))
    var model: String?

    /// The model file to use: `--model`, else the default model (not shipped yet: issue 7 puts it here).
    func resolvedPath() throws -> String {
        if let model { return model }
        throw ValidationError("no model given: pass --model <path> (there is no default model yet)")
    }

    /// The model as stored (config and tensors), e.g. for its fingerprint.
    func loadArchive() throws -> ModelArchive { try ModelArchive.load(path: try resolvedPath()) }

    func load() throws -> CodecModel { try CodecModel.load(path: try resolvedPath()) }
}
