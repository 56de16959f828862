// AudioFileWriter: writes audio through a temporary file that is renamed into place on finish, so a
// failed or interrupted write never leaves a partial output. Integer PCM is quantized here (x·2^(b−1),
// rounded, clamped) so that reading a 16-bit file and writing it back is bit-exact.
import Foundation
internal import CSndfile

/// Container formats we write.
public enum AudioFileFormat: String, CaseIterable, Codable, Sendable {
    case wav, flac, aiff, ogg

    /// Guesses the container from a path's extension (wav, flac, aif/aiff, ogg/oga).
    public init?(pathExtension ext: String) {
        switch ext.lowercased() {
        case "wav", "wave": self = .wav
        case "flac": self = .flac
        case "aif", "aiff": self = .aiff
        case "ogg", "oga": self = .ogg
        default: return nil
        }
    }

    var major: Int32 {
        switch self {
        case .wav: return Int32(SF_FORMAT_WAV)
        case .flac: return Int32(SF_FORMAT_FLAC)
        case .aiff: return Int32(SF_FORMAT_AIFF)
        case .ogg: return Int32(SF_FORMAT_OGG)
        }
    }
}

/// How samples are stored.
public enum SampleEncoding: String, CaseIterable, Codable, Sendable {
    case pcm8, pcm16, pcm24, pcm32, float32, vorbis

    /// Bits of an integer PCM encoding; nil for float and lossy encodings.
    public var pcmBits: Int? {
        switch self {
        case .pcm8: return 8
        case .pcm16: return 16
        case .pcm24: return 24
        case .pcm32: return 32
        case .float32, .vorbis: return nil
        }
    }

    func subtype(for format: AudioFileFormat) -> Int32 {
        switch self {
        // WAV stores 8-bit PCM unsigned; the other containers signed.
        case .pcm8: return Int32(format == .wav ? SF_FORMAT_PCM_U8 : SF_FORMAT_PCM_S8)
        case .pcm16: return Int32(SF_FORMAT_PCM_16)
        case .pcm24: return Int32(SF_FORMAT_PCM_24)
        case .pcm32: return Int32(SF_FORMAT_PCM_32)
        case .float32: return Int32(SF_FORMAT_FLOAT)
        case .vorbis: return Int32(SF_FORMAT_VORBIS)
        }
    }
}

/// What to do with samples outside [-1, 1] when the encoding cannot hold them.
public enum ClippingPolicy: Equatable, Sendable {
    /// Clamp each sample to [-1, 1] (and to the integer range).
    case clamp
    /// Scale the whole signal so its peak is `peak` when it exceeds it (whole-buffer writes only).
    case rescale(peak: Float)
}

/// What a write did to the signal.
public struct WriteReport: Equatable, Sendable {
    /// Samples (over all channels) that were outside [-1, 1] and were clamped.
    public var clippedSamples: Int = 0
    /// Largest |x| seen before any clipping or scaling.
    public var peak: Float = 0
    /// Gain applied by `.rescale`, 1 when none.
    public var gain: Float = 1
    /// Frames written.
    public var frames: Int = 0
    public init() {}
}

/// Writes audio block by block to a temporary file next to `path`; `finish()` renames it into place.
/// If the writer is dropped or `cancel()`ed before `finish()`, the temporary file is removed.
public final class AudioFileWriter {
    public let path: String
    public let sampleRate: Int
    public let channelCount: Int
    public let format: AudioFileFormat
    public let encoding: SampleEncoding
    private let temporaryPath: String
    private var handle: OpaquePointer?
    private var report = WriteReport()
    private var gain: Float = 1

