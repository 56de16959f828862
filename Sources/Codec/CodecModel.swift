// CodecModel: a SEANet encoder, a residual vector quantizer and a SEANet decoder, with EnCodec's
// segment, normalization and overlap-add rules. Mirrors encodec/model.py (EncodecModel.encode,
// _encode_frame, decode, _decode_frame) and encodec/utils.py (_linear_overlap_add).
import Foundation
import ModelFile
import NN
import RVQ

/// The codes of one segment: `codes` is row-major `[K, frames]`; `scale` is the RMS scale of the segment
/// when the model normalizes (the decoder multiplies its output by it).
public struct EncodedSegment: Equatable, Sendable {
    public var codebooks: Int
    public var frames: Int
    /// Row-major `[K, frames]`, each in 0..<bins.
    public var codes: [Int32]
    public var scale: Float?

    public init(codebooks: Int, frames: Int, codes: [Int32], scale: Float?) {
        precondition(codes.count == codebooks * frames, "EncodedSegment: codes must hold K·frames values")
        self.codebooks = codebooks; self.frames = frames; self.codes = codes; self.scale = scale
    }

    /// Codes of stage k (length `frames`).
    public func stage(_ k: Int) -> ArraySlice<Int32> { codes[k * frames ..< (k + 1) * frames] }

    /// The first `n` stages.
    public func prefix(stages n: Int) -> EncodedSegment {
        EncodedSegment(codebooks: n, frames: frames, codes: Array(codes[0 ..< n * frames]), scale: scale)
    }
}

/// An encoded signal: segments of codes plus what is needed to rebuild the audio.
public struct EncodedAudio: Equatable, Sendable {
    /// Name of the model that made the codes (`.ecdc` metadata "m").
    public var modelName: String
    /// Length of the original audio in samples (frames per channel).
    public var length: Int
    /// Codebooks per segment.
    public var codebooks: Int
    public var segments: [EncodedSegment]

    public init(modelName: String, length: Int, codebooks: Int, segments: [EncodedSegment]) {
        self.modelName = modelName; self.length = length; self.codebooks = codebooks; self.segments = segments
    }
}

/// A loaded codec. Thread-compatible: `encode` and `decode` do not mutate the model.
public final class CodecModel: @unchecked Sendable {
    /// Which halves of the network a model is built with: a command that only encodes (or only decodes)
    /// skips the other half's weights, which halves load time and the model's memory.
    public struct Parts: OptionSet, Sendable, CustomStringConvertible {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let encoder = Parts(rawValue: 1)
        public static let decoder = Parts(rawValue: 2)
        public static let all: Parts = [.encoder, .decoder]
        /// "encoder", "decoder" or "encoder and decoder".
        var noun: String { self == .all ? "encoder and decoder" : contains(.encoder) ? "encoder" : "decoder" }
        public var description: String { self == .all ? noun : noun + " only" }
    }

    public let config: CodecConfig
    /// The halves this model was built with (the quantizer is always there).
    public let parts: Parts
    private let encoderNet: SEANetEncoder?
    private let decoderNet: SEANetDecoder?
    public let quantizer: ResidualVectorQuantizer

    /// Throws unless the model was built with `part` (a clear error rather than a crash for callers
    /// that load one half and then ask for the other).
    public func require(_ part: Parts) throws {
        guard parts.isSuperset(of: part) else {
            throw CodecError.invalidInput("the model was loaded \(parts); this needs the \(part.noun)")
        }
    }

    var encoder: SEANetEncoder {
        guard let encoderNet else { preconditionFailure("CodecModel: built without its encoder (\(parts)); load it with parts .encoder") }
        return encoderNet
    }
    var decoder: SEANetDecoder {
        guard let decoderNet else { preconditionFailure("CodecModel: built without its decoder (\(parts)); load it with parts .decoder") }
        return decoderNet
    }

