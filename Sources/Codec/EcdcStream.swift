// `.ecdc` files written and read chunk by chunk (the same bytes as Ecdc.encode / Ecdc.read), so token files
// of any length take constant memory. The header holds the audio length, known only at the end of a
// stream: codes go to a side file, and finish() writes header + codes to a temporary file renamed into place.
import Foundation

/// Writes an `.ecdc` file from a stream of code chunks. Nothing appears at `path` until `finish` succeeds;
/// `cancel` (or dropping the writer) removes the temporary files.
public final class EcdcWriter {
    public let path: String
    public let modelName: String
    public let codebooks: Int
    public let bits: Int
    private let bodyPath: String
    private var body: FileHandle?
    private var pending = Data()
    private var value: UInt64 = 0, have = 0
    private var segment = 0, frame = 0
    private var inSegment = false

    public init(path: String, modelName: String, codebooks: Int, bits: Int) throws {
        precondition(bits >= 1 && bits <= 32, "EcdcWriter: \(bits) bits per code")
        self.path = path; self.modelName = modelName; self.codebooks = codebooks; self.bits = bits
        bodyPath = try temporaryPath(beside: path, tag: "codes")
        guard FileManager.default.createFile(atPath: bodyPath, contents: nil), let h = FileHandle(forWritingAtPath: bodyPath) else {
            throw CodecError.invalidInput("\(path): cannot write output: cannot create '\(bodyPath)'")
        }
        body = h
    }

    deinit { cancel() }

    /// Appends a chunk; chunks must come in stream order (segment by segment, frames in order).
    public func write(_ chunk: CodeChunk) throws {
        guard body != nil else { throw CodecError.invalidInput("\(path): writer is finished") }
        guard chunk.segment == segment, chunk.firstFrame == frame, chunk.codes.codebooks == codebooks else {
            throw CodecError.invalidInput("\(path): chunk (segment \(chunk.segment), frame \(chunk.firstFrame), \(chunk.codes.codebooks) codebooks) out of order")
        }
        let seg = chunk.codes
        if !inSegment, let s = seg.scale {
            var bitsBE = s.bitPattern.bigEndian
            withUnsafeBytes(of: &bitsBE) { pending.append(contentsOf: $0) }
        }
        inSegment = true
        for t in 0..<seg.frames {
            for k in 0..<seg.codebooks {
                let code = seg.codes[k * seg.frames + t]
                guard code >= 0, Int(code) < 1 << bits else {
                    throw CodecError.invalidCode(path: path, stage: k, frame: frame + t, code: Int(code), bins: 1 << bits)
                }
                value |= UInt64(code) << UInt64(have)
                have += bits
                while have >= 8 { pending.append(UInt8(value & 0xff)); value >>= 8; have -= 8 }
            }
        }
        frame += seg.frames
        if chunk.endsSegment {
            if have > 0 { pending.append(UInt8(value & 0xff)) }
            value = 0; have = 0
            segment += 1; frame = 0; inSegment = false
        }
        if pending.count >= 1 << 16 { try flush() }
    }

    /// Writes the header for `audioLength` samples and the codes, then renames the file into place.
    public func finish(audioLength: Int) throws {
        guard body != nil else { throw CodecError.invalidInput("\(path): writer is finished") }
        guard !inSegment else { throw CodecError.invalidInput("\(path): the last segment is not finished") }
        try flush()
        try body?.close()
        body = nil
        let header = EncodedAudio(modelName: modelName, length: audioLength, codebooks: codebooks, segments: [])
        let json = Data(Ecdc.pythonJSON(header).utf8)
        var head = Data(Ecdc.magic)
        head.append(0)
        var len = UInt32(json.count).bigEndian
        withUnsafeBytes(of: &len) { head.append(contentsOf: $0) }
        head.append(json)
        let tmp = try temporaryPath(beside: path, tag: "tmp")
        defer { unlink(tmp); unlink(bodyPath) }
        do {
            guard FileManager.default.createFile(atPath: tmp, contents: head), let out = FileHandle(forWritingAtPath: tmp),
                  let input = FileHandle(forReadingAtPath: bodyPath) else {
                throw CodecError.invalidInput("\(path): cannot write output")
            }
            try out.seekToEnd()
            while let block = try input.read(upToCount: 1 << 20), !block.isEmpty { try out.write(contentsOf: block) }
            try input.close()
            try out.synchronize()
            try out.close()
        } catch let e as CodecError { throw e } catch {
            throw CodecError.invalidInput("\(path): cannot write output: \(error.localizedDescription)")
        }
        if rename(tmp, path) != 0 {
            throw CodecError.invalidInput("\(path): cannot write output: \(String(cString: strerror(errno)))")
        }
    }

