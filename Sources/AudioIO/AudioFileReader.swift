// AudioFileReader: reads any format libsndfile reads into planar Float32, whole or block by block.
// One Swift owner per SNDFILE handle: deinit closes it.
import Foundation
internal import CSndfile

/// What a file holds, read from its header.
public struct AudioFileInfo: Codable, Equatable, Sendable {
    public var path: String
    /// Container name as libsndfile reports it (e.g. "WAV (Microsoft)", "FLAC (Free Lossless Audio Codec)").
    public var format: String
    /// Sample encoding (e.g. "Signed 16 bit PCM", "32 bit float", "Vorbis").
    public var encoding: String
    /// Sample rate in Hz.
    public var sampleRate: Int
    /// Number of channels.
    public var channelCount: Int
    /// Frames (samples per channel).
    public var frameCount: Int
    /// Duration in seconds.
    public var duration: Double { sampleRate > 0 ? Double(frameCount) / Double(sampleRate) : 0 }
}

/// Checks that `path` names a non-empty regular file, throwing the matching AudioError otherwise.
func checkReadablePath(_ path: String) throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw AudioError.fileNotFound(path: path) }
    if isDir.boolValue { throw AudioError.isDirectory(path: path) }
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    if size == 0 { throw AudioError.emptyFile(path: path) }
}

/// Reads an audio file through libsndfile. Memory use is one block, whatever the file length.
public final class AudioFileReader {
    public let path: String
    public let info: AudioFileInfo
    private let handle: OpaquePointer
    private var scratch: [Float] = []
    /// Frames read so far.
    public private(set) var position: Int = 0

    public init(path: String) throws {
        try checkReadablePath(path)
        var sfinfo = SF_INFO()
        guard let h = sf_open(path, Int32(SFM_READ), &sfinfo) else {
            throw AudioError.unrecognizedFormat(path: path, reason: String(cString: sf_strerror(nil)))
        }
        handle = h
        self.path = path
        // libsndfile opens a cut-off WAV and silently shortens it; its log says "data : N (should be M)".
        if let (expected, found) = Self.truncation(in: Self.log(h)) {
            sf_close(h)
            throw AudioError.truncated(path: path, expectedBytes: expected, foundBytes: found)
        }
        if sfinfo.frames <= 0 {
            sf_close(h)
            throw AudioError.noAudio(path: path)
        }
        info = AudioFileInfo(path: path,
                             format: Self.formatName(Int32(sfinfo.format) & Int32(SF_FORMAT_TYPEMASK)),
                             encoding: Self.formatName(Int32(sfinfo.format) & Int32(SF_FORMAT_SUBMASK)),
                             sampleRate: Int(sfinfo.samplerate), channelCount: Int(sfinfo.channels),
                             frameCount: Int(sfinfo.frames))
    }

    deinit { sf_close(handle) }

    /// Reads up to `maxFrames` frames; nil at the end of the file.
    public func read(maxFrames: Int) throws -> AudioBuffer? {
        precondition(maxFrames > 0, "read(maxFrames:) needs maxFrames > 0")
        let c = info.channelCount
        if scratch.count < maxFrames * c { scratch = [Float](repeating: 0, count: maxFrames * c) }
        let got = scratch.withUnsafeMutableBufferPointer { sf_readf_float(handle, $0.baseAddress, sf_count_t(maxFrames)) }
        let err = sf_error(handle)
        if err != 0 { throw AudioError.readFailed(path: path, reason: String(cString: sf_error_number(err))) }
        if got <= 0 { return nil }
        position += Int(got)
        return AudioBuffer(sampleRate: info.sampleRate, channelCount: c, interleaved: Array(scratch[0 ..< Int(got) * c]))
    }

    /// Moves to `frame` (0 = start).
    public func seek(toFrame frame: Int) throws {
        if sf_seek(handle, sf_count_t(frame), SEEK_SET) < 0 {
            throw AudioError.readFailed(path: path, reason: "cannot seek to frame \(frame)")
        }
        position = frame
    }

    /// Reads everything that is left.
    public func readAll(blockFrames: Int = 65536) throws -> AudioBuffer {
        var planar = [[Float]](repeating: [], count: info.channelCount)
        for c in 0..<info.channelCount { planar[c].reserveCapacity(info.frameCount - position) }
        while let block = try read(maxFrames: blockFrames) {
            let t = block.frameCount
            for c in 0..<info.channelCount { planar[c].append(contentsOf: block.samples[c * t ..< (c + 1) * t]) }
        }
        if planar[0].isEmpty { throw AudioError.noAudio(path: path) }
        return AudioBuffer(sampleRate: info.sampleRate, channels: planar)
    }

    private static func log(_ h: OpaquePointer) -> String {
        var buf = [CChar](repeating: 0, count: 8192)
        _ = sf_command(h, Int32(SFC_GET_LOG_INFO), &buf, Int32(buf.count))
        return String(cString: buf)
    }

    /// Finds "data : N (should be M)" with M < N in libsndfile's log. Streamed WAVs (size 0 or 0xFFFFFFFF
    /// placeholders written by pipes) are not truncated files and pass.
    static func truncation(in log: String) -> (Int, Int)? {
        for line in log.split(separator: "\n") where line.hasPrefix("data") && line.contains("(should be") {
            let digits = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard digits.count >= 2 else { continue }
            let announced = digits[0], actual = digits[1]
            if announced == 0 || announced >= 0xFFFF_FF00 { continue }
            if actual < announced { return (announced, actual) }
        }
        return nil
    }

    /// libsndfile's name for a major format or a subtype.
    static func formatName(_ format: Int32) -> String {
        var fi = SF_FORMAT_INFO()
        fi.format = format
        guard sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &fi, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0, let name = fi.name else {
            return String(format: "0x%06x", format)
        }
        return String(cString: name)
    }
}

/// Whole-file conveniences.
public enum AudioFile {
    /// Reads a whole file into memory.
    public static func read(_ path: String) throws -> AudioBuffer {
        try AudioFileReader(path: path).readAll()
    }

    /// Reads only the header.
    public static func info(_ path: String) throws -> AudioFileInfo {
        try AudioFileReader(path: path).info
    }

    /// Reads a file and converts it to `sampleRate` and `channels` (EnCodec's `convert_audio`: channels
    /// first, then resampling).
    public static func read(_ path: String, sampleRate: Int, channels: Int) throws -> AudioBuffer {
        let audio = try read(path).convertingChannels(to: channels)
        if audio.sampleRate == sampleRate { return audio }
        return try Resampler.resample(audio, to: sampleRate)
    }
}
