// Streaming encode and decode: audio in blocks of any size → codes frame by frame, codes → audio, bit for bit
// the whole-file result of CodecModel.encode / decode. Each SEANet layer becomes a stage that keeps the input
// it still needs (conv left context, transposed-conv overlap, LSTM state); models with segments stream by
// segment, with encodec/utils.py `_linear_overlap_add` done incrementally.
import Foundation
import NN
import RVQ

// MARK: public API

/// How a model streams.
public enum StreamingMode: Equatable, Sendable {
    /// Frame by frame, exactly (no segments, no GroupNorm, no whole-input normalization): each layer's state
    /// is carried across blocks; only the end-of-stream padding waits for `finish()`.
    case frames
    /// Segment by segment (the model encodes fixed segments with overlap, e.g. EnCodec 48 kHz: 1 s segments,
    /// 1 % overlap): each segment is coded as soon as it is complete; audio is overlap-added as segments arrive.
    case segments(length: Int, stride: Int)

    /// The mode `config` streams in, or an error saying why it needs its whole input at once.
    public static func of(_ config: CodecConfig, encoding: Bool) throws -> StreamingMode {
        if let length = config.segmentLength, let stride = config.segmentStride {
            return .segments(length: length, stride: stride)
        }
        if config.norm == .timeGroupNorm {
            throw CodecError.invalidInput("model '\(config.name)' cannot stream: GroupNorm over time needs the whole input (and it has no segments)")
        }
        if encoding && config.normalize {
            throw CodecError.invalidInput("model '\(config.name)' cannot stream encode: its normalization scale is the RMS of the whole input (it has no segments)")
        }
        return .frames
    }
}

/// Codes of frames `firstFrame ..< firstFrame + codes.frames` of segment `segment` (codes `[K, frames]`).
/// `codes.scale` is the segment's scale for normalizing models. `endsSegment` marks a segment's last chunk.
public struct CodeChunk: Equatable, Sendable {
    public var segment: Int
    public var firstFrame: Int
    public var codes: EncodedSegment
    public var endsSegment: Bool

    public init(segment: Int, firstFrame: Int, codes: EncodedSegment, endsSegment: Bool) {
        self.segment = segment; self.firstFrame = firstFrame; self.codes = codes; self.endsSegment = endsSegment
    }
}

extension EncodedAudio {
    /// Joins the chunks of a stream (in order) into whole segments.
    public init(modelName: String, length: Int, codebooks: Int, chunks: [CodeChunk]) {
        var segments: [EncodedSegment] = []
        var rows: [[Int32]] = [], frames = 0, scale: Float? = nil
        for chunk in chunks {
            precondition(chunk.segment == segments.count && chunk.firstFrame == frames && chunk.codes.codebooks == codebooks,
                         "EncodedAudio(chunks:): chunk out of order (segment \(chunk.segment), frame \(chunk.firstFrame))")
            if rows.isEmpty { rows = Array(repeating: [], count: codebooks) }
            for k in 0..<codebooks { rows[k] += chunk.codes.stage(k) }
            frames += chunk.codes.frames
            scale = chunk.codes.scale
            if chunk.endsSegment {
                segments.append(EncodedSegment(codebooks: codebooks, frames: frames, codes: rows.flatMap { $0 }, scale: scale))
                rows = []; frames = 0
            }
        }
        precondition(rows.isEmpty, "EncodedAudio(chunks:): the last segment is not finished")
        self.init(modelName: modelName, length: length, codebooks: codebooks, segments: segments)
    }
}

/// Encodes audio arriving in blocks of any size. The codes equal `CodecModel.encode` of the whole input,
/// bit for bit, whatever the block sizes.
///
/// Frame mode: codes come out in groups of 32 frames (the quantizer's ‖r‖² rounding follows torch's summation
/// order, which for the last T mod 32 frames depends on the total frame count T; those frames wait for
/// `finish()`), after the encoder's look-ahead (none for a causal model beyond one hop). Segment mode: one
/// chunk per segment once its last sample has arrived. Memory: the layer states, not the input length.
public final class CodecEncoderStream {
    public let model: CodecModel
    public let mode: StreamingMode
    /// Codebooks per frame (from the bandwidth).
    public let codebooks: Int
    /// Samples (per channel) pushed so far.
    public private(set) var samplesIn = 0
    private var finished = false
    // Frame mode.
    private var chain: StageChain?
    private var latents: PlanarBuffer      // [D, ·] encoder output not yet needed by the quantizer tail
    private var codedFrames = 0
    // Segment mode.
    private var audio: PlanarBuffer        // [C, ·] from sample audio.origin
    private var segmentStart = 0
    private var segmentIndex = 0

