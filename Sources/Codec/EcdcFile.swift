// EcdcFile: the `.ecdc` token file of EnCodec without its language model, read and written byte for byte.
// Mirrors encodec/compress.py (compress_to_file, decompress_from_file, use_lm=False) and encodec/binary.py
// (write_ecdc_header, read_ecdc_header, BitPacker, BitUnpacker). Foundation only.
import Foundation

/// What a reader needs to know about the model to split an `.ecdc` stream into segments: the file itself
/// stores only the model name, the audio length and the number of codebooks.
///
/// Segment rule (encodec/model.py `EncodecModel.encode`, `segment_length`, `segment_stride`): segments start
/// at offsets 0, stride, 2·stride, … < audioLength and are `min(segmentLength, audioLength − offset)`
/// samples long; without segments (`segmentLength == nil`) the whole input is one segment. A segment of
/// `n` samples holds `ceil(n / hopLength)` frames, the encoder's output length.
public struct EcdcLayout: Equatable, Sendable {
    /// The name written in the header (`"m"`), e.g. `encodec_24khz`.
    public var modelName: String
    /// Samples per second (24000, 48000).
    public var sampleRate: Int
    /// Samples per frame: the product of the encoder's strides (320 for EnCodec).
    public var hopLength: Int
    /// Samples per segment (`int(segment · sampleRate)`, 48000 for the 48 kHz model), or nil for one
    /// segment covering the whole input.
    public var segmentLength: Int?
    /// Samples between segment starts (`max(1, int((1 − overlap) · segmentLength))`, 47520 at 48 kHz).
    public var segmentStride: Int?
    /// Whether each segment starts with its float32 scale (models with `normalize=True`).
    public var normalize: Bool
    /// Bits per code: log2 of the codebook size (10 for 1024 codes).
    public var bitsPerCode: Int

    public init(modelName: String, sampleRate: Int, hopLength: Int, segmentLength: Int?, segmentStride: Int?,
                normalize: Bool, bitsPerCode: Int = 10) {
        precondition(hopLength > 0 && sampleRate > 0, "EcdcLayout: hop length and sample rate must be positive")
        precondition((segmentLength == nil) == (segmentStride == nil), "EcdcLayout: segment length and stride go together")
        precondition((segmentLength ?? 1) > 0 && (segmentStride ?? 1) > 0, "EcdcLayout: segments must be positive")
        precondition((1...24).contains(bitsPerCode), "EcdcLayout: bits per code must be in 1...24")
        self.modelName = modelName
        self.sampleRate = sampleRate
        self.hopLength = hopLength
        self.segmentLength = segmentLength
        self.segmentStride = segmentStride
        self.normalize = normalize
        self.bitsPerCode = bitsPerCode
    }

    /// EnCodec 24 kHz (encodec/model.py `encodec_model_24khz`): no segments, no scale.
    public static let encodec24kHz = EcdcLayout(modelName: "encodec_24khz", sampleRate: 24_000, hopLength: 320,
                                                segmentLength: nil, segmentStride: nil, normalize: false)
    /// EnCodec 48 kHz (`encodec_model_48khz`): 1 s segments, 1 % overlap (stride int(0.99 · 48000) = 47520),
    /// one scale per segment.
    public static let encodec48kHz = EcdcLayout(modelName: "encodec_48khz", sampleRate: 48_000, hopLength: 320,
                                                segmentLength: 48_000, segmentStride: 47_520, normalize: true)

    /// One segment of the input: where it starts, how many samples and frames it has.
    public struct Segment: Equatable, Sendable {
        public var offset: Int
        public var length: Int
        public var frames: Int
    }

    /// ceil(a / b) for a ≥ 0, b > 0, without overflow near Int.max.
    static func ceilDiv(_ a: Int, _ b: Int) -> Int { a / b + (a % b == 0 ? 0 : 1) }

