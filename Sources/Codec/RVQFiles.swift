// RVQFiles: the files of the `codec rvq` tools — codebooks in safetensors (named as in a model file), vectors
// and codes in `.npy` — checked on load with errors that name the file; a model's quantizer inputs
// (encoder latents) and replacing a model's codebooks. Legend: N vectors, D dimension, K stages.
import Foundation
import ModelFile
import NN
import RVQ

/// Vectors read from an array file: row-major `[count, dimension]` Float32, all finite.
public struct VectorArray: Sendable, Equatable {
    public var values: [Float]
    /// N, the number of vectors.
    public var count: Int
    /// D, the vector dimension.
    public var dimension: Int
    /// The file they came from (for messages).
    public var path: String

    public init(values: [Float], count: Int, dimension: Int, path: String) {
        precondition(values.count == count * dimension, "VectorArray: values must hold count·dimension floats")
        self.values = values; self.count = count; self.dimension = dimension; self.path = path
    }
}

/// Reading and writing residual-quantizer codebooks, vectors and codes.
///
/// **Codebooks** are a safetensors file with one F32 tensor `quantizer.vq.layers.{k}._codebook.embed` of shape
/// `[N_k, D]` per stage k = 0..<K (EnCodec's names, so the same reader takes codebooks out of our model files),
/// and metadata `format = neuralcodec-rvq`, `format_version = 1`, `stages`, `dimension`, `codebook_sizes`.
/// **Vectors** are `.npy` `[N, D]` floating point (float16/32/64, either byte order; float64 rounds to
/// Float32, a finite float64 beyond Float32's range is refused). **Codes** are `.npy` `[N, K]` integers
/// (any integer dtype on read; int16 or int32 on write): row t holds vector t's code at each stage.
public enum RVQFiles {
    /// Metadata `format` value of codebook files.
    public static let formatValue = "neuralcodec-rvq"
    public static let currentVersion = 1

    /// Tensor name of stage k's codebook (EnCodec's state-dict name).
    public static func codebookName(_ stage: Int) -> String { "quantizer.vq.layers.\(stage)._codebook.embed" }

    // MARK: codebooks

    /// Writes `quantizer`'s codebooks (and `metadata`, e.g. how they were trained) to `path`, atomically.
    public static func writeQuantizer(_ quantizer: ResidualVectorQuantizer, to path: String,
                                      metadata: [String: String] = [:]) throws {
        var tensors: [String: TensorData] = [:]
        for (k, book) in quantizer.codebooks.enumerated() {
            tensors[codebookName(k)] = TensorData(shape: [book.size, book.dimension], values: book.vectors)
        }
        var meta = metadata
        meta[ModelArchive.formatKey] = formatValue
        meta[ModelArchive.versionKey] = String(currentVersion)
        meta["stages"] = String(quantizer.stageCount)
        meta["dimension"] = String(quantizer.dimension)
        meta["codebook_sizes"] = quantizer.codebooks.map { String($0.size) }.joined(separator: ",")
        try SafeTensors.write(tensors, metadata: meta, to: path)
    }

    /// Reads codebooks from a codebook file, or the quantizer of a model (any file `ModelArchive.load` reads:
    /// our model files, EnCodec checkpoints). Throws, naming the file and tensor, when there is no
    /// `quantizer.vq.layers.0._codebook.embed`, a codebook is not `[N_k, D]` with one D for all, holds a NaN or
    /// infinity, or (in a codebook file) another tensor is present.
    public static func readQuantizer(path: String) throws -> ResidualVectorQuantizer {
        if URL(fileURLWithPath: path).pathExtension.lowercased() == "safetensors" {
            let file = try SafeTensors.read(path: path)
            if file.metadata[ModelArchive.formatKey] == formatValue {
                try checkFormatVersion(file.metadata, supported: currentVersion...currentVersion, path: path)
                return try quantizer(from: try file.floatTensors(), path: path, strict: true)
            }
        }
        return try quantizer(from: try ModelArchive.load(path: path).tensors, path: path, strict: false)
    }