    public init(model: CodecModel, bandwidth: Double?) throws {
        try model.require(.encoder)
        let config = model.config
        if let bandwidth, !config.bandwidths.contains(bandwidth) {
            throw CodecError.unsupportedBandwidth(requested: bandwidth, available: config.bandwidths)
        }
        self.model = model
        mode = try StreamingMode.of(config, encoding: true)
        codebooks = config.codebookCount(forBandwidth: bandwidth)
        latents = PlanarBuffer(channels: config.dimension)
        audio = PlanarBuffer(channels: config.channels)
        if mode == .frames { chain = StageChain(model.encoder.layers) }
    }

    /// Pushes planar audio `[channels, n]` (n ≥ 0) at the model's rate; returns the codes now final.
    public func push(_ block: [Float]) throws -> [CodeChunk] {
        precondition(!finished, "CodecEncoderStream.push after finish")
        let c = model.config.channels
        guard block.count % c == 0 else {
            throw CodecError.invalidInput("block of \(block.count) values is not [\(c), n] planar audio")
        }
        let n = block.count / c
        if n == 0 { return [] }
        samplesIn += n
        switch mode {
        case .frames:
            let z = chain!.push(Tensor(shape: [1, c, n], data: block))
            latents.append(z.data, count: z.shape[2])
            return try quantizeGroups(final: false)
        case let .segments(length, stride):
            audio.append(block, count: n)
            var out: [CodeChunk] = []
            while audio.end >= segmentStart + length {
                out.append(try encodeSegment(segmentStart ..< segmentStart + length))
                segmentStart += stride
                audio.drop(before: min(segmentStart, audio.end))
            }
            return out
        }
    }

    /// Ends the input: returns the remaining codes (the end-of-stream padding is applied here).
    public func finish() throws -> [CodeChunk] {
        precondition(!finished, "CodecEncoderStream.finish called twice")
        finished = true
        guard samplesIn > 0 else { throw CodecError.invalidInput("cannot encode empty audio") }
        switch mode {
        case .frames:
            let z = chain!.finish()
            latents.append(z.data, count: z.shape[2])
            return try quantizeGroups(final: true)
        case let .segments(_, stride):
            var out: [CodeChunk] = []
            while segmentStart < samplesIn {
                out.append(try encodeSegment(segmentStart ..< samplesIn))
                segmentStart += stride
            }
            return out
        }
    }

    private func encodeSegment(_ range: Range<Int>) throws -> CodeChunk {
        let seg = audio.columns(range)
        let (codes, _) = try model.encodeSegment(seg, channels: model.config.channels, codebooks: codebooks)
        defer { segmentIndex += 1 }
        return CodeChunk(segment: segmentIndex, firstFrame: 0, codes: codes, endsSegment: true)
    }

    /// Quantizes the latents whose codes no longer depend on the stream's length: whole groups of 32 frames
    /// (rows t < 32·⌊T/32⌋ sum ‖r‖² one way, the rest another, see `TorchSumOrder.column`); at the end, the
    /// tail under the rule for the now known T.
    private func quantizeGroups(final: Bool) throws -> [CodeChunk] {
        let available = latents.end
        var out: [CodeChunk] = []
        let group = 32
        let groupedEnd = available >= 8 ? available / group * group : 0
        if groupedEnd > codedFrames {
            // A [D, 32m] block: every row is below 32·⌊32m/32⌋, the same rule as in the whole input.
            let codes = try model.quantizer.encode(channelMajor: latents.columns(codedFrames ..< groupedEnd), stages: codebooks)
            out.append(chunk(codes.values, frames: groupedEnd - codedFrames, last: final && groupedEnd == available))
            codedFrames = groupedEnd
        }
        if final && available > codedFrames {
            let tail = available - codedFrames
            if available < 8 {
                // Fewer than 8 frames in all: the whole input is this block (codedFrames is 0).
                let codes = try model.quantizer.encode(channelMajor: latents.columns(0 ..< available), stages: codebooks)
                out.append(chunk(codes.values, frames: available, last: true))
            } else {
                // The last T mod 32 rows: any block of 8 ..< 32 rows puts every row under the tail rule; take
                // the tail itself, widened to 8 rows with frames before it when shorter.
                let width = max(8, tail)
                let codes = try model.quantizer.encode(channelMajor: latents.columns(available - width ..< available), stages: codebooks)
                var values: [Int32] = []
                for k in 0..<codebooks { values += codes.values[k * width + width - tail ..< (k + 1) * width] }
                out.append(chunk(values, frames: tail, last: true))
            }
            codedFrames = available
        }
        if final && out.last?.endsSegment != true {
            // Every frame went out before the end (T a multiple of 32): an empty chunk closes the segment.
            out.append(chunk([], frames: 0, last: true))
        }
        latents.drop(before: max(latents.origin, codedFrames - 8))
        return out
    }