    /// The segments of an input of `audioLength` ≥ 1 samples, in order.
    public func segments(audioLength: Int) -> [Segment] {
        precondition(audioLength > 0, "EcdcLayout.segments: audio length must be positive")
        let length = segmentLength ?? audioLength
        let stride = segmentStride ?? audioLength
        return Swift.stride(from: 0, to: audioLength, by: stride).map { offset in
            let n = min(length, audioLength - offset)
            return Segment(offset: offset, length: n, frames: EcdcLayout.ceilDiv(n, hopLength))
        }
    }
}

/// An `.ecdc` file: the header metadata and, per segment, the codes `[K][T]` and the scale.
///
/// Layout (all integers big-endian):
/// ```
/// "ECDC"  u8 version = 0  u32 n  n bytes of JSON: {"m": name, "al": audio length, "nc": K, "lm": false}
/// per segment: [f32 scale if the model normalizes]  codes packed time-major (t outer, k inner),
///              `bitsPerCode` bits each, least significant bit first, the last partial byte zero-padded
/// ```
/// The JSON is byte-identical to Python's `json.dumps` (key order m, al, nc, lm; ", " and ": " separators;
/// non-ASCII escaped as lowercase `\uXXXX`). Files compressed with the language model (`"lm": true`,
/// arithmetic-coded) are refused. Stricter than the reference in two ways: bytes after the last segment
/// are an error, and the frame count of a segment is the exact `ceil(length / hop)` (the reference reader
/// computes `ceil(length / sampleRate · frameRate)` in floating point, which is one too many for some
/// lengths, e.g. 6720 samples at 24 kHz, so that it cannot read the files its own writer made).
public struct EcdcFile: Equatable, Sendable {
    /// One segment's codes and scale.
    public struct Frame: Equatable, Sendable {
        /// `codes[k][t]`: codebook k, frame t; each in 0..<2^bitsPerCode.
        public var codes: [[Int]]
        /// The segment's scale (1e-8 + RMS of the mono mix), present exactly when the model normalizes.
        public var scale: Float?
        public init(codes: [[Int]], scale: Float?) {
            self.codes = codes
            self.scale = scale
        }
    }

    /// The header fields alone (`EcdcFile.readHeader`).
    public struct Header: Equatable, Sendable {
        public var modelName: String
        public var audioLength: Int
        public var numCodebooks: Int
        public var useLM: Bool
        /// Byte offset of the first segment's data.
        public var payloadOffset: Int
    }

    public static let magic: [UInt8] = Array("ECDC".utf8)
    public static let version: UInt8 = 0

    public var modelName: String
    /// Samples per channel of the encoded audio (`"al"`).
    public var audioLength: Int
    /// Codebooks per frame, K (`"nc"`).
    public var numCodebooks: Int
    /// Always false for files this type reads or writes (kept to mirror the header).
    public var useLM: Bool
    /// One entry per segment, in order.
    public var frames: [Frame]

    public init(modelName: String, audioLength: Int, numCodebooks: Int, useLM: Bool = false, frames: [Frame]) {
        self.modelName = modelName
        self.audioLength = audioLength
        self.numCodebooks = numCodebooks
        self.useLM = useLM
        self.frames = frames
    }

    // MARK: Reading

    /// Reads only the header of `path` (also of files made with the language model, which `read` refuses).
    public static func readHeader(path: String) throws -> Header {
        try parseHeader([UInt8](try readBytes(path)), path: path)
    }

    /// Reads `path`, whose header must name `layout.modelName`.
    public static func read(path: String, layout: EcdcLayout) throws -> EcdcFile {
        try parse(try readBytes(path), path: path, layout: layout)
    }

