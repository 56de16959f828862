// `codec train`: trains a causal 24 kHz codec on a directory of audio with µP-scaled Adam, writing
// checkpoints that resume exactly and a model file every command can load. Ctrl-C saves and exits.
import ArgumentParser
import Codec
import Dispatch
import Foundation
import Metrics
import NN
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a codec (causal 24 kHz SEANet + residual VQ) on a directory of audio.",
        discussion: """
        Writes MODEL (the model file) and MODEL.ckpt (model, optimizer, quantizer, data position and RNG state)
        every --checkpoint-every steps and on Ctrl-C; --resume continues from MODEL.ckpt exactly.
        Width scaling: with --parameterization mup (default) the learning rate tuned at --base-width holds at
        every --width (Tensor Programs V); sp is PyTorch's standard parameterization, for comparison.
        """)

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case causal24k = "causal-24k"
    }

    @Option(help: ArgumentHelp("Directory of training audio (any format and rate libsndfile reads; subfolders too).", valueName: "dir"))
    var data: String

    @Option(help: "Architecture preset: causal-24k (SEANet, ratios 8·5·4·2, 75 frames/s, D 128, 1024 codes per stage).")
    var config: Preset = .causal24k

    @Option(help: "Width (SEANet n_filters).")
    var width: Int = 16

    @Option(help: "µP base width (where µP equals standard parameterization).")
    var baseWidth: Int = 8

    @Option(help: "mup or sp.")
    var parameterization: String = "mup"

    @Option(help: "RVQ stages (0.75 kbps each).")
    var stages: Int = 8

    @Option(help: "Codes per stage (1024: 0.75 kbps per stage).")
    var codebookSize: Int = 1024

    @Option(help: "LSTM layers in encoder and decoder (0: none).")
    var lstm: Int = 0

    @Option(help: "Total optimisation steps (the learning-rate schedule ends here).")
    var steps: Int?

    @Option(help: "Peak learning rate.")
    var lr: Double = 3e-3

    @Option(help: "Warm-up steps.")
    var warmup: Int = 200

    @Option(help: "Crops per batch.")
    var batch: Int = 8

    @Option(help: "Crop length in seconds (rounded to whole frames).")
    var cropSeconds: Double = 0.4

    @Option(help: ArgumentHelp("Weight of each RVQ stage's commitment term (default 1/stages: EnCodec's weight 1 on the mean over stages; with --resume, the checkpoint's unless given).", valueName: "w"))
    var commitmentWeight: Double?

    @Option(help: "Seed of initialisation, data order and quantizer.")
    var seed: UInt64 = 0

    @Option(name: .shortAndLong, help: ArgumentHelp("Model file to write (.safetensors).", valueName: "model"))
    var output: String?

    @Option(help: "Write checkpoint and model every N steps.")
    var checkpointEvery: Int = 100

    @Option(help: "Run the per-stage report on held-out clips every N steps (0: only at the end).")
    var evalEvery: Int = 0

    @Option(help: "Fraction of the data files held out for evaluation (chosen by a hash of the path, never trained on).")
    var heldOut: Double = 0.05

    @Option(help: "Held-out clips used by the evaluation.")
    var evalClips: Int = 8

    @Option(help: "Print a progress line every N steps.")
    var logEvery: Int = 10

    @Flag(help: "Continue from the checkpoint beside the output (MODEL.ckpt).")
    var resume = false

    @Flag(help: "No progress lines (errors and the summary only).")
    var quiet = false

    @Flag(help: "Print the held-out files of --data (absolute paths, one per line; the split --held-out gives) and exit.")
    var listHeldOut = false

    func validate() throws {
        guard Parameterization(rawValue: parameterization) != nil else {
            throw ValidationError("--parameterization must be mup or sp (got '\(parameterization)')")
        }
        if listHeldOut { return }
        guard let steps, steps >= 1 else { throw ValidationError(self.steps == nil ? "--steps is required" : "--steps must be at least 1") }
        guard output != nil else { throw ValidationError("-o/--output (the model file to write) is required") }
        guard cropSeconds > 0 else { throw ValidationError("--crop-seconds must be positive") }
        if let w = commitmentWeight, !(w >= 0 && w.isFinite) { throw ValidationError("--commitment-weight must be a finite number ≥ 0 (got \(w))") }
        guard checkpointEvery >= 1, logEvery >= 1, evalEvery >= 0 else {
            throw ValidationError("--checkpoint-every and --log-every must be ≥ 1, --eval-every ≥ 0")
        }
    }

    var checkpointPath: String { output! + ".ckpt" }

    func run() throws {
        if listHeldOut {
            let corpus = try AudioCorpus(directory: data, sampleRate: CodecConfig.trainable24kHz(filters: width).sampleRate,
                                         heldOutFraction: heldOut)
            for f in corpus.heldOut { print(f.path) }
            return
        }
        let steps = steps!, output = output!
        AllocatorPolicy.keepFreedMemory()  // each step frees and reallocates the same large tapes and gradients
        let trainer: Trainer
        if resume {
            trainer = try Trainer.resume(checkpoint: checkpointPath, dataDirectory: data, steps: steps, commitmentWeight: commitmentWeight)
            log("resumed \(checkpointPath) at step \(trainer.step)")
            if let saved = trainer.checkpointSettings?.commitmentWeightPerStage, trainer.settings.commitmentWeightPerStage != saved {
                log("commitment weight changed from \(saved) to \(trainer.settings.commitmentWeightPerStage) at step \(trainer.step)")
            }
        } else {
            var s = TrainerSettings(filters: width, steps: steps)
            s.baseFilters = baseWidth
            s.parameterization = Parameterization(rawValue: parameterization)!
            s.codebooks = stages
            s.codebookSize = codebookSize
            s.lstmLayers = lstm
            s.learningRate = lr
            s.warmupSteps = warmup
            s.batchSize = batch
            let hop = s.codecConfig.hopLength
            s.cropLength = max(1, Int((cropSeconds * Double(s.codecConfig.sampleRate) / Double(hop)).rounded())) * hop
            if let commitmentWeight { s.commitmentWeight = commitmentWeight }
            s.seed = seed
            s.heldOutFraction = heldOut
            trainer = try Trainer(settings: s, dataDirectory: data)
        }
        defer { trainer.stop() }
        let s = trainer.settings
        let corpus = trainer.sampler.corpus
        log(String(format: "training %@ width %d (%@, base %d), %d parameters, batch %d × %.2f s, on %d files (%.1f min), %d held out",
                   s.codecConfig.name, s.filters, s.parameterization.rawValue, s.baseFilters, trainer.model.parameterCount,
                   s.batchSize, Double(s.cropLength) / Double(s.codecConfig.sampleRate), corpus.training.count,
                   corpus.trainingSeconds / 60, corpus.heldOut.count))

        let interrupted = InterruptFlag()
        let start = Date()
        var window: [StepReport] = []
        var lastSaved = trainer.step
        while trainer.step < s.steps && !interrupted.isSet {
            let r = try trainer.trainStep()
            window.append(r)
            if r.step % logEvery == 0 || r.step == s.steps {
                if !quiet { print(progressLine(window, trainer: trainer)) }
                window.removeAll()
                fflush(stdout)
            }
            if r.step % checkpointEvery == 0 {
                try save(trainer)
                lastSaved = r.step
            }
            if evalEvery > 0, r.step % evalEvery == 0, trainer.quantizer.isInitialized {
                try evaluate(trainer)
            }
        }
        if trainer.step != lastSaved || !FileManager.default.fileExists(atPath: checkpointPath) { try save(trainer) }
        if interrupted.isSet {
            log("interrupted at step \(trainer.step): saved \(checkpointPath); continue with --resume")
            throw ExitCode(130)
        }
        if trainer.quantizer.isInitialized { try evaluate(trainer) }
        print(String(format: "trained %d steps in %.0f s; wrote %@ and %@", trainer.step, Date().timeIntervalSince(start),
                     trainer.quantizer.isInitialized ? output : "(no model yet: quantizer not initialised)", checkpointPath))
    }

    private func save(_ trainer: Trainer) throws {
        try trainer.saveCheckpoint(to: checkpointPath)
        if trainer.quantizer.isInitialized { try trainer.exportModel(to: output!) }
    }

    /// Per-stage log-mel distance, STFT loss and SI-SDR on the held-out clips (means), one line per stage.
    private func evaluate(_ trainer: Trainer) throws {
        let model = try trainer.codecModel()
        let clips = try trainer.sampler.heldOutClips(length: 5 * model.config.sampleRate, maxClips: evalClips)
        guard !clips.isEmpty else { log("no held-out clips to evaluate"); return }
        let evaluator = try StageEvaluator(model: model)
        let reports = try clips.map { try evaluator.evaluate($0.audio, channels: 1, path: $0.file) }
        print("eval step \(trainer.step) on \(clips.count) held-out clips:")
        print("  stages   kbps   log-mel   MR-STFT   SI-SDR dB   SNR dB")
        for k in 1...evaluator.stageCount {
            let m = StageMeans(reports, stage: k)
            print(String(format: "  %6d %6.2f %9@ %9@ %11@ %8@", k, reports[0].stages[k - 1].kbps, fmt(m.logMel), fmt(m.mrSTFT),
                         fmt(m.siSDR), fmt(m.snr)))
        }
        fflush(stdout)
    }

    private func fmt(_ m: MeanMetric) -> String {
        guard let v = m.mean.value else { return "n/a" }
        return String(format: "%.3f", v)
    }

    private func progressLine(_ window: [StepReport], trainer: Trainer) -> String {
        let n = Double(window.count)
        func mean(_ f: (StepReport) -> Double) -> Double { window.map(f).reduce(0, +) / n }
        let last = window.last!
        let secs = window.map(\.seconds).reduce(0, +)
        let usage = last.codesUsed.isEmpty ? "buffering latents for k-means"
            : "codes used " + last.codesUsed.map(String.init).joined(separator: "/")
        let audioPerSecond = Double(trainer.settings.batchSize * trainer.settings.cropLength) * n
            / Double(trainer.settings.codecConfig.sampleRate) / secs
        return String(format: "step %d/%d lr %.2e | total %.4f l1 %.4f stft %.4f mel %.4f commit %.4f | grad %.2f | %@ | %.2f steps/s, %.2f s audio/s",
                      last.step, trainer.settings.steps, last.learningRate, mean(\.total), mean(\.l1), mean(\.stft), mean(\.mel),
                      mean(\.commitment), mean(\.gradientNorm), usage, n / secs, audioPerSecond)
    }

    private func log(_ s: String) {
        if !quiet { FileHandle.standardError.write(Data((s + "\n").utf8)) }
    }
}

/// Set by SIGINT or SIGTERM: the training loop finishes its step, saves a checkpoint and exits.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock(); let again = self.set; self.set = true; self.lock.unlock()
                let msg = again ? "second interrupt: exiting without saving\n" : "interrupt: finishing the step, then saving a checkpoint\n"
                FileHandle.standardError.write(Data(msg.utf8))
                if again { exit(130) }
            }
            source.resume()
            sources.append(source)
        }
    }

    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return set }
}