    private func chunk(_ values: [Int32], frames: Int, last: Bool) -> CodeChunk {
        let first = codedFrames
        return CodeChunk(segment: 0, firstFrame: first,
                         codes: EncodedSegment(codebooks: codebooks, frames: frames, codes: values, scale: nil), endsSegment: last)
    }
}

/// Decodes codes arriving in chunks of any number of frames (segments in order). The audio equals
/// `CodecModel.decode` of the whole token stream, bit for bit, trimmed to `length` when given (else the
/// decoder's natural frames·hop samples per segment).
///
/// Frame mode: audio follows each chunk after the decoder's left context fills (a few frames). Segment
/// mode: a segment is decoded when its last chunk arrives; overlap-added samples are released up to the next
/// segment's start (the first segment waits for the second: a lone segment is not overlap-added).
public final class CodecDecoderStream {
    public let model: CodecModel
    public let mode: StreamingMode
    /// Samples per channel of the original audio, when known (the `.ecdc` header has it).
    public let length: Int?
    /// Samples per channel returned so far.
    public private(set) var samplesOut = 0
    private var finished = false
    private var codebooks: Int?
    // Frame mode.
    private var chain: StageChain?
    private var scale: Float?
    // Segment mode.
    private var pendingChunks: [CodeChunk] = []
    private var segmentsDone = 0
    private var firstOutput: [Float]?
    private var frameLength = 0
    private var weight: [Float] = []
    private var sum: PlanarBuffer          // Σ weight·frame, from sample sum.origin
    private var sumWeight: PlanarBuffer    // Σ weight (1 row)
    private var overlapEnd = 0             // end of the last added segment

    public init(model: CodecModel, length: Int? = nil) throws {
        try model.require(.decoder)
        if let length, length < 1 { throw CodecError.invalidInput("decoded length must be positive (got \(length))") }
        self.model = model
        self.length = length
        mode = try StreamingMode.of(model.config, encoding: false)
        sum = PlanarBuffer(channels: model.config.channels)
        sumWeight = PlanarBuffer(channels: 1)
        if mode == .frames { chain = StageChain(model.decoder.layers) }
    }

    /// Pushes codes; returns planar audio `[channels, m]` now final.
    public func push(_ chunk: CodeChunk) throws -> [Float] {
        precondition(!finished, "CodecDecoderStream.push after finish")
        try check(chunk)
        switch mode {
        case .frames:
            if chunk.firstFrame == 0 { scale = chunk.codes.scale }
            guard chunk.codes.frames > 0 else { return [] }
            let d = model.config.dimension, f = chunk.codes.frames
            let vectors = try model.quantizer.decode(Codes(stages: chunk.codes.codebooks, count: f, values: chunk.codes.codes))
            var z = [Float](repeating: 0, count: d * f)
            for j in 0..<f { for i in 0..<d { z[i * f + j] = vectors[j * d + i] } }
            return release(chain!.push(Tensor(shape: [1, d, f], data: z)))
        case .segments:
            pendingChunks.append(chunk)
            guard chunk.endsSegment else { return [] }
            let seg = EncodedAudio(modelName: model.config.name, length: 0, codebooks: chunk.codes.codebooks,
                                   chunks: pendingChunks.enumerated().map { var c = $1; c.segment = 0; return c }).segments[0]
            pendingChunks = []
            return try addSegment(try model.decodeSegment(seg))
        }
    }

