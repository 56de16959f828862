// `codec encode`, `codec decode`, `codec roundtrip`: audio ⇄ tokens with a model.
import ArgumentParser
import AudioIO
import Codec
import Foundation
import Tokens

/// Reads any audio file and converts it to the model's rate and channel count.
func readForModel(_ path: String, _ model: CodecModel) throws -> AudioBuffer {
    try AudioFile.read(path, sampleRate: model.config.sampleRate, channels: model.config.channels)
}

func kbps(_ model: CodecModel, codebooks: Int) -> Double { Double(codebooks) * model.config.bandwidthPerCodebook }

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode audio to tokens (an .ecdc file, as EnCodec writes it without its language model).")

    @Argument(help: "Input audio (any rate and channel count; converted to the model's).")
    var input: String

    @Option(name: .shortAndLong, help: "Output .ecdc file.")
    var output: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Target bandwidth in kbps (one of the model's; default: the largest).")
    var bandwidth: Double?

    func run() throws {
        let start = Date()
        let model = try modelOptions.load()
        let audio = try readForModel(input, model)
        let encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: bandwidth)
        try Ecdc.write(encoded, bits: model.config.bitsPerCodebook, to: output)
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print(String(format: "encoded %@ → %@: %.2f s, %d codebooks (%.2f kbps), %d bytes in %.2f s",
                     input, output, audio.duration, encoded.codebooks, kbps(model, codebooks: encoded.codebooks),
                     size, Date().timeIntervalSince(start)))
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode tokens to audio: an .ecdc file, or a .npy of codes [K, T] or of a sequence laid out with --pattern.")

    @Argument(help: "Input .ecdc or .npy file.")
    var input: String

    @OptionGroup var layoutOptions: TokenLayoutOptions

    @Option(name: .shortAndLong, help: "Output audio file (.wav, .flac, ...).")
    var output: String

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        let start = Date()
        let model = try modelOptions.load()
        let encoded = input.lowercased().hasSuffix(".npy")
            ? try model.encodedAudio(codes: TokenFile.readCodes(path: input, pattern: layoutOptions.pattern, bins: model.config.bins,
                                                               codebooks: layoutOptions.codebooks), path: input)
            : try Ecdc.read(path: input, config: model.config)
        try model.validate(encoded, path: input)
        let samples = try model.decode(encoded)
        let audio = AudioBuffer(sampleRate: model.config.sampleRate, channelCount: model.config.channels, samples: samples)
        let report = try AudioFile.write(audio, to: output)
        var line = String(format: "decoded %@ → %@: %.2f s at %d Hz, %d codebooks in %.2f s", input, output,
                          audio.duration, audio.sampleRate, encoded.codebooks, Date().timeIntervalSince(start))
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

    func run() throws {
        let start = Date()
        let model = try modelOptions.load()
        let audio = try readForModel(input, model)
        let encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: bandwidth)
        let samples = try model.decode(encoded)
        let out = AudioBuffer(sampleRate: model.config.sampleRate, channelCount: model.config.channels, samples: samples)
        let report = try AudioFile.write(out, to: output)
        var line = String(format: "roundtrip %@ → %@: %.2f s, %d codebooks (%.2f kbps) in %.2f s", input, output,
                          audio.duration, encoded.codebooks, kbps(model, codebooks: encoded.codebooks),
                          Date().timeIntervalSince(start))
        if report.clippedSamples > 0 { line += " (clipped \(report.clippedSamples) samples)" }
        print(line)
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
