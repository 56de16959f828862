// `codec encode`, `codec decode`, `codec roundtrip`: audio ⇄ tokens with a model.
import ArgumentParser
import AudioIO
import Codec
import Foundation
import Metrics
import Tokens

/// Reads any audio file and converts it to the model's rate and channel count.
func readForModel(_ path: String, _ model: CodecModel) throws -> AudioBuffer {
    try AudioFile.read(path, sampleRate: model.config.sampleRate, channels: model.config.channels)
}

func kbps(_ model: CodecModel, codebooks: Int) -> Double { Double(codebooks) * model.config.bandwidthPerCodebook }

/// Reads an audio file block by block at the model's rate and channel count (channels converted first, then
/// resampled, as `readForModel`; the same samples, in constant memory).
final class ModelRateSource {
    let reader: AudioFileReader
    let channels: Int
    private let resampler: Resampler?
    private var ended = false

    init(path: String, model: CodecModel) throws {
        reader = try AudioFileReader(path: path)
        channels = model.config.channels
        resampler = reader.info.sampleRate == model.config.sampleRate ? nil
            : try Resampler(inputRate: reader.info.sampleRate, outputRate: model.config.sampleRate, channelCount: channels)
    }

    /// Fraction of the input read.
    var fraction: Double { Double(reader.position) / Double(max(1, reader.info.frameCount)) }

    /// The next block, planar `[channels, n]` (possibly empty while the resampler fills); nil at the end.
    func next(blockFrames: Int = 1 << 16) throws -> [Float]? {
        if ended { return nil }
        if let block = try reader.read(maxFrames: blockFrames) {
            let converted = try block.convertingChannels(to: channels)
            return try resampler.map { try $0.process(converted).samples } ?? converted.samples
        }
        ended = true
        if reader.position == 0 { throw AudioError.noAudio(path: reader.path) }
        return try resampler?.flush().samples ?? []
    }
}

/// A one-line progress display on standard error, only when it is a terminal and not `--quiet`.
final class Progress {
    let enabled: Bool
    let label: String
    private var last = Date.distantPast
    private var shown = false

    init(_ label: String, quiet: Bool) {
        self.label = label
        enabled = !quiet && stderrIsTerminal
    }