    /// Ends the codes; returns the rest of the audio.
    public func finish() throws -> [Float] {
        precondition(!finished, "CodecDecoderStream.finish called twice")
        finished = true
        let c = model.config.channels
        switch mode {
        case .frames:
            guard codebooks != nil else { throw CodecError.corruptTokens(path: "stream", reason: "no codes") }
            var out = release(chain!.finish())
            if let length, samplesOut < length {  // as decode: zeros past the decoder's output
                let missing = length - samplesOut
                out = PlanarBuffer.concat(out, [Float](repeating: 0, count: c * missing), channels: c)
                samplesOut = length
            }
            return out
        case .segments:
            guard pendingChunks.isEmpty else { throw CodecError.corruptTokens(path: "stream", reason: "the last segment is incomplete") }
            guard segmentsDone > 0 else { throw CodecError.corruptTokens(path: "stream", reason: "no segments") }
            var out: [Float]
            if let first = firstOutput {
                // One segment: decode does not overlap-add it.
                out = first; firstOutput = nil
                let n = first.count / c
                out = limit(out, count: n)
            } else {
                out = releaseOverlap(upTo: overlapEnd)
            }
            if let length, samplesOut < length {
                out = PlanarBuffer.concat(out, [Float](repeating: 0, count: c * (length - samplesOut)), channels: c)
                samplesOut = length
            }
            return out
        }
    }

    private func check(_ chunk: CodeChunk) throws {
        let k = chunk.codes.codebooks
        if let codebooks, codebooks != k {
            throw CodecError.corruptTokens(path: "stream", reason: "chunk with \(k) codebooks after chunks with \(codebooks)")
        }
        codebooks = k
        let seg = EncodedAudio(modelName: model.config.name, length: 1, codebooks: k, segments: [chunk.codes])
        try model.validate(seg, path: "stream")
    }

    /// Frame mode: scales, then returns `y` up to `length`.
    private func release(_ y: Tensor) -> [Float] {
        var data = y.data
        if let s = scale { for i in 0..<data.count { data[i] *= s } }
        return limit(data, count: y.shape[2])
    }

    /// Keeps the first samples of planar `[C, count]` audio so the total stays within `length`.
    private func limit(_ planar: [Float], count: Int) -> [Float] {
        let keep = length.map { max(0, min(count, $0 - samplesOut)) } ?? count
        samplesOut += keep
        if keep == count { return planar }
        let c = model.config.channels
        var out: [Float] = []; out.reserveCapacity(c * keep)
        for ch in 0..<c { out += planar[ch * count ..< ch * count + keep] }
        return out
    }

    /// Segment mode: overlap-adds segment `segmentsDone` (as `linearOverlapAdd`) and returns what is final.
    private func addSegment(_ y: [Float]) throws -> [Float] {
        guard case let .segments(_, stride) = mode else { return [] }
        let c = model.config.channels
        defer { segmentsDone += 1 }
        if segmentsDone == 0 {
            firstOutput = y
            frameLength = y.count / c
            // torch.linspace(0, 1, L + 2)[1:-1] in float32, weight = 0.5 − |t − 0.5| (as linearOverlapAdd).
            let n = frameLength + 2
            let step = Float(1) / Float(n - 1)
            weight = (0..<frameLength).map { j in
                let i = j + 1
                let t: Float = i < n / 2 ? Float(i) * step : 1 - Float(n - 1 - i) * step
                return 0.5 - abs(t - 0.5)
            }
            return []
        }
        if let first = firstOutput {
            firstOutput = nil
            overlap(first, at: 0)
        }
        overlap(y, at: segmentsDone * stride)
        return releaseOverlap(upTo: (segmentsDone + 1) * stride)
    }

