// `codec tokens layout|unlayout|embeddings`: token arrays to the sequences language models read and back,
// and the codec's codebook vectors for an LM's embeddings.
import ArgumentParser
import Codec
import Foundation
import Tokens

extension TokenPattern: ExpressibleByArgument {}

/// `--pattern` and `--codebooks`, shared by `tokens unlayout` and `decode`.
struct TokenLayoutOptions: ParsableArguments {
    @Option(help: "Layout of a .npy sequence: \(TokenPattern.allCases.map(\.rawValue).joined(separator: ", ")) (default: plain codes [K, T]).")
    var pattern: TokenPattern?

    @Option(help: "Codebooks K of a flatten sequence (a rank-1 array does not say).")
    var codebooks: Int?
}

struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Lay token arrays out for sequence models, revert them, export codebook embeddings.",
        subcommands: [Layout.self, Unlayout.self, Embeddings.self])

    struct Layout: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Codes [K, T] (.npy) to a sequence in a pattern (.npy int32).",
            discussion: """
            parallel: [K, T+1]; delay (MusicGen): [K, T+K], codebook q shifted by q steps; coarse-first (VALL-E): \
            [K, 1+2T], codebook 0 then the others. These three start with one all-special step, and the special \
            token is N (the codebook size), as audiocraft's patterns. flatten (AudioLM, Bark): [T*K], frame-major, \
            codebook q's codes offset by q*N.
            """)

        @Argument(help: "Codes [K, T] (.npy, any integer type).")
        var input: String

        @Option(help: "Pattern: \(TokenPattern.allCases.map(\.rawValue).joined(separator: ", ")).")
        var pattern: TokenPattern

        @OptionGroup var size: CodebookSizeOptions

        @Option(name: .shortAndLong, help: "Output .npy.")
        var output: String

        func run() throws {
            let n = try size.resolve()
            let codes = try TokenFile.readCodes(path: input)
            let seq = try TokenLayout(pattern: pattern, bins: n).layout(codes, path: input)
            try TokenFile.writeSequence(seq, to: output)
            print("laid out \(input) [\(codes.rows), \(codes.columns)] as \(pattern.rawValue) → \(output) \(seq.shape) (special token \(n))")
        }
    }

    struct Unlayout: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A sequence in a pattern (.npy) back to codes [K, T] (.npy int16).")

        @Argument(help: "Sequence (.npy).")
        var input: String

        @Option(help: "Pattern: \(TokenPattern.allCases.map(\.rawValue).joined(separator: ", ")).")
        var pattern: TokenPattern

        @Option(help: "Codebooks K (needed for flatten).")
        var codebooks: Int?

        @OptionGroup var size: CodebookSizeOptions

        @Option(name: .shortAndLong, help: "Output .npy.")
        var output: String

        func run() throws {
            let n = try size.resolve()
            let codes = try TokenFile.readCodes(path: input, pattern: pattern, bins: n, codebooks: codebooks)
            try TokenFile.writeCodes(codes, to: output)
            print("reverted \(input) (\(pattern.rawValue)) → \(output) [\(codes.rows), \(codes.columns)]")
        }
    }

    struct Embeddings: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export each codebook's vectors (codebook.<k> [N, D]) as safetensors.")

        @OptionGroup var modelOptions: ModelOptions

        @Option(name: .shortAndLong, help: "Output .safetensors.")
        var output: String

        func run() throws {
            let archive = try modelOptions.loadArchive()
            let model = try CodecModel(archive, parts: .encoder)  // only the codebooks are read
            try CodebookExport.write(model, fingerprint: archive.fingerprint, to: output)
            let c = model.config
            print("exported \(c.codebooks) codebooks of \(c.bins) × \(c.dimension) from \(c.name) → \(output)")
        }
    }
}

/// Codebook size N of `tokens layout`/`unlayout`: `--bins`, else `--model`'s, else the default model's.
struct CodebookSizeOptions: ParsableArguments {
    @Option(help: "Codebook size N (special token N, flatten offsets q·N). Default: the model's.")
    var bins: Int?

    @Option(name: .long, help: ArgumentHelp("Model whose codebook size to use (default: the shipped model).", valueName: "path"))
    var model: String?

    func resolve() throws -> Int {
        if let bins {
            guard bins >= 1 else { throw ValidationError("--bins must be positive (got \(bins))") }
            return bins
        }
        return try ModelArchive.load(path: DefaultModel.path(given: model)).config.bins
    }
}