    /// The codebooks `quantizer.vq.layers.{k}._codebook.embed`, k = 0, 1, … of `tensors`; with `strict`, any
    /// other tensor is an error.
    private static func quantizer(from tensors: [String: TensorData], path: String, strict: Bool) throws
        -> ResidualVectorQuantizer {
        var books: [Codebook] = []
        while let t = tensors[codebookName(books.count)] {
            let name = codebookName(books.count)
            let dimension = books.first?.dimension ?? (t.shape.count == 2 ? t.shape[1] : 0)
            guard t.shape.count == 2, t.shape[0] >= 1, t.shape[1] >= 1, t.shape[1] == dimension else {
                throw ModelFileError.shapeMismatch(path: path, name: name, expected: [t.shape.first ?? 1, max(dimension, 1)],
                                                   found: t.shape)
            }
            if let i = t.values.firstIndex(where: { !$0.isFinite }) {
                throw ModelFileError.valueOutOfRange(path: path, name: name,
                    reason: "non-finite value \(t.values[i]) at code \(i / dimension), component \(i % dimension)")
            }
            books.append(Codebook(size: t.shape[0], dimension: dimension, vectors: t.values))
        }
        guard !books.isEmpty else { throw ModelFileError.missingTensor(path: path, name: codebookName(0), expected: nil) }
        let used = Set((0..<books.count).map(codebookName))
        if strict, let extra = tensors.keys.sorted().first(where: { !used.contains($0) }) {
            throw ModelFileError.unusedTensor(path: path, name: extra, found: tensors[extra]?.shape)
        }
        return try ResidualVectorQuantizer(codebooks: books)
    }

    // MARK: vectors

    /// Reads `[N, D]` vectors from a `.npy` file. Throws, naming the file, for integer or other unsupported
    /// dtypes, a rank other than 2, no vectors (N = 0 or D = 0), or a NaN or infinite value (with its row
    /// and column).
    public static func readVectors(path: String) throws -> VectorArray {
        let t = try Npy.readFloat(path: path, rank: 2)
        let n = t.shape[0], d = t.shape[1]
        guard n > 0, d > 0 else {
            throw ModelFileError.unsupportedArray(path: path, reason: "no vectors: shape \(t.shape)")
        }
        if let i = t.values.firstIndex(where: { !$0.isFinite }) {
            throw ModelFileError.valueOutOfRange(path: path, name: "array",
                reason: "non-finite value \(t.values[i]) at row \(i / d), column \(i % d)")
        }
        return VectorArray(values: t.values, count: n, dimension: d, path: path)
    }

    /// Writes row-major `[N, D]` vectors as a float32 `.npy` file, atomically.
    public static func writeVectors(_ values: [Float], dimension: Int, to path: String) throws {
        precondition(dimension > 0 && values.count % dimension == 0, "writeVectors: values must be [N, D]")
        try Npy.write(TensorData(shape: [values.count / dimension, dimension], values: values), to: path)
    }

    /// Throws, naming both files, when the vectors' dimension is not the codebooks'.
    public static func checkDimension(_ vectors: VectorArray, _ quantizer: ResidualVectorQuantizer,
                                      codebooksPath: String) throws {
        guard vectors.dimension == quantizer.dimension else {
            throw CodecError.invalidInput("\(vectors.path): vectors of dimension \(vectors.dimension), but the codebooks in "
                                          + "\(codebooksPath) have dimension \(quantizer.dimension)")
        }
    }

    /// Throws, naming the file, when a stage of `sizes` has more codes than there are vectors to train on.
    public static func checkEnoughVectors(_ vectors: VectorArray, codebookSizes sizes: [Int]) throws {
        if let (k, size) = sizes.enumerated().first(where: { $0.element > vectors.count }) {
            throw CodecError.invalidInput("\(vectors.path): \(vectors.count) vectors, fewer than the \(size) codes of stage \(k) "
                                          + "(k-means needs at least one vector per code)")
        }
    }

    // MARK: codes

