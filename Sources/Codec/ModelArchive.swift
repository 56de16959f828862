// ModelArchive: a codec's config and tensors, loaded from our safetensors model files or imported from
// EnCodec checkpoints (the original `.th` files and the Hugging Face transformers safetensors naming).
import Foundation
import ModelFile

/// A model as stored: config plus tensors named as in EnCodec's state dict (weight norm folded).
public struct ModelArchive: Sendable {
    public var config: CodecConfig
    public var tensors: [String: TensorData]
    /// Where it was loaded from (for messages).
    public var path: String

    /// Metadata keys of our model files.
    public static let formatKey = "format", formatValue = "neuralcodec"
    public static let versionKey = "format_version", currentVersion = 1
    public static let configKey = "config"

    public init(config: CodecConfig, tensors: [String: TensorData], path: String) {
        self.config = config; self.tensors = tensors; self.path = path
    }

    /// Loads any supported file: our `.safetensors` model files, Hugging Face EnCodec safetensors, or
    /// `torch.save` checkpoints (`.th`, `.pt`, `.pth`, `.bin`). Foreign checkpoints get their config
    /// inferred from tensor shapes (see `inferEncodecConfig`), unless `config` is given.
    public static func load(path: String, config override: CodecConfig? = nil) throws -> ModelArchive {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError.unreadable(path: path, reason: "no such file")
        }
        if isDir.boolValue { throw ModelFileError.unreadable(path: path, reason: "is a directory") }
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        if ext == "safetensors" {
            let file = try SafeTensors.read(path: path)
            if file.metadata[formatKey] == formatValue {
                try checkFormatVersion(file.metadata, supported: currentVersion...currentVersion, path: path)
                guard let json = file.metadata[configKey], let data = json.data(using: .utf8) else {
                    throw ModelFileError.corrupt(path: path, reason: "metadata has no '\(configKey)'")
                }
                let config: CodecConfig
                do { config = try JSONDecoder().decode(CodecConfig.self, from: data) } catch {
                    throw ModelFileError.corrupt(path: path, reason: "invalid config in metadata: \(error)")
                }
                return ModelArchive(config: override ?? config, tensors: try file.floatTensors(), path: path)
            }
            // A Hugging Face transformers EnCodec file.
            let tensors = try foldWeightNorms(try HFEncodecNames.toEncodec(try file.floatTensors(), path: path), path: path)
            return ModelArchive(config: try override ?? inferEncodecConfig(tensors, path: path), tensors: tensors, path: path)
        }
        let checkpoint = try TorchCheckpoint.read(path: path)
        let tensors = try foldWeightNorms(try checkpoint.floatTensors(), path: path)
        return ModelArchive(config: try override ?? inferEncodecConfig(tensors, path: path), tensors: tensors, path: path)
    }

    /// Writes our model file: safetensors with the config (JSON) and format version in the metadata.
    public func write(to path: String) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(config), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: [
            Self.formatKey: Self.formatValue,
            Self.versionKey: String(Self.currentVersion),
            Self.configKey: json,
        ], to: path)
    }

    /// EnCodec's training-only buffers, present in `.th` checkpoints and unused at inference.
    public static func isTrainingBuffer(_ name: String) -> Bool {
        name.hasPrefix("quantizer.") && (name.hasSuffix("._codebook.inited") || name.hasSuffix("._codebook.cluster_size")
                                         || name.hasSuffix("._codebook.embed_avg"))
    }

    /// Drops training buffers (they are not part of our model files).
    public func withoutTrainingBuffers() -> ModelArchive {
        var a = self
        a.tensors = tensors.filter { !Self.isTrainingBuffer($0.key) }
        return a
    }
}

extension CodecModel {
    /// Builds the model an archive describes (or the `parts` of it a command needs), verifying every
    /// tensor of those parts.
    public convenience init(_ archive: ModelArchive, parts: Parts = .all) throws {
        try self.init(config: archive.config, tensors: archive.tensors, path: archive.path,
                      ignorable: ModelArchive.isTrainingBuffer, parts: parts)
    }

    /// Loads a model file or checkpoint (see `ModelArchive.load`).
    public static func load(path: String, parts: Parts = .all) throws -> CodecModel {
        try CodecModel(try ModelArchive.load(path: path), parts: parts)
    }
}

