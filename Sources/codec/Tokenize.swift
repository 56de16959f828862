// `codec tokenize`: a corpus of audio to one int16 `.npy` of codes [K, T] per input plus a manifest;
// resumable, shardable over Slurm job arrays and Kubernetes indexed jobs; `--merge` joins shard manifests.
import ArgumentParser
import Codec
import Foundation
import Tokens

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize a corpus: one .npy of codes [K, T] (int16) per audio file, and manifest.jsonl.",
        discussion: """
        Inputs are audio files, directories (searched recursively for audio files) and manifests (.jsonl with \
        a "path" field per line, or .txt/.lst/.scp with one path per line). Token files mirror the input tree \
        under OUTDIR. Rerunning skips inputs already done with the same source, model and bandwidth. A file \
        that cannot be read or encoded is recorded as failed in the manifest and the run goes on (exit status 1 \
        at the end). With --shard I/N (default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or \
        JOB_COMPLETION_INDEX with NEURALCODEC_SHARD_COUNT) only the inputs of shard I are done and the \
        manifest is manifest.shard-I-of-N.jsonl; `codec tokenize --merge -o OUTDIR` then writes manifest.jsonl.
        """)

    @Argument(help: "Audio files, directories or manifests.")
    var inputs: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Output directory.", valueName: "OUTDIR"))
    var output: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Target bandwidth in kbps (one of the model's; default: the largest).")
    var bandwidth: Double?

    @Option(help: ArgumentHelp("Do only shard I of N (0-based); default from the Slurm or Kubernetes environment.", valueName: "I/N"))
    var shard: String?

    @Option(help: "Files encoded at once (default: the number of cores); the model's kernels get the remaining cores.")
    var jobs: Int?

    @Flag(help: "Stop at the first file that fails instead of recording it and going on.")
    var failFast = false

    @Flag(help: "Join the shard manifests in OUTDIR into OUTDIR/manifest.jsonl (no inputs, no model).")
    var merge = false

    @Flag(help: "No progress bar, even on a terminal.")
    var quiet = false

    func validate() throws {
        if merge && !inputs.isEmpty { throw ValidationError("--merge takes no inputs (only -o OUTDIR)") }
        if !merge && inputs.isEmpty { throw ValidationError("give audio files, directories or manifests to tokenize") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1 (got \(jobs))") }
        if let shard { _ = try ShardSpec(parsing: shard) }
    }

    func run() throws {
        if merge { return try runMerge() }
        let start = Date()
        let shardSpec = try shard.map(ShardSpec.init(parsing:)) ?? ShardSpec.fromEnvironment() ?? .all
        let archive = try modelOptions.loadArchive()
        let model = try CodecModel(archive, parts: .encoder)
        let tokenizer = try CorpusTokenizer(model: model, modelHash: archive.fingerprint, bandwidth: bandwidth,
                                            outputDirectory: output, shard: shardSpec, jobs: jobs, failFast: failFast)
        let all = try Corpus.collect(inputs)
        let showProgress = !quiet && stderrIsTerminal
        let bar = ProgressBar()
        var result: TokenizeProgress
        do {
            result = try tokenizer.run(all, probeDurations: showProgress) { p in if showProgress { bar.draw(p) } }
        } catch {
            if showProgress { bar.finish() }
            throw error
        }
        if showProgress { bar.finish() }
        for f in result.failures { // the reason usually names the file already
            printError(TokensError.invalidArgument(f.reason.contains(f.relative) ? "failed: \(f.reason)" : "failed: \(f.relative): \(f.reason)"))
        }
        let wall = Date().timeIntervalSince(start)
        let hours = result.encodedAudio / 3600
        print(String(format: "tokenized %d of %d files (shard %@): %d encoded (%.4f h audio), %d skipped, %d failed in %.2f s (%.1f audio-h/h), %d codebooks at %.2f kbps → %@",
                     result.done, result.total, shardSpec.description, result.encoded, hours, result.skipped,
                     result.failed, wall, wall > 0 ? hours / (wall / 3600) : 0, tokenizer.settings.codebooks,
                     tokenizer.settings.bandwidth, tokenizer.manifestPath))
        if result.failed > 0 { throw ExitCode.failure }
    }

    private func runMerge() throws {
        let entries = try Manifest.merge(directory: output)
        let failed = entries.filter { $0.status == .failed }.count
        let hours = entries.reduce(0) { $0 + ($1.status == .ok ? ($1.duration ?? 0) : 0) } / 3600
        print(String(format: "merged %d entries (%d ok, %d failed, %.4f h audio) → %@", entries.count,
                     entries.count - failed, failed, hours, (output as NSString).appendingPathComponent("manifest.jsonl")))
    }
}

/// One-line progress on standard error: files, audio hours and ETA, redrawn in place.
final class ProgressBar {
    private var lastDraw = Date.distantPast

    func draw(_ p: TokenizeProgress) {
        let now = Date()
        guard p.done == p.total || now.timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = now
        let fraction: Double
        if let total = p.totalAudio, total > 0 { fraction = p.doneAudio / total } else { fraction = p.total > 0 ? Double(p.done) / Double(p.total) : 1 }
        let width = 24, filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "=", count: min(width, filled)) + String(repeating: " ", count: max(0, width - filled))
        // ETA from the encoding rate of this run (skipped inputs cost nothing).
        var eta = "--"
        let remainingAudio = (p.totalAudio ?? 0) - p.doneAudio
        if p.encodedAudio > 0, remainingAudio > 0 {
            eta = formatDuration(remainingAudio / (p.encodedAudio / p.elapsed))
        } else if p.encoded > 0 {
            eta = formatDuration(Double(p.total - p.done) * p.elapsed / Double(p.encoded))
        }
        let audio = p.totalAudio.map { String(format: "%.3f/%.3f h", p.doneAudio / 3600, $0 / 3600) } ?? String(format: "%.3f h", p.doneAudio / 3600)
        let line = "\r[\(bar)] \(p.done)/\(p.total) files, \(audio) audio, \(p.failed) failed, ETA \(eta)  "
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }

    private func formatDuration(_ s: Double) -> String {
        guard s.isFinite else { return "--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}
