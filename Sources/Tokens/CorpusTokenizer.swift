// Tokenizing a corpus: inputs of one shard encoded in parallel (one input per worker, the model's kernels
// given the cores left over), each token file written to a temporary name and renamed, each finished
// input appended to the shard's manifest, finished inputs of an earlier run skipped.
import AudioIO
import Codec
import Foundation
import ModelFile
import NN

/// Counts of a tokenization run, reported to the progress callback and at the end.
public struct TokenizeProgress: Sendable {
    /// Inputs of this shard, and how many are done (encoded, skipped or failed).
    public var total = 0
    public var done = 0
    public var encoded = 0
    public var skipped = 0
    public var failed = 0
    /// Seconds of audio in this shard (nil when not probed) and seconds done (encoded + skipped).
    public var totalAudio: Double? = nil
    public var doneAudio: Double = 0
    /// Seconds of audio encoded in this run (the throughput measure) and wall time so far.
    public var encodedAudio: Double = 0
    public var elapsed: Double = 0
    /// The failures of this run: relative path and reason.
    public var failures: [(relative: String, reason: String)] = []
}

/// Runs `codec tokenize` over a list of inputs.
public final class CorpusTokenizer {
    public let model: CodecModel
    public let settings: TokenizeSettings
    public let outputDirectory: String
    public let shard: ShardSpec
    /// Inputs encoded at once.
    public let jobs: Int
    /// Stop at the first failure (after the inputs in flight finish) instead of recording and continuing.
    public let failFast: Bool

    /// `jobs` defaults to the number of cores; the model's own kernels then get cores / jobs threads.
    public init(model: CodecModel, modelHash: String, bandwidth: Double?, outputDirectory: String,
                shard: ShardSpec = .all, jobs: Int? = nil, failFast: Bool = false) throws {
        if let why = model.tokenFileLimitation { throw TokensError.unsupportedModel(name: model.config.name, reason: why) }
        let c = model.config
        if let bandwidth, !c.bandwidths.contains(bandwidth) {
            throw CodecError.unsupportedBandwidth(requested: bandwidth, available: c.bandwidths)
        }
        guard c.bins <= 32768 else {
            throw TokensError.unsupportedModel(name: c.name, reason: "codebooks of \(c.bins) codes do not fit int16 token files")
        }
        let bw = bandwidth ?? c.bandwidths.max() ?? Double(c.codebooks) * c.bandwidthPerCodebook
        settings = TokenizeSettings(model: c.name, modelHash: modelHash, bandwidth: bw,
                                    codebooks: c.codebookCount(forBandwidth: bw))
        self.model = model
        self.outputDirectory = Corpus.absolute(outputDirectory)
        self.shard = shard
        self.jobs = max(1, jobs ?? ProcessInfo.processInfo.activeProcessorCount)
        self.failFast = failFast
    }

    /// Manifest of this shard in the output directory.
    public var manifestPath: String { (outputDirectory as NSString).appendingPathComponent(shard.manifestName) }

    /// The inputs of this shard.
    public func inputsOfShard(_ inputs: [CorpusInput]) -> [CorpusInput] { inputs.filter { shard.contains($0.relative) } }