    /// Reads `path` with the layout among `layouts` whose model name the header gives.
    public static func read(path: String, layouts: [EcdcLayout]) throws -> EcdcFile {
        let bytes = try readBytes(path)
        let header = try parseHeader([UInt8](bytes), path: path)
        guard let layout = layouts.first(where: { $0.modelName == header.modelName }) else {
            throw CodecError.modelMismatch(path: path, reason: "written by model '\(header.modelName)'; known models: "
                + layouts.map { "'\($0.modelName)'" }.joined(separator: ", "))
        }
        return try parse(bytes, path: path, layout: layout)
    }

    /// Parses the bytes of an `.ecdc` file; `path` names it in errors.
    public static func parse(_ data: Data, path: String, layout: EcdcLayout) throws -> EcdcFile {
        let bytes = [UInt8](data)
        let header = try parseHeader(bytes, path: path)
        if header.useLM {
            throw CodecError.corruptTokens(path: path, reason: "compressed with EnCodec's language model (\"lm\": true, "
                + "arithmetic coding), which is not supported; recompress with use_lm=False")
        }
        guard header.modelName == layout.modelName else {
            throw CodecError.modelMismatch(path: path,
                                           reason: "written by model '\(header.modelName)', expected '\(layout.modelName)'")
        }
        let k = header.numCodebooks
        let bits = layout.bitsPerCode
        var pos = header.payloadOffset
        var frames: [Frame] = []
        // Walk the segments arithmetically first: a huge "al" in a short file fails here, before any allocation.
        let length = layout.segmentLength ?? header.audioLength
        let stride = layout.segmentStride ?? header.audioLength
        var offset = 0
        var index = 0
        while offset < header.audioLength {
            let n = min(length, header.audioLength - offset)
            let t = EcdcLayout.ceilDiv(n, layout.hopLength)
            let (codeCount, o1) = k.multipliedReportingOverflow(by: t)
            let (bitCount, o2) = codeCount.multipliedReportingOverflow(by: bits)
            let scaleBytes = layout.normalize ? 4 : 0
            let available = bytes.count - pos
            guard !o1, !o2, scaleBytes + (bitCount + 7) / 8 <= available else {
                let need = (o1 || o2) ? "more than \(Int.max / 8)" : "\(scaleBytes + (bitCount + 7) / 8)"
                throw CodecError.corruptTokens(path: path, reason: "truncated: segment \(index) (samples \(offset)..<\(offset + n), "
                    + "\(t) frames × \(k) codebooks) needs \(need) bytes at offset \(pos), only \(available) left")
            }
            var scale: Float? = nil
            if layout.normalize {
                let raw = UInt32(bytes[pos]) << 24 | UInt32(bytes[pos + 1]) << 16 | UInt32(bytes[pos + 2]) << 8 | UInt32(bytes[pos + 3])
                scale = Float(bitPattern: raw)
                pos += 4
            }
            var codes = [[Int]](repeating: [Int](repeating: 0, count: t), count: k)
            // BitUnpacker.pull: bytes enter at the top of the accumulator, codes leave from the bottom.
            var acc: UInt64 = 0
            var accBits = 0
            let mask: UInt64 = (1 << UInt64(bits)) - 1
            for ti in 0..<t {
                for ki in 0..<k {
                    while accBits < bits {
                        acc |= UInt64(bytes[pos]) << UInt64(accBits)
                        pos += 1
                        accBits += 8
                    }
                    codes[ki][ti] = Int(acc & mask)
                    acc >>= UInt64(bits)
                    accBits -= bits
                }
            }
            frames.append(Frame(codes: codes, scale: scale))
            offset += stride
            index += 1
        }
        if pos != bytes.count {
            throw CodecError.corruptTokens(path: path, reason: "\(bytes.count - pos) unexpected bytes after the last segment "
                + "(\(frames.count) segments end at offset \(pos))")
        }
        return EcdcFile(modelName: header.modelName, audioLength: header.audioLength, numCodebooks: k,
                        useLM: false, frames: frames)
    }