    private func overlap(_ frame: [Float], at offset: Int) {
        let c = model.config.channels
        let len = frame.count / c
        precondition(len <= frameLength, "segment output of \(len) samples is longer than the first (\(frameLength))")
        let end = offset + len
        if end > sum.end {
            let grow = end - sum.end
            sum.append([Float](repeating: 0, count: c * grow), count: grow)
            sumWeight.append([Float](repeating: 0, count: grow), count: grow)
        }
        sum.withRows { rows, ld, origin in
            for ch in 0..<c {
                let row = rows + ch * ld + (offset - origin)
                for i in 0..<len { row[i] += weight[i] * frame[ch * len + i] }
            }
        }
        sumWeight.withRows { rows, _, origin in
            for i in 0..<len { rows[offset - origin + i] += weight[i] }
        }
        overlapEnd = max(overlapEnd, end)
    }

    /// Returns sum / sumWeight for samples up to `end` (and drops them).
    private func releaseOverlap(upTo end: Int) -> [Float] {
        let c = model.config.channels
        let hi = min(end, sum.end), lo = sum.origin
        guard hi > lo else { return [] }
        let s = sum.columns(lo ..< hi), w = sumWeight.columns(lo ..< hi)
        let n = hi - lo
        var out = [Float](repeating: 0, count: c * n)
        for ch in 0..<c { for i in 0..<n { out[ch * n + i] = s[ch * n + i] / w[i] } }
        sum.drop(before: hi); sumWeight.drop(before: hi)
        return limit(out, count: n)
    }
}

// MARK: planar time buffer

/// Planar `[channels, length]` samples covering time `origin ..< origin + length`, appended at the end and
/// dropped from the start.
struct PlanarBuffer {
    let channels: Int
    private(set) var data: [Float] = []
    private(set) var length = 0
    private(set) var origin = 0
    var end: Int { origin + length }

    init(channels: Int) { self.channels = channels }

    /// Appends planar `[channels, count]`.
    mutating func append(_ x: [Float], count: Int) {
        precondition(x.count == channels * count, "PlanarBuffer.append: \(x.count) values for [\(channels), \(count)]")
        guard count > 0 else { return }
        if length == 0 { data = x; length = count; return }
        var out = [Float](); out.reserveCapacity(channels * (length + count))
        for c in 0..<channels {
            out += data[c * length ..< (c + 1) * length]
            out += x[c * count ..< (c + 1) * count]
        }
        data = out; length += count
    }

    /// Forgets samples before time `t` (at most all of them: the buffer then starts at its old end).
    mutating func drop(before t: Int) {
        let k = min(length, t - origin)
        guard k > 0 else { return }
        if k == length { data = []; length = 0; origin += k; return }
        var out = [Float](); out.reserveCapacity(channels * (length - k))
        for c in 0..<channels { out += data[c * length + k ..< (c + 1) * length] }
        data = out; length -= k; origin += k
    }

    /// A copy of times `range`, planar `[channels, range.count]`.
    func columns(_ range: Range<Int>) -> [Float] {
        precondition(range.lowerBound >= origin && range.upperBound <= end, "PlanarBuffer: \(range) outside \(origin)..<\(end)")
        if range.count == length { return data }
        var out = [Float](); out.reserveCapacity(channels * range.count)
        for c in 0..<channels { out += data[c * length + range.lowerBound - origin ..< c * length + range.upperBound - origin] }
        return out
    }

    /// Row pointer (row stride `length`) and origin, for in-place work.
    mutating func withRows(_ body: (UnsafeMutablePointer<Float>, Int, Int) -> Void) {
        let ld = length, o = origin
        data.withUnsafeMutableBufferPointer { body($0.baseAddress!, ld, o) }
    }

    /// Planar `[C, a] ++ [C, b]` along time.
    static func concat(_ a: [Float], _ b: [Float], channels c: Int) -> [Float] {
        if a.isEmpty { return b }
        if b.isEmpty { return a }
        let na = a.count / c, nb = b.count / c
        var out = [Float](); out.reserveCapacity(a.count + b.count)
        for ch in 0..<c { out += a[ch * na ..< (ch + 1) * na]; out += b[ch * nb ..< (ch + 1) * nb] }
        return out
    }
}

// MARK: layer stages

/// One layer run on a stream: `push` takes `[1, Cin, n]` (n ≥ 0) and returns the outputs `[1, Cout, m]` that
/// no later input can change; `finish` returns the rest (after the end-of-stream padding).
protocol StreamStage: AnyObject {
    func push(_ x: Tensor) -> Tensor
    func finish() -> Tensor
}