    /// Writes codes as an `[N, K]` `.npy` array of `elementType` (int16 or int32 in practice), atomically;
    /// throws `valueOutOfRange` when a code does not fit the type.
    public static func writeCodes(_ codes: Codes, elementType: IntegerElementType, to path: String) throws {
        let n = codes.count, k = codes.stages
        var rows = [Int64](repeating: 0, count: n * k)
        for s in 0..<k { for t in 0..<n { rows[t * k + s] = Int64(codes[stage: s, position: t]) } }
        try Npy.write(IntTensorData(shape: [n, k], values: rows, elementType: elementType), to: path)
    }

    /// Reads `[N, K]` codes of any integer dtype for `quantizer`: throws, naming the file, for float data, a
    /// rank other than 2, more stages than the quantizer has, or a code outside its stage's codebook.
    public static func readCodes(path: String, for quantizer: ResidualVectorQuantizer) throws -> Codes {
        let t = try Npy.readIntegers(path: path, rank: 2)
        let n = t.shape[0], k = t.shape[1]
        guard k >= 1, k <= quantizer.stageCount else {
            throw ModelFileError.unsupportedArray(path: path,
                reason: "codes of shape \(t.shape) have \(k) stages, the codebooks have \(quantizer.stageCount) (expected [N, 1...\(quantizer.stageCount)])")
        }
        var codes = Codes(stages: k, count: n)
        for i in 0..<n {
            for s in 0..<k {
                let c = t.values[i * k + s], size = quantizer.codebooks[s].size
                guard c >= 0, c < Int64(size) else {
                    throw ModelFileError.valueOutOfRange(path: path, name: "codes",
                        reason: "code \(c) at row \(i), stage \(s) is outside 0..<\(size)")
                }
                codes[stage: s, position: i] = Int32(c)
            }
        }
        return codes
    }

    /// The smallest of int16 / int32 that holds every code of `quantizer`.
    public static func codeElementType(for quantizer: ResidualVectorQuantizer) -> IntegerElementType {
        quantizer.codebooks.allSatisfy { $0.size - 1 <= Int(Int16.max) } ? .int16 : .int32
    }
}

// MARK: - Models

extension CodecModel {
    /// What the quantizer sees when this model encodes `audio` (planar `[channels, T]` at the model's rate):
    /// one `[1, D, frames]` encoder output per segment, after the segment's RMS normalization when the
    /// model normalizes — the same segments and scaling as `encode`, so
    /// `quantizer.encode(channelMajor: latents[s].data)` gives segment s's codes.
    public func quantizerInputs(_ audio: [Float], channels: Int) throws -> [Tensor] {
        var out: [Tensor] = []
        try forEachSegment(audio, channels: channels) { segment in
            out.append(latents(normalizedSegment(segment, channels: channels).audio, channels: channels))
        }
        return out
    }
}

extension ModelArchive {
    /// A copy of this model with `quantizer`'s codebooks (from `source`, named in messages) in place of its
    /// own; EnCodec training buffers are dropped. Throws when the dimension is not the model's latent
    /// dimension, the stage count is not the model's codebook count, or a codebook size is not the model's
    /// `bins` (the token format depends on it).
    public func replacingQuantizer(_ quantizer: ResidualVectorQuantizer, source: String) throws -> ModelArchive {
        let c = config
        guard quantizer.dimension == c.dimension else {
            throw CodecError.invalidInput("\(source): codebooks of dimension \(quantizer.dimension), but \(path) has latents of "
                                          + "dimension \(c.dimension)")
        }
        guard quantizer.stageCount == c.codebooks else {
            throw CodecError.invalidInput("\(source): \(quantizer.stageCount) stages, but \(path) has \(c.codebooks) codebooks "
                                          + "(train with --stages \(c.codebooks))")
        }
        if let (k, book) = quantizer.codebooks.enumerated().first(where: { $0.element.size != c.bins }) {
            throw CodecError.invalidInput("\(source): stage \(k) has \(book.size) codes, but \(path) uses \(c.bins) per codebook "
                                          + "(train with --codebook-size \(c.bins))")
        }
        var out = withoutTrainingBuffers()
        for (k, book) in quantizer.codebooks.enumerated() {
            out.tensors[RVQFiles.codebookName(k)] = TensorData(shape: [book.size, book.dimension], values: book.vectors)
        }
        return out
    }
}