    private static func readBytes(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CodecError.invalidInput("\(path): no such file")
        }
        if isDirectory.boolValue { throw CodecError.invalidInput("\(path): is a directory, not an .ecdc file") }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CodecError.invalidInput("\(path): cannot read: \(error.localizedDescription)")
        }
    }

    private struct Metadata: Decodable {
        let m: String
        let al: Int
        let nc: Int
        let lm: Bool
    }

    private static func parseHeader(_ bytes: [UInt8], path: String) throws -> Header {
        // struct '!4sBI': magic, version, JSON length (encodec/binary.py _encodec_header_struct).
        guard bytes.count >= 9 else {
            if bytes.count >= 4 && Array(bytes[0..<4]) != magic {
                throw CodecError.corruptTokens(path: path, reason: "not an .ecdc file (no ECDC magic)")
            }
            throw CodecError.corruptTokens(path: path, reason: "truncated: \(bytes.count) bytes, shorter than the 9-byte header")
        }
        guard Array(bytes[0..<4]) == magic else {
            throw CodecError.corruptTokens(path: path, reason: "not an .ecdc file (no ECDC magic)")
        }
        guard bytes[4] == version else {
            throw CodecError.corruptTokens(path: path, reason: "format version \(bytes[4]) is not supported (only \(version))")
        }
        let size = Int(UInt32(bytes[5]) << 24 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 8 | UInt32(bytes[8]))
        guard bytes.count - 9 >= size else {
            throw CodecError.corruptTokens(path: path, reason: "truncated: the metadata is \(size) bytes, only \(bytes.count - 9) follow the header")
        }
        let json = Data(bytes[9..<(9 + size)])
        let meta: Metadata
        do {
            meta = try JSONDecoder().decode(Metadata.self, from: json)
        } catch let DecodingError.keyNotFound(key, _) {
            throw CodecError.corruptTokens(path: path, reason: "the metadata lacks \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw CodecError.corruptTokens(path: path, reason: "the metadata's \"\(key)\" has the wrong type")
        } catch {
            throw CodecError.corruptTokens(path: path, reason: "the metadata is not valid JSON: "
                + String(decoding: json.prefix(80), as: UTF8.self))
        }
        guard meta.al > 0 else {
            throw CodecError.corruptTokens(path: path, reason: "audio length \(meta.al) is not positive")
        }
        guard meta.nc > 0 else {
            throw CodecError.corruptTokens(path: path, reason: "number of codebooks \(meta.nc) is not positive")
        }
        return Header(modelName: meta.m, audioLength: meta.al, numCodebooks: meta.nc, useLM: meta.lm, payloadOffset: 9 + size)
    }

    // MARK: Writing

    /// The file's bytes, exactly as `encodec.compress.compress(model, wav, use_lm=False)` writes them.
    /// Throws `.invalidCode` for a code outside 0..<2^bitsPerCode, and `.invalidInput` when the frames do
    /// not fit `layout` (segment count, frames per segment, codebooks, scale presence, model name).
    public func encoded(layout: EcdcLayout, path: String = "<memory>") throws -> Data {
        try validate(layout: layout, path: path)
        let header = EcdcFile.headerJSON(modelName: modelName, audioLength: audioLength, numCodebooks: numCodebooks,
                                         useLM: useLM)
        let json = Array(header.utf8)
        var out: [UInt8] = EcdcFile.magic + [EcdcFile.version]
        let n = UInt32(json.count)
        out += [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
        out += json
        let bits = layout.bitsPerCode
        for frame in frames {
            if let scale = frame.scale {
                let raw = scale.bitPattern
                out += [UInt8(raw >> 24), UInt8(raw >> 16 & 0xFF), UInt8(raw >> 8 & 0xFF), UInt8(raw & 0xFF)]
            }
            // BitPacker.push / flush: a fresh packer per segment, flushed (zero-padded) at its end.
            var acc: UInt64 = 0
            var accBits = 0
            let t = frame.codes.first?.count ?? 0
            for ti in 0..<t {
                for ki in 0..<numCodebooks {
                    acc |= UInt64(frame.codes[ki][ti]) << UInt64(accBits)
                    accBits += bits
                    while accBits >= 8 {
                        out.append(UInt8(acc & 0xFF))
                        acc >>= 8
                        accBits -= 8
                    }
                }
            }
            if accBits > 0 { out.append(UInt8(acc & 0xFF)) }
        }
        return Data(out)
    }

    /// Writes the file through a temporary file and a rename, so `path` is never left half-written.
    public func write(to path: String, layout: EcdcLayout) throws {
        let data = try encoded(layout: layout, path: path)
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CodecError.invalidInput("\(path): cannot write: \(error.localizedDescription)")
        }
    }

    /// Checks that the frames are what a model with `layout` produces for `audioLength` samples.
    public func validate(layout: EcdcLayout, path: String = "<memory>") throws {
        guard modelName == layout.modelName else {
            throw CodecError.modelMismatch(path: path, reason: "the codes come from model '\(modelName)', the layout is for '\(layout.modelName)'")
        }
        if useLM {
            throw CodecError.invalidInput("\(path): writing with EnCodec's language model (use_lm) is not supported")
        }
        guard audioLength > 0, numCodebooks > 0 else {
            throw CodecError.invalidInput("\(path): audio length (\(audioLength)) and number of codebooks (\(numCodebooks)) must be positive")
        }
        let segments = layout.segments(audioLength: audioLength)
        guard segments.count == frames.count else {
            throw CodecError.invalidInput("\(path): \(frames.count) segments of codes, but \(audioLength) samples make \(segments.count) segments")
        }
        let bins = 1 << layout.bitsPerCode
        var frameBase = 0
        for (s, (segment, frame)) in zip(segments, frames).enumerated() {
            guard frame.codes.count == numCodebooks else {
                throw CodecError.invalidInput("\(path): segment \(s) has \(frame.codes.count) codebooks, the header says \(numCodebooks)")
            }
            guard (frame.scale != nil) == layout.normalize else {
                throw CodecError.invalidInput("\(path): segment \(s) " + (layout.normalize ? "lacks its scale" : "has a scale the model does not use"))
            }
            for (k, row) in frame.codes.enumerated() {
                guard row.count == segment.frames else {
                    throw CodecError.invalidInput("\(path): segment \(s), codebook \(k) has \(row.count) frames, "
                        + "\(segment.length) samples make \(segment.frames)")
                }
                for (t, code) in row.enumerated() where code < 0 || code >= bins {
                    throw CodecError.invalidCode(path: path, stage: k, frame: frameBase + t, code: code, bins: bins)
                }
            }
            frameBase += segment.frames
        }
    }

    /// The header JSON as Python's `json.dumps(metadata)` writes it (encodec/binary.py write_ecdc_header):
    /// `{"m": …, "al": …, "nc": …, "lm": false}` with `ensure_ascii` escaping.
    public static func headerJSON(modelName: String, audioLength: Int, numCodebooks: Int, useLM: Bool) -> String {
        "{\"m\": \(pythonJSONString(modelName)), \"al\": \(audioLength), \"nc\": \(numCodebooks), \"lm\": \(useLM ? "true" : "false")}"
    }

    /// A JSON string literal as Python's json.dumps writes it with ensure_ascii=True (json.encoder
    /// py_encode_basestring_ascii): `\"`, `\\`, `\b \f \n \r \t`; every other character outside
    /// 0x20...0x7E as lowercase `\uXXXX`, characters beyond the BMP as a UTF-16 surrogate pair.
    static func pythonJSONString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case " "..."~": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                if v < 0x10000 {
                    out += hex4(v)
                } else {
                    let u = v - 0x10000
                    out += hex4(0xD800 | (u >> 10)) + hex4(0xDC00 | (u & 0x3FF))
                }
            }
        }
        return out + "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
    }
}