    /// Builds a model from tensors named as in EnCodec's state dict (weight norm already folded).
    /// Every tensor of the built parts must be used and have its expected shape; `ignorable` names may be
    /// left over, and so may the tensors of a part not built (`parts`; they are not checked).
    public convenience init(config: CodecConfig, tensors: [String: TensorData], path: String,
                            ignorable: @escaping (String) -> Bool = { _ in false }, parts: Parts = .all) throws {
        try config.validate()
        let skipped = [(Parts.encoder, "encoder."), (Parts.decoder, "decoder.")].filter { !parts.contains($0.0) }.map(\.1)
        let store = WeightStore(tensors, path: path, ignorable: { name in ignorable(name) || skipped.contains { name.hasPrefix($0) } })
        try self.init(config: config, store: store, parts: parts)
        try store.finish()
    }

    /// Expected tensor names and shapes for `config` (what a model file must hold): the structure is
    /// walked with a store that answers every request with zeros and records its name and shape.
    public static func expectedShapes(for config: CodecConfig) throws -> [String: [Int]] {
        try config.validate()
        let recorder = ShapeRecorder()
        _ = try CodecModel(config: config, store: WeightStore(recording: recorder, path: "expected shapes"))
        return recorder.shapes
    }

    /// Takes every tensor from `store`, in structural order.
    private init(config: CodecConfig, store: WeightStore, parts: Parts = .all) throws {
        precondition(!parts.isEmpty, "CodecModel: needs the encoder, the decoder or both")
        self.config = config
        self.parts = parts
        encoderNet = parts.contains(.encoder) ? try SEANetEncoder(store, config: config) : nil
        decoderNet = parts.contains(.decoder) ? try SEANetDecoder(store, config: config) : nil
        var books: [Codebook] = []
        for k in 0..<config.codebooks {
            let embed = try store.take("quantizer.vq.layers.\(k)._codebook.embed", [config.bins, config.dimension])
            books.append(Codebook(size: config.bins, dimension: config.dimension, vectors: embed.data))
        }
        quantizer = try ResidualVectorQuantizer(codebooks: books)
    }

    // MARK: encoder and decoder

    /// Encoder latents: audio [C, T] (planar, model rate and channels) → [D, frames] as a [1, D, F] tensor
    /// (needs the encoder: a precondition, see `require`).
    public func latents(_ audio: [Float], channels: Int) -> Tensor {
        precondition(channels == config.channels && audio.count % channels == 0)
        return encoder(Tensor(shape: [1, channels, audio.count / channels], data: audio))
    }

    /// A segment as the encoder sees it: divided by its RMS scale when the model normalizes (EnCodec's
    /// `_encode_frame`), with that scale; the audio unchanged and nil otherwise.
    func normalizedSegment(_ audio: [Float], channels: Int) -> (audio: [Float], scale: Float?) {
        guard config.normalize else { return (audio, nil) }
        // scale = 1e-8 + sqrt(mean over time of (mean over channels)²), with torch's float rounding: the
        // channel mean is (Σ_c x_c) / C, the time mean is torch's CPU sum of squares (its vectorized cascade
        // order for a contiguous row) divided by T. Bit-exact scales keep `.ecdc` files byte-identical to
        // the reference's.
        let t = audio.count / channels
        var mono = [Float](repeating: 0, count: t)
        for c in 0..<channels { for i in 0..<t { mono[i] += audio[c * t + i] } }
        if channels > 1 { for i in 0..<t { mono[i] /= Float(channels) } }
        let sumSq = mono.withUnsafeBufferPointer { torchOrderSquaredNorm($0, order: .contiguous) }
        let s = Float(1e-8) + (sumSq / Float(t)).squareRoot()
        return (audio.map { $0 / s }, s)
    }

    /// Codes of one segment at `codebooks` stages, and its encoder latents `[1, D, F]`.
    func encodeSegment(_ audio: [Float], channels: Int, codebooks: Int) throws -> (EncodedSegment, Tensor) {
        let (x, scale) = normalizedSegment(audio, channels: channels)
        let z = latents(x, channels: channels) // [1, D, F]
        let f = z.shape[2]
        // Channel-major [D, F] as the encoder lays it out: the quantizer sums ‖r‖² in torch's order for
        // this layout, which decides near-ties exactly as encodec does.
        let codes = try quantizer.encode(channelMajor: z.data, stages: codebooks)
        return (EncodedSegment(codebooks: codebooks, frames: f, codes: codes.values, scale: scale), z)
    }

