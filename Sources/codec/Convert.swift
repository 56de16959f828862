// `codec convert`: resample and remix an audio file, block by block (memory does not grow with length).
import ArgumentParser
import AudioIO
import Foundation

enum ClipChoice: String, ExpressibleByArgument, CaseIterable {
    case clamp, rescale
}

extension SampleEncoding: ExpressibleByArgument {}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resample and remix an audio file (libsoxr high quality; EnCodec's channel rules).")

    @Argument(help: "Input audio file.")
    var input: String

    @Argument(help: "Output file (.wav, .flac, .aiff or .ogg).")
    var output: String

    @Option(help: "Output sample rate in Hz (default: the input's).")
    var rate: Int?

    @Option(help: "Output channels: 1 = mean of the input channels, N from mono = duplicated (default: the input's).")
    var channels: Int?

    @Option(help: "Sample encoding: \(SampleEncoding.allCases.map(\.rawValue).joined(separator: ", ")).")
    var encoding: SampleEncoding = .pcm16

    @Option(help: "What to do with samples beyond full scale: clamp them, or rescale the whole file to a peak of 0.99.")
    var clip: ClipChoice = .clamp

    func validate() throws {
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive (got \(rate))") }
        if let channels, channels <= 0 { throw ValidationError("--channels must be positive (got \(channels))") }
    }

    func run() throws {
        let start = Date()
        let probe = try AudioFileReader(path: input)
        let outRate = rate ?? probe.info.sampleRate
        let outChannels = channels ?? probe.info.channelCount
        // Refuse an impossible remix before anything is written.
        if outChannels != probe.info.channelCount && outChannels != 1 && probe.info.channelCount != 1 {
            throw AudioError.unsupportedChannelConversion(from: probe.info.channelCount, to: outChannels)
        }
        var gain: Float = 1
        if clip == .rescale {
            var peak: Float = 0
            try stream(outRate: outRate, outChannels: outChannels) { block in
                for x in block.samples { peak = max(peak, abs(x)) }
            }
            if peak > 0.99 { gain = 0.99 / peak }
        }
        let writer = try AudioFileWriter(path: output, sampleRate: outRate, channelCount: outChannels, encoding: encoding)
        try stream(outRate: outRate, outChannels: outChannels) { block in
            var b = block
            if gain != 1 { for i in 0..<b.samples.count { b.samples[i] *= gain } }
            try writer.write(b)
        }
        let report = try writer.finish()
        var line = String(format: "wrote %@: %d Hz, %d ch, %.3f s, %@ in %.2f s",
                          output, outRate, outChannels, Double(report.frames) / Double(outRate), encoding.rawValue,
                          Date().timeIntervalSince(start))
        if gain != 1 { line += String(format: " (rescaled by %.4f to peak 0.99)", gain) }
        if report.clippedSamples > 0 { line += " (clipped \(report.clippedSamples) samples)" }
        print(line)
    }

    /// Reads the input in blocks, remixes and resamples each, and hands the result to `sink`.
    private func stream(outRate: Int, outChannels: Int, _ sink: (AudioBuffer) throws -> Void) throws {
        let reader = try AudioFileReader(path: input)
        let resampler = reader.info.sampleRate == outRate ? nil
            : try Resampler(inputRate: reader.info.sampleRate, outputRate: outRate, channelCount: outChannels)
        while let block = try reader.read(maxFrames: 65536) {
            let mixed = try block.convertingChannels(to: outChannels)
            let out = try resampler?.process(mixed) ?? mixed
            if out.frameCount > 0 { try sink(out) }
        }
        if let tail = try resampler?.flush(), tail.frameCount > 0 { try sink(tail) }
    }
}