    /// Shows `fraction` (0...1) at most 5 times a second.
    func update(_ fraction: Double, seconds: Double) {
        guard enabled, Date().timeIntervalSince(last) >= 0.2 else { return }
        last = Date()
        shown = true
        let line = String(format: "\r%@ %5.1f%%  %@ of audio", label, 100 * min(1, fraction), clock(seconds))
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Clears the line.
    func done() {
        guard enabled, shown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    private func clock(_ s: Double) -> String {
        let t = Int(s)
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// Writes planar blocks to an audio file, stopping at `limit` samples per channel once it is known.
final class CappedAudioWriter {
    let writer: AudioFileWriter
    let sampleRate: Int, channels: Int
    var limit: Int?
    private(set) var written = 0

    init(path: String, sampleRate: Int, channels: Int, limit: Int?) throws {
        writer = try AudioFileWriter(path: path, sampleRate: sampleRate, channelCount: channels)
        self.sampleRate = sampleRate; self.channels = channels; self.limit = limit
    }

    func write(_ planar: [Float]) throws {
        let n = planar.count / channels
        let keep = limit.map { max(0, min(n, $0 - written)) } ?? n
        guard keep > 0 else { return }
        var samples = planar
        if keep < n {
            samples = []
            for c in 0..<channels { samples += planar[c * n ..< c * n + keep] }
        }
        try writer.write(AudioBuffer(sampleRate: sampleRate, channelCount: channels, samples: samples))
        written += keep
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode audio to tokens (an .ecdc file, as EnCodec writes it without its language model).",
        discussion: "Streams: audio is read, encoded and written block by block, so memory does not grow with the input's length (models with whole-input normalization or GroupNorm and no segments are encoded whole).")

    @Argument(help: "Input audio (any rate and channel count; converted to the model's).")
    var input: String

    @Option(name: .shortAndLong, help: "Output .ecdc file.")
    var output: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Target bandwidth in kbps (one of the model's; default: the largest).")
    var bandwidth: Double?

    @Flag(name: .shortAndLong, help: "No progress display (it is shown only when standard error is a terminal).")
    var quiet = false

    @Flag(help: "Hold the whole input in memory instead of streaming (the same result; for comparison).")
    var whole = false

    func run() throws {
        let start = Date()
        AllocatorPolicy.keepFreedMemory()
        let model = try modelOptions.load(parts: .encoder)
        let rate = Double(model.config.sampleRate)
        let codebooks: Int, length: Int
        if !whole, (try? StreamingMode.of(model.config, encoding: true)) != nil {
            let source = try ModelRateSource(path: input, model: model)
            let stream = try CodecEncoderStream(model: model, bandwidth: bandwidth)
            let writer = try EcdcWriter(path: output, modelName: model.config.name, codebooks: stream.codebooks,
                                        bits: model.config.bitsPerCodebook)
            let progress = Progress("encoding", quiet: quiet)
            defer { progress.done() }
            while let block = try source.next() {
                for chunk in try stream.push(block) { try writer.write(chunk) }
                progress.update(source.fraction, seconds: Double(stream.samplesIn) / rate)
            }
            for chunk in try stream.finish() { try writer.write(chunk) }
            try writer.finish(audioLength: stream.samplesIn)
            codebooks = stream.codebooks; length = stream.samplesIn
        } else {
            let audio = try readForModel(input, model)
            let encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: bandwidth)
            try Ecdc.write(encoded, bits: model.config.bitsPerCodebook, to: output)
            codebooks = encoded.codebooks; length = encoded.length
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print(String(format: "encoded %@ → %@: %.2f s, %d codebooks (%.2f kbps), %d bytes in %.2f s",
                     input, output, Double(length) / rate, codebooks, kbps(model, codebooks: codebooks),
                     size, Date().timeIntervalSince(start)))
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode tokens to audio: an .ecdc file, or a .npy of codes [K, T] or of a sequence laid out with --pattern.",
        discussion: "An .ecdc file streams: tokens are read, decoded and written block by block; nothing is left at the output path on error.")

    @Argument(help: "Input .ecdc or .npy file.")
    var input: String

    @OptionGroup var layoutOptions: TokenLayoutOptions

    @Option(name: .shortAndLong, help: "Output audio file (.wav, .flac, ...).")
    var output: String

    @OptionGroup var modelOptions: ModelOptions

    @Flag(name: .shortAndLong, help: "No progress display (it is shown only when standard error is a terminal).")
    var quiet = false

    @Flag(help: "Hold the whole input in memory instead of streaming (the same result; for comparison).")
    var whole = false

    func run() throws {
        let start = Date()
        AllocatorPolicy.keepFreedMemory()
        let model = try modelOptions.load(parts: .decoder)
        let c = model.config
        let report: WriteReport
        let length: Int, codebooks: Int
        if input.lowercased().hasSuffix(".npy") {
            let encoded = try model.encodedAudio(codes: TokenFile.readCodes(path: input, pattern: layoutOptions.pattern, bins: c.bins,
                                                                           codebooks: layoutOptions.codebooks), path: input)
            try model.validate(encoded, path: input)
            let samples = try model.decode(encoded)
            report = try AudioFile.write(AudioBuffer(sampleRate: c.sampleRate, channelCount: c.channels, samples: samples), to: output)
            length = encoded.length; codebooks = encoded.codebooks
        } else {
            let reader = try EcdcReader(path: input, config: c)
            length = reader.header.audioLength; codebooks = reader.header.codebooks
            if !whole, (try? StreamingMode.of(c, encoding: false)) != nil {
                let stream = try CodecDecoderStream(model: model, length: length)
                let out = try CappedAudioWriter(path: output, sampleRate: c.sampleRate, channels: c.channels, limit: length)
                let progress = Progress("decoding", quiet: quiet)
                defer { progress.done() }
                while let chunk = try reader.next(maxFrames: 4 * c.frameRate) {
                    try out.write(try stream.push(chunk))
                    progress.update(Double(out.written) / Double(length), seconds: Double(out.written) / Double(c.sampleRate))
                }
                try out.write(try stream.finish())
                report = try out.writer.finish()
            } else {
                let encoded = try Ecdc.read(path: input, config: c)
                try model.validate(encoded, path: input)
                let samples = try model.decode(encoded)
                report = try AudioFile.write(AudioBuffer(sampleRate: c.sampleRate, channelCount: c.channels, samples: samples), to: output)
            }
        }
        var line = String(format: "decoded %@ → %@: %.2f s at %d Hz, %d codebooks in %.2f s", input, output,
                          Double(length) / Double(c.sampleRate), c.sampleRate, codebooks, Date().timeIntervalSince(start))
        if report.clippedSamples > 0 { line += " (clipped \(report.clippedSamples) samples)" }
        print(line)
    }
}

struct Roundtrip: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Encode and decode audio in one go (hear what the codec keeps).")

    @Argument(help: "Input audio.")
    var input: String

    @Option(name: .shortAndLong, help: "Output audio file.")
    var output: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Target bandwidth in kbps (default: the largest).")
    var bandwidth: Double?

    @Flag(name: .shortAndLong, help: "No progress display (it is shown only when standard error is a terminal).")
    var quiet = false

    @Flag(help: "Hold the whole input in memory instead of streaming (the same result; for comparison).")
    var whole = false

    @Flag(help: "Then print the per-stage quality table (decode with 1, 2, …, K stages; as `codec eval IN`).")
    var eval = false

    func run() throws {
        let start = Date()
        AllocatorPolicy.keepFreedMemory()
        let model = try modelOptions.load()
        let c = model.config
        let codebooks: Int, length: Int
        let report: WriteReport
        if !whole, (try? StreamingMode.of(c, encoding: true)) != nil {
            let source = try ModelRateSource(path: input, model: model)
            let encoder = try CodecEncoderStream(model: model, bandwidth: bandwidth)
            let decoder = try CodecDecoderStream(model: model)
            let out = try CappedAudioWriter(path: output, sampleRate: c.sampleRate, channels: c.channels, limit: nil)
            let progress = Progress("roundtrip", quiet: quiet)
            defer { progress.done() }
            while let block = try source.next() {
                for chunk in try encoder.push(block) { try out.write(try decoder.push(chunk)) }
                progress.update(source.fraction, seconds: Double(encoder.samplesIn) / Double(c.sampleRate))
            }
            let rest = try encoder.finish()
            out.limit = encoder.samplesIn  // the decoder's last frame runs past the input's end
            for chunk in rest { try out.write(try decoder.push(chunk)) }
            try out.write(try decoder.finish())
            report = try out.writer.finish()
            codebooks = encoder.codebooks; length = encoder.samplesIn
        } else {
            let audio = try readForModel(input, model)
            let encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: bandwidth)
            let samples = try model.decode(encoded)
            report = try AudioFile.write(AudioBuffer(sampleRate: c.sampleRate, channelCount: c.channels, samples: samples), to: output)
            codebooks = encoded.codebooks; length = encoded.length
        }
        var line = String(format: "roundtrip %@ → %@: %.2f s, %d codebooks (%.2f kbps) in %.2f s", input, output,
                          Double(length) / Double(c.sampleRate), codebooks, kbps(model, codebooks: codebooks),
                          Date().timeIntervalSince(start))
        if report.clippedSamples > 0 { line += " (clipped \(report.clippedSamples) samples)" }
        print(line)
        if eval {
            let t0 = Date()
            let (r, _) = try StageEvaluator(model: model).evaluate(file: input, keepAudio: [])
            print("")
            printStageTable(r)
            print(String(format: "per-stage table in %.2f s; %@ holds the %d-codebook row", Date().timeIntervalSince(t0), output, codebooks))
        }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert an EnCodec checkpoint (.th, or Hugging Face .safetensors) to a NeuralCodec model file.")

    @Argument(help: "EnCodec checkpoint.")
    var input: String

    @Option(name: .shortAndLong, help: "Output model file (.safetensors).")
    var output: String

    func run() throws {
        let archive = try ModelArchive.load(path: input).withoutTrainingBuffers()
        _ = try CodecModel(archive) // verify every tensor before writing anything
        try archive.write(to: output)
        let c = archive.config
        print("imported \(input) → \(output): \(c.name), \(c.sampleRate) Hz, \(c.channels) ch, \(c.codebooks) codebooks × \(c.bins), bandwidths \(c.bandwidths.map { String($0) }.joined(separator: "/")) kbps")
    }
}