    /// The segments `encode` cuts planar audio `[channels, T]` into, in order, each as planar audio: the
    /// whole input, or `segmentLength` samples every `segmentStride` when the model has segments. Returns T.
    @discardableResult
    func forEachSegment(_ audio: [Float], channels: Int, _ body: (_ segment: [Float]) throws -> Void) throws -> Int {
        guard channels == config.channels, audio.count % channels == 0 else {
            throw CodecError.invalidInput("audio has \(channels) channels, the model expects \(config.channels)")
        }
        let length = audio.count / channels
        guard length > 0 else { throw CodecError.invalidInput("cannot encode empty audio") }
        let segLen = config.segmentLength ?? length
        let stride = config.segmentStride ?? length
        var offset = 0
        while offset < length {
            let end = min(length, offset + segLen)
            var seg = [Float](); seg.reserveCapacity((end - offset) * channels)
            for c in 0..<channels { seg.append(contentsOf: audio[c * length + offset ..< c * length + end]) }
            try body(seg)
            offset += stride
        }
        return length
    }

    /// Audio [C, T'] of one segment (T' = frames · hop).
    func decodeSegment(_ segment: EncodedSegment) throws -> [Float] {
        let d = config.dimension, f = segment.frames
        let codes = Codes(stages: segment.codebooks, count: f, values: segment.codes)
        let vectors = try quantizer.decode(codes) // [F, D]
        var z = [Float](repeating: 0, count: d * f)
        for j in 0..<f { for i in 0..<d { z[i * f + j] = vectors[j * d + i] } }
        var y = decoder(Tensor(shape: [1, d, f], data: z)).data
        if let s = segment.scale { for i in 0..<y.count { y[i] *= s } }
        return y
    }

    // MARK: public encode / decode

    /// Encodes planar audio `[channels, T]` at the model's rate: one segment for the whole input, or
    /// segments of `segmentLength` every `segmentStride` samples when the model has segments.
    public func encode(_ audio: [Float], channels: Int, bandwidth: Double?) throws -> EncodedAudio {
        try require(.encoder)
        if let bandwidth, !config.bandwidths.contains(bandwidth) {
            throw CodecError.unsupportedBandwidth(requested: bandwidth, available: config.bandwidths)
        }
        return try encodeSegments(audio, channels: channels, codebooks: config.codebookCount(forBandwidth: bandwidth), latents: nil)
    }

    /// `encode` at `codebooks` stages (1 ... the model's codebooks) that also returns each segment's encoder
    /// latents `[1, D, F]`, for callers that need both (the per-stage evaluator's statistics): the same
    /// segments, scales and codes as `encode`.
    public func encodeWithLatents(_ audio: [Float], channels: Int, codebooks: Int) throws -> (encoded: EncodedAudio, latents: [Tensor]) {
        try require(.encoder)
        guard codebooks >= 1 && codebooks <= config.codebooks else {
            throw CodecError.invalidInput("\(codebooks) codebooks asked, the model has 1...\(config.codebooks)")
        }
        var latents: [Tensor] = []
        let encoded = try encodeSegments(audio, channels: channels, codebooks: codebooks) { latents.append($0) }
        return (encoded, latents)
    }

    /// `encode`'s segments at k stages; `latents` (when given) sees each segment's latents in order.
    private func encodeSegments(_ audio: [Float], channels: Int, codebooks k: Int, latents: ((Tensor) -> Void)?) throws -> EncodedAudio {
        var segments: [EncodedSegment] = []
        let length = try forEachSegment(audio, channels: channels) { seg in
            let (segment, z) = try encodeSegment(seg, channels: channels, codebooks: k)
            segments.append(segment)
            latents?(z)
        }
        return EncodedAudio(modelName: config.name, length: length, codebooks: k, segments: segments)
    }