/// The stages of a SEANet stack in order.
final class StageChain {
    let stages: [StreamStage]

    init(_ layers: [SEANetLayer]) {
        stages = layers.map { layer -> StreamStage in
            switch layer {
            case let .conv(c, elu): return ConvStage(c, inputELU: elu ? 1 : nil)
            case let .convTranspose(c, elu): return ConvTransposeStage(c, inputELU: elu ? 1 : nil)
            case let .residual(r): return ResidualStage(r)
            case let .lstm(l): return LSTMStage(l)
            }
        }
    }

    func push(_ x: Tensor) -> Tensor {
        var y = x
        for s in stages { y = s.push(y) }
        return y
    }

    func finish() -> Tensor {
        var carry: Tensor? = nil
        for s in stages {
            let pushed = carry.map { s.push($0) }
            let rest = s.finish()
            carry = pushed.map { concatTime($0, rest) } ?? rest
        }
        return carry!
    }
}

/// `[1, C, a] ++ [1, C, b]` along time.
func concatTime(_ a: Tensor, _ b: Tensor) -> Tensor {
    let c = a.shape[1]
    precondition(b.shape[1] == c, "concatTime: \(a.shape) and \(b.shape)")
    return Tensor(shape: [1, c, a.shape[2] + b.shape[2]], data: PlanarBuffer.concat(a.data, b.data, channels: c))
}

/// A streamable convolution on a stream. Its input is kept in padded coordinates: the left padding is
/// materialized once enough samples have arrived to reflect them (and enough that the end-of-stream padding
/// cannot hit EnCodec's short-input rule); outputs are computed as soon as their window is complete; the
/// right padding (including the extra padding that makes the last window full) is added by `finish`.
/// An input that ends before the stage starts is convolved whole, exactly as the layer does.
final class ConvStage: StreamStage {
    let layer: StreamableConv1d
    let alpha: Float?
    let padLeft: Int, padRight: Int      // without the extra right padding
    let startAfter: Int                  // samples needed before the left padding is materialized
    private var raw: PlanarBuffer        // input before the start
    private var buffer: PlanarBuffer     // padded input from padded position buffer.origin
    private var started = false
    private var received = 0
    private var emitted = 0

    init(_ layer: StreamableConv1d, inputELU alpha: Float?) {
        precondition(layer.norm == nil, "ConvStage: GroupNorm cannot stream")
        if case let .constant(v) = layer.padMode.nn { precondition(alpha == nil || v == 0, "ConvStage: ELU of a non-zero pad constant") }
        self.layer = layer
        self.alpha = alpha
        let total = ConvPadding.convPaddingTotal(kernelSize: layer.kernelSize, stride: layer.stride, dilation: layer.dilation)
        padRight = layer.causal ? 0 : total / 2
        padLeft = total - padRight
        // The extra padding is < stride; past max(left, right + extra) samples reflect never meets a short input.
        startAfter = max(padLeft, padRight + layer.stride - 1) + 1
        raw = PlanarBuffer(channels: layer.conv.inChannels)
        buffer = PlanarBuffer(channels: layer.conv.inChannels)
    }

    var receptiveField: Int { layer.dilation * (layer.kernelSize - 1) + 1 }

    func push(_ x: Tensor) -> Tensor {
        let n = x.shape[2]
        received += n
        if !started {
            raw.append(x.data, count: n)
            guard received >= startAfter else { return empty }
            start()
        } else {
            buffer.append(x.data, count: n)
        }
        return convolve(upTo: padLeft + received)
    }

    func finish() -> Tensor {
        if !started {
            // Short input: the layer on the whole of it (pad1d's short-input rule included).
            guard received > 0 else { return empty }
            return layer(Tensor(shape: [1, raw.channels, received], data: raw.columns(0 ..< received)), inputELU: alpha)
        }
        let extra = ConvPadding.extraPadding(length: received, kernelSize: layer.kernelSize, stride: layer.stride,
                                             paddingTotal: padLeft + padRight)
        let right = padRight + extra
        if right > 0 {
            // Padded positions padLeft + received + j, j < right, from the kept input tail.
            let c = buffer.channels
            let last = padLeft + received - 1  // padded position of x[T − 1]
            var pad = [Float](repeating: 0, count: c * right)
            let tail = buffer.columns(buffer.origin ..< buffer.end)
            let ld = buffer.length
            for ch in 0..<c {
                for j in 0..<right {
                    let v: Float
                    switch layer.padMode.nn {
                    case .reflect: v = tail[ch * ld + (last - 1 - j) - buffer.origin]        // x[T − 2 − j]
                    case .replicate: v = tail[ch * ld + last - buffer.origin]                // x[T − 1]
                    case let .constant(k): v = k
                    }
                    pad[ch * right + j] = v
                }
            }
            buffer.append(pad, count: right)
        }
        return convolve(upTo: padLeft + received + right)
    }