    /// Abandons the file (safe to call more than once).
    public func cancel() {
        if let b = body { try? b.close(); body = nil; unlink(bodyPath) }
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        do { try body?.write(contentsOf: pending) } catch {
            cancel()
            throw CodecError.invalidInput("\(path): cannot write output: \(error.localizedDescription)")
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// Reads an `.ecdc` file chunk by chunk, with the checks of `Ecdc.read` (model name, codebooks, sizes, no
/// trailing bytes). Memory: one chunk.
public final class EcdcReader {
    public let path: String
    public let header: EcdcHeader
    private let config: CodecConfig
    private let file: FileHandle
    private let fileSize: Int
    private var position: Int
    private var buffer = Data()
    private var bufferStart = 0
    // Segment walk.
    private var segmentOffset = 0     // first sample of the current segment
    private var segment = 0
    private var segmentFrames = 0
    private var frame = 0             // next frame in the segment
    private var scale: Float?
    private var value: UInt64 = 0, have = 0
    private var done = false

    public init(path: String, config: CodecConfig) throws {
        self.path = path
        self.config = config
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CodecError.corruptTokens(path: path, reason: "no such file")
        }
        if isDir.boolValue { throw CodecError.corruptTokens(path: path, reason: "is a directory") }
        guard let f = FileHandle(forReadingAtPath: path) else { throw CodecError.corruptTokens(path: path, reason: "cannot read") }
        file = f
        fileSize = ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue) ?? 0
        // The header: 9 bytes, then the JSON.
        let head = (try? f.read(upToCount: 9)) ?? Data()
        var size = 0
        if head.count == 9, Array(head.prefix(4)) == Ecdc.magic, head[head.startIndex + 4] == 0 {
            size = Int(head[head.startIndex + 5]) << 24 | Int(head[head.startIndex + 6]) << 16
                | Int(head[head.startIndex + 7]) << 8 | Int(head[head.startIndex + 8])
        }
        let json = size > 0 && 9 + size <= fileSize ? ((try? f.read(upToCount: size)) ?? Data()) : Data()
        let (h, end) = try Ecdc.parseHeader(head + json, path: path)
        header = h
        position = end
        bufferStart = end
        try Ecdc.check(h, path: path, config: config)
    }

    deinit { try? file.close() }

    /// The next chunk of at most `maxFrames` frames (never across a segment boundary); nil at the end.
    public func next(maxFrames: Int) throws -> CodeChunk? {
        precondition(maxFrames > 0, "EcdcReader.next needs maxFrames > 0")
        if done { return nil }
        let segLen = config.segmentLength ?? header.audioLength
        let stride = config.segmentStride ?? header.audioLength
        if frame == 0 {
            if segmentOffset >= header.audioLength {
                done = true
                if position != fileSize {
                    throw CodecError.corruptTokens(path: path, reason: "\(fileSize - position) unexpected bytes after the last segment")
                }
                return nil
            }
            // As Ecdc.read: ⌈len / hop⌉ frames for this segment.
            let thisLen = min(header.audioLength - segmentOffset, segLen)
            segmentFrames = (thisLen + config.hopLength - 1) / config.hopLength
            scale = nil
            if config.normalize {
                let b = try bytes(4)
                scale = Float(bitPattern: b.reduce(0) { $0 << 8 | UInt32($1) })
            }
            value = 0; have = 0
        }
        let k = header.codebooks, bits = config.bitsPerCodebook
        let n = min(maxFrames, segmentFrames - frame)
        // Bytes this chunk needs beyond the bits already held.
        let need = max(0, (n * k * bits - have + 7) / 8)
        let data = try bytes(need, segmentStart: segmentOffset)
        var p = data.startIndex
        var codes = [Int32](repeating: 0, count: n * k)
        let mask = (UInt64(1) << UInt64(bits)) - 1
        for t in 0..<n {
            for q in 0..<k {
                while have < bits { value |= UInt64(data[p]) << UInt64(have); p += 1; have += 8 }
                codes[q * n + t] = Int32(value & mask)
                value >>= UInt64(bits); have -= bits
            }
        }
        let chunk = CodeChunk(segment: segment, firstFrame: frame,
                              codes: EncodedSegment(codebooks: k, frames: n, codes: codes, scale: scale),
                              endsSegment: frame + n == segmentFrames)
        frame += n
        if frame == segmentFrames {
            // The segment's last byte is padded to a whole byte: drop the leftover bits.
            value = 0; have = 0
            frame = 0; segment += 1; segmentOffset += stride
        }
        return chunk
    }

    /// The next `count` bytes of the file.
    private func bytes(_ count: Int, segmentStart: Int? = nil) throws -> Data {
        guard position + count <= fileSize else {
            throw CodecError.corruptTokens(path: path, reason: "truncated: the data ends inside the segment starting at sample \(segmentStart ?? segmentOffset)")
        }
        while bufferStart + buffer.count < position + count {
            guard let more = try? file.read(upToCount: max(1 << 16, count)), !more.isEmpty else {
                throw CodecError.corruptTokens(path: path, reason: "truncated: the data ends inside the segment starting at sample \(segmentStart ?? segmentOffset)")
            }
            buffer.append(more)
        }
        let lo = position - bufferStart
        let out = buffer.subdata(in: buffer.startIndex + lo ..< buffer.startIndex + lo + count)
        position += count
        // Drop consumed bytes now and then.
        if position - bufferStart > 1 << 20 {
            buffer = buffer.subdata(in: buffer.startIndex + (position - bufferStart) ..< buffer.endIndex)
            bufferStart = position
        }
        return out
    }
}

/// A fresh hidden path beside `path` (`.name.tag-pid-random`), after checking the directory exists.
func temporaryPath(beside path: String, tag: String) throws -> String {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent()
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
        throw CodecError.invalidInput("\(path): cannot write output: directory '\(dir.path)' does not exist")
    }
    return dir.appendingPathComponent(".\(url.lastPathComponent).\(tag)-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
}