    /// Decodes to planar audio `[channels, length]` (overlap-adding segments with linear fades, then
    /// trimming to the original length).
    public func decode(_ encoded: EncodedAudio) throws -> [Float] {
        try require(.decoder)
        try validate(encoded)
        let c = config.channels
        let outputs = try encoded.segments.map { try decodeSegment($0) }
        let joined: [Float]
        let joinedLength: Int
        if outputs.count == 1 {
            joined = outputs[0]; joinedLength = outputs[0].count / c
        } else {
            (joined, joinedLength) = linearOverlapAdd(outputs, channels: c, stride: config.segmentStride ?? encoded.length)
        }
        let n = min(encoded.length, joinedLength)
        var out = [Float](repeating: 0, count: c * encoded.length)
        for ch in 0..<c {
            for i in 0..<n { out[ch * encoded.length + i] = joined[ch * joinedLength + i] }
        }
        return out
    }

    /// Checks codes against the model: codebook count, code range, segment layout.
    public func validate(_ encoded: EncodedAudio, path: String = "codes") throws {
        guard encoded.codebooks >= 1, encoded.codebooks <= config.codebooks else {
            throw CodecError.modelMismatch(path: path, reason: "\(encoded.codebooks) codebooks, the model has \(config.codebooks)")
        }
        guard !encoded.segments.isEmpty else { throw CodecError.corruptTokens(path: path, reason: "no segments") }
        for seg in encoded.segments {
            guard seg.codebooks == encoded.codebooks else {
                throw CodecError.corruptTokens(path: path, reason: "segment with \(seg.codebooks) codebooks, expected \(encoded.codebooks)")
            }
            if config.normalize != (seg.scale != nil) {
                throw CodecError.modelMismatch(path: path, reason: config.normalize ? "segments lack the scale this model needs" : "segments carry a scale this model does not use")
            }
            for k in 0..<seg.codebooks {
                for (t, code) in seg.stage(k).enumerated() where code < 0 || Int(code) >= config.bins {
                    throw CodecError.invalidCode(path: path, stage: k, frame: t, code: Int(code), bins: config.bins)
                }
            }
        }
    }
}

/// Overlap-add with triangular weights, normalized by the summed weights (encodec/utils.py
/// `_linear_overlap_add`): weight(t) = 0.5 − |t − 0.5| for t = linspace(0, 1, L + 2)[1 ..< L + 1].
func linearOverlapAdd(_ frames: [[Float]], channels: Int, stride: Int) -> ([Float], Int) {
    let lengths = frames.map { $0.count / channels }
    let frameLength = lengths[0]
    let total = stride * (frames.count - 1) + lengths[lengths.count - 1]
    // torch.linspace(0, 1, n) in float32: step = 1/(n−1); first half start + i·step, second half end − (n−1−i)·step.
    let n = frameLength + 2
    let step = Float(1) / Float(n - 1)
    var weight = [Float](repeating: 0, count: frameLength)
    for j in 0..<frameLength {
        let i = j + 1
        let t: Float = i < n / 2 ? Float(i) * step : 1 - Float(n - 1 - i) * step
        weight[j] = 0.5 - abs(t - 0.5)
    }
    var out = [Float](repeating: 0, count: channels * total)
    var sumWeight = [Float](repeating: 0, count: total)
    var offset = 0
    for (f, frame) in frames.enumerated() {
        let len = lengths[f]
        for c in 0..<channels {
            for i in 0..<len { out[c * total + offset + i] += weight[i] * frame[c * len + i] }
        }
        for i in 0..<len { sumWeight[offset + i] += weight[i] }
        offset += stride
    }
    for c in 0..<channels { for i in 0..<total { out[c * total + i] /= sumWeight[i] } }
    return (out, total)
}

/// Collects the names and shapes a model asks for (used by `expectedShapes`).
final class ShapeRecorder { var shapes: [String: [Int]] = [:] }
