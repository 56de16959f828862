// The `codec` command-line tool: a tree of thin commands over the NeuralCodec libraries.
import ArgumentParser

@main
struct CodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "NeuralCodec: turn audio into discrete tokens and back.",
        subcommands: [Info.self, Convert.self, Encode.self, Decode.self, Roundtrip.self, Import.self, Eval.self,
                      Tokenize.self, TokensCommand.self, Rvq.self, Latents.self, ModelCommand.self, Train.self]
    )
}