    private var empty: Tensor { Tensor.zeros([1, layer.conv.outChannels, 0]) }

    private func start() {
        started = true
        let c = raw.channels
        var padded = [Float](repeating: 0, count: c * (padLeft + received))
        raw.columns(0 ..< received).withUnsafeBufferPointer { xp in
            padded.withUnsafeMutableBufferPointer { op in
                pad1dForward(out: op.baseAddress!, x: xp.baseAddress!,
                             shape: Pad1dShape(rows: c, inLength: received, left: padLeft, right: 0), mode: layer.padMode.nn)
            }
        }
        buffer.append(padded, count: padLeft + received)
        raw = PlanarBuffer(channels: c)
    }

    /// Outputs whose windows end at or before padded position `end`.
    private func convolve(upTo end: Int) -> Tensor {
        let s = layer.stride, r = receptiveField
        let total = end >= r ? (end - r) / s + 1 : 0
        let n = total - emitted
        guard n > 0 else { return empty }
        let conv = layer.conv
        let first = emitted * s
        let shape = Conv1dShape(batch: 1, inChannels: conv.inChannels, outChannels: conv.outChannels,
                                inLength: (n - 1) * s + r, kernelSize: conv.kernelSize, stride: s, dilation: conv.dilation)
        var y = Tensor.zeros([1, conv.outChannels, n])
        let ld = buffer.length, origin = buffer.origin
        buffer.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                if let w = layer.winograd {
                    // Outputs paired by their absolute index, as in the whole-file call.
                    conv1dWinogradForward(out: yp.baseAddress!, x: xp.baseAddress! + (first - origin), weights: w, shape: shape,
                                          inputELU: alpha, inputRowStride: ld, firstOutputIndex: emitted)
                } else {
                    conv1dForward(out: yp.baseAddress!, x: xp.baseAddress! + (first - origin), packed: conv.packed, shape: shape,
                                  inputELU: alpha, inputRowStride: ld)
                }
            }
        }
        emitted = total
        // Keep the next window's start, and enough of the input's end for the right padding.
        buffer.drop(before: min(emitted * s, buffer.end - (padRight + s)))
        return y
    }
}

/// A residual block on a stream: the convolution path lags its input by its left context, so the shortcut's
/// outputs wait in a queue and are added (shortcut + path, as the block) when the path catches up. A block
/// whose last conv and shortcut are fused (`ResidualBlock.fused`) queues its input instead and runs the
/// fused 1×1 conv on the path's output and the queued input, as the block does.
final class ResidualStage: StreamStage {
    let block: ResidualBlock
    let convs: [ConvStage]
    let shortcut: StreamableConv1d?
    private var queue: PlanarBuffer

    init(_ block: ResidualBlock) {
        self.block = block
        let pathConvs = block.fused != nil ? Array(block.convs.dropLast()) : block.convs
        convs = pathConvs.map { ConvStage($0, inputELU: block.alpha) }
        shortcut = block.shortcut
        queue = PlanarBuffer(channels: block.convs.last!.conv.outChannels)
    }

    func push(_ x: Tensor) -> Tensor {
        enqueue(x)
        var y = x
        for c in convs { y = c.push(y) }
        return combine(y)
    }

    func finish() -> Tensor {
        var carry: Tensor? = nil
        for c in convs {
            let pushed = carry.map { c.push($0) }
            let rest = c.finish()
            carry = pushed.map { concatTime($0, rest) } ?? rest
        }
        return combine(carry!)
    }

