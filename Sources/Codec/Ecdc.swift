// The `.ecdc` file exactly as EnCodec writes it without its language model. Mirrors encodec/binary.py
// (header '!4sBI': magic "ECDC", version 0, JSON length; BitPacker/BitUnpacker) and encodec/compress.py
// (per segment: big-endian float32 scale when the model normalizes, then the codes time-major, each
// `bits` wide, LSB first, flushed to a whole byte at the end of the segment).
import Foundation

/// The JSON metadata of an `.ecdc` file: {"m": model name, "al": audio length, "nc": codebooks, "lm": use LM}.
public struct EcdcHeader: Equatable, Sendable {
    public var modelName: String
    public var audioLength: Int
    public var codebooks: Int
    public var useLM: Bool

    public init(modelName: String, audioLength: Int, codebooks: Int, useLM: Bool) {
        self.modelName = modelName; self.audioLength = audioLength; self.codebooks = codebooks; self.useLM = useLM
    }
}

public enum Ecdc {
    static let magic: [UInt8] = Array("ECDC".utf8)

    // MARK: writing

    /// The file's bytes for `encoded` (codes must fit in `bits`).
    public static func encode(_ encoded: EncodedAudio, bits: Int, path: String = "output") throws -> Data {
        var out = Data()
        let json = Data(pythonJSON(encoded).utf8)
        out.append(contentsOf: magic)
        out.append(0) // version
        var len = UInt32(json.count).bigEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        for seg in encoded.segments {
            if let s = seg.scale {
                var bitsBE = s.bitPattern.bigEndian
                withUnsafeBytes(of: &bitsBE) { out.append(contentsOf: $0) }
            }
            var value: UInt64 = 0, have = 0
            for t in 0..<seg.frames {
                for k in 0..<seg.codebooks {
                    let code = seg.codes[k * seg.frames + t]
                    guard code >= 0, Int(code) < 1 << bits else {
                        throw CodecError.invalidCode(path: path, stage: k, frame: t, code: Int(code), bins: 1 << bits)
                    }
                    value |= UInt64(code) << UInt64(have)
                    have += bits
                    while have >= 8 { out.append(UInt8(value & 0xff)); value >>= 8; have -= 8 }
                }
            }
            if have > 0 { out.append(UInt8(value & 0xff)) }
        }
        return out
    }

    /// Writes `encoded` to `path` through a temporary file and a rename.
    public static func write(_ encoded: EncodedAudio, bits: Int, to path: String) throws {
        let data = try encode(encoded, bits: bits, path: path)
        try writeAtomically(data, to: path)
    }

    /// `json.dumps(metadata)` as Python writes it: keys in insertion order, ", " and ": " separators,
    /// ASCII-only strings.
    static func pythonJSON(_ e: EncodedAudio) -> String {
        "{\"m\": \(pythonString(e.modelName)), \"al\": \(e.length), \"nc\": \(e.codebooks), \"lm\": false}"
    }