/// Infers an EnCodec config from tensor shapes. What the weights cannot tell (sample rate, causality,
/// normalization, segments) comes from the family: weight-normed models are the causal 24 kHz mono
/// family, time-group-normed models the non-causal 48 kHz stereo family — as EnCodec builds them.
/// Bandwidths are the family's, keeping those the available codebooks can serve.
public func inferEncodecConfig(_ t: [String: TensorData], path: String) throws -> CodecConfig {
    func shape(_ name: String) throws -> [Int] {
        guard let s = t[name]?.shape else { throw ModelFileError.missingTensor(path: path, name: name) }
        return s
    }
    let first = try shape("encoder.model.0.conv.conv.weight") // [filters, channels, K]
    guard first.count == 3 else {
        throw ModelFileError.shapeMismatch(path: path, name: "encoder.model.0.conv.conv.weight", expected: [0, 0, 0], found: first)
    }
    let groupNorm = t["encoder.model.0.conv.norm.weight"] != nil
    var c = groupNorm ? CodecConfig.encodec48kHz : CodecConfig.encodec24kHz
    c.filters = first[0]; c.channels = first[1]; c.kernelSize = first[2]
    // Residual block 1: block.1 is the k×k conv [hidden, filters, K_res]; a shortcut conv unless true skip.
    let res = try shape("encoder.model.1.block.1.conv.conv.weight")
    c.residualKernelSize = res[2]
    // hidden = dim / compress (integer division): take the smallest compress that explains every block.
    let blocks = t.keys.filter { $0.hasPrefix("encoder.model.") && $0.hasSuffix(".block.1.conv.conv.weight") }
        .compactMap { t[$0]?.shape }.map { (dim: $0[1], hidden: $0[0]) }
    c.compress = (1...max(1, c.filters)).first { k in blocks.allSatisfy { $0.dim / k == $0.hidden } } ?? 1
    c.trueSkip = t["encoder.model.1.shortcut.conv.conv.weight"] == nil
    c.residualLayers = 1
    while t["encoder.model.\(1 + c.residualLayers).block.1.conv.conv.weight"] != nil { c.residualLayers += 1 }
    // Per ratio i the encoder holds R residual blocks, an ELU and a strided conv (kernel 2·ratio), from
    // index base_i = 1 + i·(R + 2); then the LSTM (if any), an ELU and the last conv.
    let r = c.residualLayers
    var ratios: [Int] = []
    while true {
        let base = 1 + ratios.count * (r + 2)
        guard t["encoder.model.\(base).block.1.conv.conv.weight"] != nil,
              let s = t["encoder.model.\(base + r + 1).conv.conv.weight"]?.shape, s.count == 3 else { break }
        ratios.append(s[2] / 2)
    }
    guard !ratios.isEmpty else { throw ModelFileError.corrupt(path: path, reason: "cannot find the encoder's downsampling convolutions") }
    c.ratios = ratios.reversed()
    let lstmIndex = 1 + ratios.count * (r + 2)
    var lstm = 0
    while t["encoder.model.\(lstmIndex).lstm.weight_ih_l\(lstm)"] != nil { lstm += 1 }
    c.lstmLayers = lstm
    let last = try shape("encoder.model.\(lstmIndex + (lstm > 0 ? 2 : 1)).conv.conv.weight")
    c.dimension = last[0]; c.lastKernelSize = last[2]
    var books = 0
    while t["quantizer.vq.layers.\(books)._codebook.embed"] != nil { books += 1 }
    guard books > 0 else { throw ModelFileError.missingTensor(path: path, name: "quantizer.vq.layers.0._codebook.embed") }
    c.codebooks = books
    c.bins = try shape("quantizer.vq.layers.0._codebook.embed")[0]
    c.bandwidths = c.bandwidths.filter { ($0 / c.bandwidthPerCodebook).rounded(.down) <= Double(books) }
    if c.bandwidths.isEmpty { c.bandwidths = [Double(books) * c.bandwidthPerCodebook] }
    return c
}

extension JSONEncoder {
    /// Sorted keys, compact: stable bytes for metadata.
    static var sorted: JSONEncoder { let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; return e }
}