    /// Tokenizes the inputs of this shard (others are ignored). `probeDurations` reads every header first
    /// so progress can show audio hours and an ETA. `progress` is called after each input (serialized).
    /// Throws the first failure when `failFast`; otherwise failures are in the result and the manifest.
    public func run(_ allInputs: [CorpusInput], probeDurations: Bool = false,
                    progress: ((TokenizeProgress) -> Void)? = nil) throws -> TokenizeProgress {
        let start = Date()
        let inputs = inputsOfShard(allInputs)
        try createDirectory(outputDirectory)
        let previous = FileManager.default.fileExists(atPath: manifestPath)
            ? Manifest.latest(try Manifest.read(path: manifestPath)) : [:]
        let appender = try ManifestAppender(path: manifestPath)
        defer { appender.close() }

        var state = TokenizeProgress()
        state.total = inputs.count
        if probeDurations {
            state.totalAudio = inputs.reduce(0) { $0 + ((try? AudioFile.info($1.source).duration) ?? 0) }
        }
        let lock = NSLock()
        var next = 0
        var stop: Error? = nil
        var results = [ManifestEntry?](repeating: nil, count: inputs.count)
        let workers = min(jobs, max(1, inputs.count))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let kernelThreads = max(1, cores / workers)

        Parallel.withThreads(kernelThreads) {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    lock.lock()
                    if stop != nil || next >= inputs.count { lock.unlock(); return }
                    let i = next; next += 1
                    lock.unlock()
                    let (entry, skipped) = process(inputs[i], previous: previous[inputs[i].relative])
                    var appendError: Error? = nil
                    if !skipped { do { try appender.append(entry) } catch { appendError = error } }
                    lock.lock()
                    results[i] = entry
                    state.done += 1
                    let seconds = entry.duration ?? 0
                    switch (entry.status, skipped) {
                    case (.ok, true): state.skipped += 1; state.doneAudio += seconds
                    case (.ok, false): state.encoded += 1; state.doneAudio += seconds; state.encodedAudio += seconds
                    case (.failed, _):
                        state.failed += 1
                        state.failures.append((entry.relative, entry.error ?? "unknown"))
                        if failFast && stop == nil {
                            stop = TokensError.invalidInput(path: entry.source, reason: entry.error ?? "failed")
                        }
                    }
                    if let appendError, stop == nil { stop = appendError }
                    state.elapsed = Date().timeIntervalSince(start)
                    progress?(state)
                    lock.unlock()
                }
            }
        }
        // Compact: this run's entries plus earlier entries of inputs not in this run, sorted.
        var final = previous
        for case let e? in results { final[e.relative] = e }
        appender.close()
        try Manifest.write(Array(final.values), to: manifestPath)
        state.elapsed = Date().timeIntervalSince(start)
        if let stop { throw stop }
        return state
    }

    /// Encodes one input, or keeps its earlier result. Never throws: failures become failed entries.
    func process(_ input: CorpusInput, previous: ManifestEntry?) -> (ManifestEntry, skipped: Bool) {
        var entry = ManifestEntry(source: input.source, relative: input.relative, output: input.output, size: 0,
                                  mtime: 0, duration: nil, frames: nil, codebooks: nil, bytes: nil,
                                  model: settings.model, modelHash: settings.modelHash, bandwidth: settings.bandwidth,
                                  status: .failed, error: nil)
        do {
            let stamp = try SourceStamp(path: input.source)
            entry.size = stamp.size; entry.mtime = stamp.mtime
            if let previous, Manifest.isFinished(previous, source: stamp, settings: settings, outputDirectory: outputDirectory) {
                return (previous, true)
            }
            let audio = try AudioFile.read(input.source, sampleRate: model.config.sampleRate, channels: model.config.channels)
            entry.duration = audio.duration
            let encoded = try model.encode(audio.samples, channels: audio.channelCount, bandwidth: settings.bandwidth)
            let codes = try model.tokenArray(encoded)
            let out = (outputDirectory as NSString).appendingPathComponent(input.output)
            try createDirectory((out as NSString).deletingLastPathComponent)
            try TokenFile.writeCodes(codes, to: out)
            entry.frames = codes.columns; entry.codebooks = codes.rows
            entry.bytes = (try FileManager.default.attributesOfItem(atPath: out)[.size] as? NSNumber)?.intValue
            entry.status = .ok
        } catch {
            entry.error = (error as? CustomStringConvertible)?.description ?? "\(error)"
        }
        return (entry, false)
    }

    /// Creates a directory and its parents; another shard creating it at the same moment is fine.
    private func createDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { return }
            throw TokensError.unwritable(path: path, reason: error.localizedDescription)
        }
    }
}