    private func enqueue(_ x: Tensor) {
        guard x.shape[2] > 0 else { return }
        if block.fused != nil { queue.append(x.data, count: x.shape[2]); return }
        let s = shortcut.map { $0(x) } ?? x
        queue.append(s.data, count: s.shape[2])
    }

    private func combine(_ y: Tensor) -> Tensor {
        let n = y.shape[2]
        guard n > 0 else { return block.fused != nil ? Tensor.zeros([1, queue.channels, 0]) : y }
        let s = Tensor(shape: [1, queue.channels, n], data: queue.columns(queue.origin ..< queue.origin + n))
        queue.drop(before: queue.origin + n)
        return block.fused != nil ? block.fusedLast(y, s) : add(s, y)
    }
}

/// EnCodec's SLSTM on a stream: the LSTM state carries over; y = LSTM(x) + x step by step.
final class LSTMStage: StreamStage {
    let layer: StreamableLSTM
    private var state: LSTMState?

    init(_ layer: StreamableLSTM) { self.layer = layer }

    func push(_ x: Tensor) -> Tensor {
        guard x.shape[2] > 0 else { return Tensor.zeros([1, layer.lstm.hiddenSize, 0]) }
        let (y, st) = layer.lstm(x, state: state)
        state = st
        return add(y, x)
    }

    func finish() -> Tensor { Tensor.zeros([1, layer.lstm.hiddenSize, 0]) }
}

/// A transposed convolution on a stream. Full output position p = u·s + r sums inputs u − m (m < ⌈K/s⌉), so
/// after N inputs positions below N·s are final; `finish` adds the positions up to N·s + trimLeft (the rest
/// is trimmed). Each window is computed with the kernel's fused trim over the inputs it needs.
final class ConvTransposeStage: StreamStage {
    let layer: StreamableConvTranspose1d
    let alpha: Float?
    private var buffer: PlanarBuffer   // inputs from buffer.origin
    private var next: Int              // next full-output position to emit

    init(_ layer: StreamableConvTranspose1d, inputELU alpha: Float?) {
        precondition(layer.norm == nil, "ConvTransposeStage: GroupNorm cannot stream")
        self.layer = layer
        self.alpha = alpha
        buffer = PlanarBuffer(channels: layer.convtr.inChannels)
        next = layer.trim.left
    }

    func push(_ x: Tensor) -> Tensor {
        buffer.append(x.data, count: x.shape[2])
        return emit(upTo: buffer.end * layer.convtr.stride)
    }

    func finish() -> Tensor {
        guard buffer.end > 0 else { return empty }
        return emit(upTo: buffer.end * layer.convtr.stride + layer.trim.left)
    }

    private var empty: Tensor { Tensor.zeros([1, layer.convtr.outChannels, 0]) }

    private func emit(upTo hi: Int) -> Tensor {
        let lo = next
        guard hi > lo else { return empty }
        let ct = layer.convtr, s = ct.stride
        let taps = (ct.kernelSize + s - 1) / s
        let u0 = max(0, lo / s - (taps - 1))
        precondition(u0 >= buffer.origin, "ConvTransposeStage: input \(u0) already dropped")
        let n = buffer.end - u0
        let full = (n - 1) * s + ct.kernelSize
        let shape = ConvTranspose1dShape(batch: 1, inChannels: ct.inChannels, outChannels: ct.outChannels, inLength: n,
                                         kernelSize: ct.kernelSize, stride: s, trimLeft: lo - u0 * s,
                                         trimRight: u0 * s + full - hi)
        var y = Tensor.zeros([1, ct.outChannels, hi - lo])
        let ld = buffer.length, origin = buffer.origin
        buffer.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                if let w = layer.winograd {
                    // Input steps paired by their absolute index, as in the whole-file call.
                    convTranspose1dWinogradForward(out: yp.baseAddress!, x: xp.baseAddress! + (u0 - origin), weights: w, shape: shape,
                                                   inputELU: alpha, inputRowStride: ld, firstInputIndex: u0)
                } else {
                    convTranspose1dForward(out: yp.baseAddress!, x: xp.baseAddress! + (u0 - origin), packed: ct.packed, shape: shape,
                                           inputELU: alpha, inputRowStride: ld)
                }
            }
        }
        next = hi
        buffer.drop(before: max(buffer.origin, hi / s - (taps - 1)))
        return y
    }
}
