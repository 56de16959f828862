// What a language model needs from the codec besides tokens: a fingerprint naming the exact weights (so
// token files can be matched to their model) and the codebook vectors (to start an LM's embeddings from).
import Codec
import Foundation
import ModelFile

extension ModelArchive {
    /// FNV-1a-64 of the config (JSON, sorted keys) and every tensor (sorted by name: name, shape, the
    /// Float32 values' bytes): the same weights give the same fingerprint whatever the file format
    /// (`.th`, Hugging Face or our safetensors). 16 hex digits.
    public var fingerprint: String {
        var h = FNV1a64()
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        h.add(try! enc.encode(config))
        for name in tensors.keys.sorted() where !ModelArchive.isTrainingBuffer(name) {
            let t = tensors[name]!
            h.add(name.utf8); h.add([0])
            for d in t.shape { h.add(String(d).utf8); h.add([0x2c]) }
            t.values.withUnsafeBytes { h.add($0) }
        }
        return h.hex
    }
}

public enum CodebookExport {
    /// Each codebook's vectors as tensors `codebook.<k>` `[N, D]` (k = 0..<K, residual stage order), with
    /// metadata: model name, fingerprint, codebooks, bins, dimension.
    public static func tensors(_ model: CodecModel) -> [String: TensorData] {
        var out: [String: TensorData] = [:]
        for (k, book) in model.quantizer.codebooks.enumerated() {
            out["codebook.\(k)"] = TensorData(shape: [book.size, book.dimension], values: book.vectors)
        }
        return out
    }

    /// Writes `tensors(model)` as safetensors at `path`.
    public static func write(_ model: CodecModel, fingerprint: String, to path: String) throws {
        let c = model.config
        try SafeTensors.write(tensors(model), metadata: [
            "model": c.name, "model_hash": fingerprint, "codebooks": String(c.codebooks),
            "bins": String(c.bins), "dimension": String(c.dimension),
        ], to: path)
    }
}