    /// A JSON string literal as Python's json.dumps (ensure_ascii=True) writes it.
    static func pythonString(_ s: String) -> String {
        var out = "\""
        for u in s.utf16 {
            switch u {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(u)))
            default: out += String(format: "\\u%04x", u)
            }
        }
        return out + "\""
    }

    // MARK: reading

    /// Reads only the header.
    public static func readHeader(path: String) throws -> EcdcHeader {
        let data = try readFile(path)
        return try parseHeader(data, path: path).header
    }

    /// Reads an `.ecdc` file for `config`: the model name must match, and the model's segment rules
    /// give the number of segments and frames, as encodec/compress.py `decompress_from_file` does.
    public static func read(path: String, config: CodecConfig) throws -> EncodedAudio {
        let data = try readFile(path)
        let (h, start) = try parseHeader(data, path: path)
        try check(h, path: path, config: config)
        let bits = config.bitsPerCodebook
        let segLen = config.segmentLength ?? h.audioLength
        let stride = config.segmentStride ?? h.audioLength
        var pos = start
        var segments: [EncodedSegment] = []
        var offset = 0
        while offset < h.audioLength {
            let thisLen = min(h.audioLength - offset, segLen)
            // Frames the encoder made for this segment: ⌈len / hop⌉. (encodec's decompress computes
            // ceil(len / sample_rate · frame_rate) in floating point, which for some lengths — e.g. 6720 at
            // 24 kHz, 0.28 · 75 = 21.000000000000004 — asks for one frame more than its own encoder wrote
            // and fails with EOFError; we read those files.)
            let frames = (thisLen + config.hopLength - 1) / config.hopLength
            var scale: Float? = nil
            if config.normalize {
                guard pos + 4 <= data.count else { throw truncated(path, offset) }
                let b = data[data.startIndex + pos ..< data.startIndex + pos + 4]
                scale = Float(bitPattern: b.reduce(0) { $0 << 8 | UInt32($1) })
                pos += 4
            }
            let count = frames * h.codebooks
            let bytes = (count * bits + 7) / 8
            guard pos + bytes <= data.count else { throw truncated(path, offset) }
            var codes = [Int32](repeating: 0, count: count)
            var value: UInt64 = 0, have = 0, p = pos
            let mask = (UInt64(1) << UInt64(bits)) - 1
            for t in 0..<frames {
                for k in 0..<h.codebooks {
                    while have < bits { value |= UInt64(data[data.startIndex + p]) << UInt64(have); p += 1; have += 8 }
                    codes[k * frames + t] = Int32(value & mask)
                    value >>= UInt64(bits); have -= bits
                }
            }
            pos += bytes
            segments.append(EncodedSegment(codebooks: h.codebooks, frames: frames, codes: codes, scale: scale))
            offset += stride
        }
        if pos != data.count {
            throw CodecError.corruptTokens(path: path, reason: "\(data.count - pos) unexpected bytes after the last segment")
        }
        return EncodedAudio(modelName: h.modelName, length: h.audioLength, codebooks: h.codebooks, segments: segments)
    }

    private static func truncated(_ path: String, _ offset: Int) -> CodecError {
        .corruptTokens(path: path, reason: "truncated: the data ends inside the segment starting at sample \(offset)")
    }

    /// A header `config` can decode: no language model, the same model name, 1…K codebooks, a length.
    static func check(_ h: EcdcHeader, path: String, config: CodecConfig) throws {
        guard !h.useLM else {
            throw CodecError.corruptTokens(path: path, reason: "written with EnCodec's language model (lm: true), which is not supported")
        }
        guard h.modelName == config.name else {
            throw CodecError.modelMismatch(path: path, reason: "file was made with '\(h.modelName)', the model is '\(config.name)'")
        }
        guard h.codebooks >= 1, h.codebooks <= config.codebooks else {
            throw CodecError.modelMismatch(path: path, reason: "file has \(h.codebooks) codebooks, the model has \(config.codebooks)")
        }
        guard h.audioLength >= 1 else { throw CodecError.corruptTokens(path: path, reason: "audio length \(h.audioLength)") }
    }

    static func readFile(_ path: String) throws -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CodecError.corruptTokens(path: path, reason: "no such file")
        }
        if isDir.boolValue { throw CodecError.corruptTokens(path: path, reason: "is a directory") }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CodecError.corruptTokens(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    static func parseHeader(_ data: Data, path: String) throws -> (header: EcdcHeader, end: Int) {
        guard data.count >= 9 else { throw CodecError.corruptTokens(path: path, reason: "too short for an .ecdc header (\(data.count) bytes)") }
        let b = [UInt8](data.prefix(9))
        guard Array(b[0..<4]) == magic else { throw CodecError.corruptTokens(path: path, reason: "not an .ecdc file (no ECDC magic)") }
        guard b[4] == 0 else { throw CodecError.corruptTokens(path: path, reason: "unsupported .ecdc version \(b[4]) (only 0)") }
        let size = Int(b[5]) << 24 | Int(b[6]) << 16 | Int(b[7]) << 8 | Int(b[8])
        guard 9 + size <= data.count else {
            throw CodecError.corruptTokens(path: path, reason: "truncated header: metadata of \(size) bytes announced, \(data.count - 9) present")
        }
        let json = data.subdata(in: data.startIndex + 9 ..< data.startIndex + 9 + size)
        guard let obj = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw CodecError.corruptTokens(path: path, reason: "metadata is not a JSON object")
        }
        guard let m = obj["m"] as? String, let al = (obj["al"] as? NSNumber)?.intValue,
              let nc = (obj["nc"] as? NSNumber)?.intValue, let lm = obj["lm"] as? Bool else {
            throw CodecError.corruptTokens(path: path, reason: "metadata lacks m/al/nc/lm")
        }
        return (EcdcHeader(modelName: m, audioLength: al, codebooks: nc, useLM: lm), 9 + size)
    }
}

/// Writes `data` to a temporary file beside `path`, then renames it into place.
func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent()
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
        throw CodecError.invalidInput("\(path): cannot write output: directory '\(dir.path)' does not exist")
    }
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))")
    do {
        try data.write(to: tmp)
        if rename(tmp.path, path) != 0 {
            let reason = String(cString: strerror(errno))
            throw CodecError.invalidInput("\(path): cannot write output: \(reason)")
        }
    } catch let e as CodecError {
        try? FileManager.default.removeItem(at: tmp); throw e
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw CodecError.invalidInput("\(path): cannot write output: \(error.localizedDescription)")
    }
}
