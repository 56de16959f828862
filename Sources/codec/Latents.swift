// `codec latents`: the encoder latents of audio files, as the quantizer sees them, into one [N, D] `.npy`
// file (to train codebooks on with `codec rvq train`).
import ArgumentParser
import Codec
import Foundation

struct Latents: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract a model's encoder latents of audio files as [N, D] vectors (.npy float32).")

    @Argument(help: "Audio files (any rate and channel count; converted to the model's).")
    var inputs: [String]

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .shortAndLong, help: "Output vectors (.npy [N, D]): one row per latent frame, files in order.")
    var output: String

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one audio file") }
    }

    func run() throws {
        let start = Date()
        let model = try modelOptions.load(parts: .encoder)
        let D = model.config.dimension
        var rows: [Float] = []
        var seconds = 0.0
        for path in inputs {
            let audio = try readForModel(path, model)
            seconds += audio.duration
            // Each segment's [1, D, F] latents become F rows of D values.
            for z in try model.quantizerInputs(audio.samples, channels: audio.channelCount) {
                let f = z.shape[2]
                var block = [Float](repeating: 0, count: f * D)
                for d in 0..<D { for t in 0..<f { block[t * D + d] = z.data[d * f + t] } }
                rows.append(contentsOf: block)
            }
        }
        try RVQFiles.writeVectors(rows, dimension: D, to: output)
        print(String(format: "wrote %@: %d latent vectors of dimension %d from %d file(s), %.2f s of audio, in %.2f s",
                     output, rows.count / D, D, inputs.count, seconds, elapsed(start)))
    }
}