    /// Opens a writer. `format` defaults to the one named by the path's extension.
    public init(path: String, sampleRate: Int, channelCount: Int,
                format: AudioFileFormat? = nil, encoding: SampleEncoding = .pcm16) throws {
        guard sampleRate > 0 else { throw AudioError.invalidArgument("\(path): sample rate must be positive (got \(sampleRate))") }
        guard channelCount > 0 else { throw AudioError.invalidArgument("\(path): channel count must be positive (got \(channelCount))") }
        let url = URL(fileURLWithPath: path)
        guard let fmt = format ?? AudioFileFormat(pathExtension: url.pathExtension) else {
            throw AudioError.unsupportedOutputFormat(path: path, reason: "unknown extension '.\(url.pathExtension)' (use .wav, .flac, .aiff or .ogg)")
        }
        self.path = path
        self.sampleRate = sampleRate
        self.channelCount = channelCount
        self.format = fmt
        self.encoding = encoding

        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw AudioError.unwritable(path: path, reason: "is a directory")
        }
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
            throw AudioError.unwritable(path: path, reason: "directory '\(dir)' does not exist")
        }
        guard isDir.boolValue else { throw AudioError.unwritable(path: path, reason: "'\(dir)' is not a directory") }

        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channelCount)
        info.format = fmt.major | encoding.subtype(for: fmt)
        guard sf_format_check(&info) != 0 else {
            throw AudioError.unsupportedOutputFormat(path: path, reason: "\(fmt.rawValue) cannot hold \(encoding.rawValue) samples at \(sampleRate) Hz, \(channelCount) channels")
        }
        temporaryPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        guard let h = sf_open(temporaryPath, Int32(SFM_WRITE), &info) else {
            let reason = String(cString: sf_strerror(nil))
            unlink(temporaryPath)
            throw AudioError.unwritable(path: path, reason: reason)
        }
        handle = h
    }

    deinit { cancel() }

    /// Gain applied to every later block (used by whole-buffer `.rescale`).
    func setGain(_ g: Float) { gain = g; report.gain = g }

    /// Appends a block (same channel count and rate as the writer).
    public func write(_ buffer: AudioBuffer) throws {
        guard let h = handle else { throw AudioError.writeFailed(path: path, reason: "writer is already finished") }
        guard buffer.channelCount == channelCount else {
            throw AudioError.invalidArgument("\(path): block has \(buffer.channelCount) channels, writer has \(channelCount)")
        }
        guard buffer.sampleRate == sampleRate else {
            throw AudioError.invalidArgument("\(path): block is at \(buffer.sampleRate) Hz, writer at \(sampleRate) Hz")
        }
        let frames = buffer.frameCount
        if frames == 0 { return }
        var data = buffer.interleaved()
        for i in 0..<data.count {
            let a = abs(data[i])
            if a > report.peak { report.peak = a }
        }
        if gain != 1 { for i in 0..<data.count { data[i] *= gain } }
        let written: sf_count_t
        if let bits = encoding.pcmBits {
            let scale = Float(sign: .plus, exponent: bits - 1, significand: 1)
            let lo = -Double(scale), hi = Double(scale) - 1
            let shift = Int32(32 - bits)
            var ints = [Int32](repeating: 0, count: data.count)
            for i in 0..<data.count {
                var x = data[i]
                if x > 1 || x < -1 { report.clippedSamples += 1; x = min(1, max(-1, x)) }
                let q = min(hi, max(lo, (Double(x) * Double(scale)).rounded()))
                ints[i] = Int32(q) << shift
            }
            written = ints.withUnsafeBufferPointer { sf_writef_int(h, $0.baseAddress, sf_count_t(frames)) }
        } else {
            if encoding == .vorbis {
                for i in 0..<data.count where data[i] > 1 || data[i] < -1 {
                    report.clippedSamples += 1; data[i] = min(1, max(-1, data[i]))
                }
            }
            written = data.withUnsafeBufferPointer { sf_writef_float(h, $0.baseAddress, sf_count_t(frames)) }
        }
        if written != sf_count_t(frames) {
            let reason = String(cString: sf_strerror(h))
            cancel()
            throw AudioError.writeFailed(path: path, reason: reason)
        }
        report.frames += frames
    }

    /// Closes the file and renames it into place; returns what was done to the signal.
    @discardableResult
    public func finish() throws -> WriteReport {
        guard let h = handle else { throw AudioError.writeFailed(path: path, reason: "writer is already finished") }
        sf_write_sync(h)
        let rc = sf_close(h)
        handle = nil
        if rc != 0 {
            unlink(temporaryPath)
            throw AudioError.writeFailed(path: path, reason: String(cString: sf_error_number(rc)))
        }
        if rename(temporaryPath, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw AudioError.unwritable(path: path, reason: reason)
        }
        return report
    }

    /// Abandons the write and removes the temporary file. Safe to call more than once.
    public func cancel() {
        if let h = handle { sf_close(h); handle = nil; unlink(temporaryPath) }
    }
}

extension AudioFile {
    /// Writes a whole buffer (format from the extension unless given). `.rescale(peak:)` scales the whole
    /// signal down when its peak exceeds the limit; `.clamp` clamps samples outside [-1, 1].
    @discardableResult
    public static func write(_ buffer: AudioBuffer, to path: String, format: AudioFileFormat? = nil,
                             encoding: SampleEncoding = .pcm16, clipping: ClippingPolicy = .clamp) throws -> WriteReport {
        guard buffer.frameCount > 0 else { throw AudioError.invalidArgument("\(path): nothing to write (0 frames)") }
        let writer = try AudioFileWriter(path: path, sampleRate: buffer.sampleRate, channelCount: buffer.channelCount,
                                         format: format, encoding: encoding)
        if case let .rescale(limit) = clipping {
            var peak: Float = 0
            for x in buffer.samples { peak = max(peak, abs(x)) }
            if peak > limit { writer.setGain(limit / peak) }
        }
        try writer.write(buffer)
        return try writer.finish()
    }
}
