// Options shared by the commands that use a model, and where the default model is found.
import ArgumentParser
import Codec
import Foundation

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Model file: a NeuralCodec .safetensors model, an EnCodec .th checkpoint, or a Hugging Face EnCodec .safetensors. Default: the shipped model (\(DefaultModel.fileName); NEURALCODEC_MODEL overrides).", valueName: "path"))
    var model: String?

    /// The model file to use: `--model`, else the default model.
    func resolvedPath() throws -> String { try DefaultModel.path(given: model) }

    /// The model as stored (config and tensors), e.g. for its fingerprint.
    func loadArchive() throws -> ModelArchive { try ModelArchive.load(path: try resolvedPath()) }

    /// The model, built with the `parts` the command uses (an encode-only command skips the decoder).
    func load(parts: CodecModel.Parts = .all) throws -> CodecModel { try CodecModel.load(path: try resolvedPath(), parts: parts) }
}

/// The default model: NeuralCodec's own 24 kHz codec, trained by `codec train` and shipped in
/// `Resources/models/neuralcodec-24k/` (see its README for the training command, log and quality).
///
/// Looked up in this order, first existing file wins:
/// 1. `$NEURALCODEC_MODEL` (an error if set but missing: a typo must not silently pick another model);
/// 2. next to the executable: `<bin>/neuralcodec-24k.safetensors`, then `<bin>/../share/neuralcodec/`;
/// 3. the source tree the binary was built from: `Resources/models/neuralcodec-24k/` (so `swift run` and
///    `.build/release/codec` work in a clone without installing anything).
enum DefaultModel {
    static let fileName = "neuralcodec-24k.safetensors"

    /// Candidate paths, in lookup order (without the environment override).
    static func candidates() -> [String] {
        var paths: [String] = []
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        paths.append(exe.appendingPathComponent(fileName).path)
        paths.append(exe.deletingLastPathComponent().appendingPathComponent("share/neuralcodec/\(fileName)").path)
        // This file is Sources/codec/ModelOptions.swift: the package root is two levels up.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        paths.append(root.appendingPathComponent("Resources/models/neuralcodec-24k/\(fileName)").path)
        return paths
    }

    /// `given` (a `--model` value) if there is one, else the default model's path.
    static func path(given: String? = nil) throws -> String {
        if let given { return given }
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["NEURALCODEC_MODEL"], !env.isEmpty {
            guard fm.fileExists(atPath: env) else {
                throw ValidationError("NEURALCODEC_MODEL=\(env): no such file (unset it to use the shipped model, or pass --model)")
            }
            return env
        }
        let paths = candidates()
        if let found = paths.first(where: { fm.fileExists(atPath: $0) }) { return found }
        throw ValidationError("no --model given and the default model \(fileName) was not found; looked in:\n  "
            + paths.joined(separator: "\n  ") + "\npass --model <path> or set NEURALCODEC_MODEL")
    }
}
