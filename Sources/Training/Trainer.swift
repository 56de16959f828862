// Trainer: one training step of the codec (encoder → residual VQ → decoder, losses, backward, Adam with µP),
// checkpoints that resume exactly, and the export of a model file that `CodecModel` loads.
import Codec
import DSP
import Foundation
import ModelFile
import NN

/// Everything that defines a training run; stored in every checkpoint (JSON in the metadata).
public struct TrainerSettings: Codable, Equatable, Sendable {
    /// n_filters of the SEANet (the width µP scales), e.g. 16.
    public var filters: Int
    /// µP base width: at `baseFilters` µP equals standard parameterization (e.g. 8).
    public var baseFilters: Int = 8
    public var parameterization: Parameterization = .muP
    /// Residual VQ stages (8 → 6 kbps at 75 frames/s with 1024 codes).
    public var codebooks: Int = 8
    /// Codes per stage, N (1024: 10 bits, 0.75 kbps per stage at 75 frames/s).
    public var codebookSize: Int = 1024
    /// LSTM layers in encoder and decoder (EnCodec: 2; 0 drops them).
    public var lstmLayers: Int = 0
    /// Peak Adam learning rate η (per-parameter µP multipliers apply on top).
    public var learningRate: Double = 1e-3
    public var warmupSteps: Int = 200
    /// Total steps of the schedule (the decay reaches its floor here).
    public var steps: Int
    public var decay: LearningRateSchedule.Decay = .cosine
    /// Crops per batch and crop length in samples (a multiple of the hop, 320 at 24 kHz).
    public var batchSize: Int = 8
    public var cropLength: Int = 9600
    /// Global gradient-norm clip (0: off).
    public var clipNorm: Double = 10
    /// Loss weights: L1 waveform, multi-resolution STFT, multi-scale mel.
    public var l1Weight: Double = 0.1
    public var stftWeight: Double = 1
    public var melWeight: Double = 1
    /// Weight of each stage's commitment term; nil: 1 / `codebooks`, which is EnCodec's weight 1 on the mean
    /// over stages. (Runs before this default used 1 per stage, 8 times as much at 8 stages: the default model
    /// trained better after its step 8,000, when it changed to 1/8; see its README.)
    public var commitmentWeight: Double?
    /// The weight in use: `commitmentWeight`, else 1 / `codebooks`.
    public var commitmentWeightPerStage: Double { commitmentWeight ?? 1 / Double(codebooks) }
    public var seed: UInt64 = 0
    /// Fraction of corpus files held out for evaluation (by path hash; never trained on).
    public var heldOutFraction: Double = 0.05

    public init(filters: Int, steps: Int) {
        self.filters = filters
        self.steps = steps
    }

    /// The codec this run trains: causal 24 kHz mono SEANet, D = 128, `codebooks` × `codebookSize` codes.
    public var codecConfig: CodecConfig {
        var c = CodecConfig.trainable24kHz(filters: filters, codebooks: codebooks, lstmLayers: lstmLayers)
        if codebookSize != c.bins {
            c.bins = codebookSize
            // One bandwidth per stage prefix: k · log2(N) · frame rate / 1000 kbps.
            let perStage = log2(Double(codebookSize)) * Double(c.frameRate) / 1000
            c.bandwidths = (1...codebooks).map { Double($0) * perStage }
        }
        return c
    }

    func validate() throws {
        func bad(_ name: String, _ value: Any, _ reason: String) -> TrainingError {
            .invalidParameter(name: name, value: "\(value)", reason: reason)
        }
        guard filters >= 1 else { throw bad("width", filters, "must be ≥ 1") }
        guard baseFilters >= 1 else { throw bad("base width", baseFilters, "must be ≥ 1") }
        guard steps >= 1 else { throw bad("steps", steps, "must be ≥ 1") }
        guard learningRate > 0, learningRate.isFinite else { throw bad("learning rate", learningRate, "must be positive") }
        guard codebookSize >= 2, codebooks >= 1 else { throw bad("codebooks × size", "\(codebooks) × \(codebookSize)", "need ≥ 1 stage of ≥ 2 codes") }
        guard batchSize >= 1 else { throw bad("batch size", batchSize, "must be ≥ 1") }
        let hop = codecConfig.hopLength
        guard cropLength >= hop, cropLength % hop == 0 else {
            throw bad("crop length", cropLength, "must be a positive multiple of the hop (\(hop) samples)")
        }
        if let w = commitmentWeight { guard w >= 0, w.isFinite else { throw bad("commitment weight", w, "must be a finite number ≥ 0") } }
        guard clipNorm >= 0 else { throw bad("clip norm", clipNorm, "must be ≥ 0") }
        guard heldOutFraction >= 0, heldOutFraction < 1 else { throw bad("held-out fraction", heldOutFraction, "must be in [0, 1)") }
    }
}

/// What one step did: the loss terms (unweighted), the gradient norm before clipping, and codebook use.
public struct StepReport: Sendable {
    public let step: Int
    public let learningRate: Double
    public let l1: Double
    public let stft: Double
    public let mel: Double
    /// Σ over stages of the commitment terms.
    public let commitment: Double
    /// The weighted total that was minimised.
    public let total: Double
    public let gradientNorm: Double
    /// Distinct codes used in this batch, per stage (empty while the quantizer buffers latents for k-means).
    public let codesUsed: [Int]
    /// Wall time of the step in seconds (batch wait included).
    public let seconds: Double
}

/// Trains a codec on a corpus. Not thread-safe: one step at a time.
public final class Trainer {
    public let settings: TrainerSettings
    /// The settings the checkpoint a resumed trainer came from was saved with (nil for a new run); they
    /// differ from `settings` where `resume` changed them.
    public private(set) var checkpointSettings: TrainerSettings?
    public let model: TrainableSEANet
    public let optimizer: Adam
    public let quantizer: QuantizerTraining
    public let sampler: CropSampler
    public let schedule: LearningRateSchedule
    /// Steps completed.
    public private(set) var step = 0
    private var loader: DataLoader
    private let l1Loss = L1WaveformLoss()
    private let stftLoss: MRSTFTLoss
    private let melLoss: MultiScaleMelLoss

    /// Metadata keys of checkpoints.
    public static let formatKey = "format", formatValue = "neuralcodec-checkpoint"
    public static let settingsKey = "trainer_settings"

    /// A fresh run: seeded initialisation, data from `dataDirectory` (audio files, any format and rate).
    public convenience init(settings: TrainerSettings, dataDirectory: String) throws {
        try self.init(settings: settings, corpus: try AudioCorpus(directory: dataDirectory, sampleRate: settings.codecConfig.sampleRate,
                                                                  heldOutFraction: settings.heldOutFraction))
    }

    init(settings: TrainerSettings, corpus: AudioCorpus) throws {
        try settings.validate()
        // FFTW_MEASURE may pick another algorithm in another process (last-bit differences that training
        // amplifies); heuristic plans are the same in every process, so a resumed run repeats exactly.
        FFTPlanning.rigor = .estimate
        self.settings = settings
        let config = settings.codecConfig
        let scaling = WidthScaling(parameterization: settings.parameterization, baseFilters: settings.baseFilters)
        model = try TrainableSEANet(config: config, scaling: scaling, seed: settings.seed)
        optimizer = Adam(model: model, scaling: scaling)
        var qc = QuantizerTrainingConfig(stages: settings.codebooks, codebookSize: config.bins, dimension: config.dimension)
        qc.seed = settings.seed &+ 1
        quantizer = try QuantizerTraining(qc)
        sampler = try CropSampler(corpus: corpus, config: DataConfig(cropLength: settings.cropLength, batchSize: settings.batchSize,
                                                                      seed: settings.seed &+ 2))
        schedule = LearningRateSchedule(peak: settings.learningRate, warmupSteps: settings.warmupSteps, totalSteps: settings.steps,
                                        decay: settings.decay)
        stftLoss = try MRSTFTLoss()
        melLoss = try MultiScaleMelLoss(sampleRate: Double(config.sampleRate))
        loader = DataLoader(sampler: sampler)
    }

    /// Resumes the run saved in `checkpoint`, reading data from `dataDirectory` (the same corpus). With
    /// `steps`, the schedule is extended to that many steps (else the checkpoint's). With
    /// `commitmentWeight`, the run goes on with that weight (a recipe change from this step on, kept in the
    /// settings of later checkpoints); else the checkpoint's.
    public static func resume(checkpoint path: String, dataDirectory: String, steps: Int? = nil,
                              commitmentWeight: Double? = nil) throws -> Trainer {
        let file = try SafeTensors.read(path: path)
        let saved = try savedSettings(file, path: path)
        var settings = saved
        if let steps { settings.steps = steps }
        if let commitmentWeight { settings.commitmentWeight = commitmentWeight }
        let trainer = try Trainer(settings: settings, dataDirectory: dataDirectory)
        try trainer.restore(file, path: path)
        trainer.checkpointSettings = saved
        return trainer
    }

    private static func savedSettings(_ file: SafeTensorsFile, path: String) throws -> TrainerSettings {
        guard file.metadata[formatKey] == formatValue else {
            throw TrainingError.checkpoint(path: path, reason: "not a NeuralCodec training checkpoint (metadata format is \(file.metadata[formatKey] ?? "missing"))")
        }
        guard let json = file.metadata[settingsKey]?.data(using: .utf8),
              let settings = try? JSONDecoder().decode(TrainerSettings.self, from: json) else {
            throw TrainingError.checkpoint(path: path, reason: "missing or invalid \(settingsKey) in the metadata")
        }
        return settings
    }

    private func restore(_ file: SafeTensorsFile, path: String) throws {
        let floats = file.tensors.compactMapValues(\.floatData)
        for (i, p) in model.parameters.enumerated() {
            guard let t = floats[p.name] else { throw TrainingError.checkpoint(path: path, reason: "missing model tensor \(p.name)") }
            guard t.shape == p.shape else {
                throw TrainingError.checkpoint(path: path, reason: "\(p.name) has shape \(t.shape), the model needs \(p.shape)")
            }
            model.values[i] = t.values
        }
        try optimizer.load(floats, path: path)
        try quantizer.load(state: file.tensors, path: path)
        let position = try DataPosition(state: file.tensors, path: path)
        guard let s = file.tensors["trainer.step"]?.integerData?.values.first, s >= 0 else {
            throw TrainingError.checkpoint(path: path, reason: "missing trainer.step")
        }
        step = Int(s)
        loader.stop()
        loader = DataLoader(sampler: sampler, position: position)
    }

    // MARK: step

    /// One optimisation step on the next batch.
    public func trainStep() throws -> StepReport {
        let start = Date()
        let batch = try loader.next()
        let x = batch.audio  // [B, 1, L]
        model.zeroGradients()
        let (z, encoderTape) = model.encoderForward(x)
        let q = try quantizer.forward(z, update: true, dropout: true)
        let (y, decoderTape) = model.decoderForward(q.quantized)
        precondition(y.shape == x.shape, "decoder output \(y.shape) differs from the input \(x.shape): crop length must be a multiple of the hop")
        var dy = Tensor.zeros(y.shape)
        let l1 = l1Loss.backward(prediction: y, target: x, gradient: &dy, scale: Float(settings.l1Weight))
        let stft = try stftLoss.backward(prediction: y, target: x, gradient: &dy, scale: Float(settings.stftWeight)).loss
        let mel = try melLoss.backward(prediction: y, target: x, gradient: &dy, scale: Float(settings.melWeight)).loss
        let dq = model.decoderBackward(decoderTape, dAudio: dy)
        var dz = Tensor.zeros(z.shape)
        quantizer.backward(q, quantizedGradient: dq, commitmentWeight: Float(settings.commitmentWeightPerStage), latentGradient: &dz)
        model.encoderBackward(encoderTape, dLatent: dz)
        let total = settings.l1Weight * l1 + settings.stftWeight * stft + settings.melWeight * mel
            + settings.commitmentWeightPerStage * q.commitmentLoss
        guard total.isFinite else { throw TrainingError.nonFinite(what: "loss", step: step + 1) }
        let norm = settings.clipNorm > 0 ? clipGradientNorm(&model.gradients, maxNorm: settings.clipNorm)
                                         : clipGradientNorm(&model.gradients, maxNorm: .infinity)
        guard norm.isFinite else { throw TrainingError.nonFinite(what: "gradient norm", step: step + 1) }
        let lr = schedule.learningRate(at: step)
        optimizer.update(values: &model.values, gradients: model.gradients, lr: lr)
        step += 1
        var used = [Int]()
        if let codes = q.codes {
            for k in 0..<codes.stages {
                var seen = Set<Int32>()
                for t in 0..<codes.count { seen.insert(codes[stage: k, position: t]) }
                used.append(seen.count)
            }
        }
        return StepReport(step: step, learningRate: lr, l1: l1, stft: stft, mel: mel, commitment: q.commitmentLoss, total: total,
                          gradientNorm: norm, codesUsed: used, seconds: Date().timeIntervalSince(start))
    }

    // MARK: files

    /// Writes a checkpoint (model, optimizer, quantizer and data state, step, settings) through a temporary
    /// file and a rename, so an interrupted write never replaces a good checkpoint.
    public func saveCheckpoint(to path: String) throws {
        var tensors: [String: StoredTensor] = [:]
        for (name, t) in model.namedTensors() { tensors[name] = .float(t) }
        for (name, t) in optimizer.namedTensors() { tensors[name] = .float(t) }
        for (name, t) in quantizer.state() { tensors[name] = t }
        for (name, t) in loader.position.state { tensors[name] = t }
        tensors["trainer.step"] = .integer(IntTensorData(shape: [1], values: [Int64(step)]))
        let settingsJSON = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        let configJSON = String(decoding: try JSONEncoder().encode(settings.codecConfig), as: UTF8.self)
        try atomicWrite(path) { tmp in
            try SafeTensors.write(tensors, metadata: [Self.formatKey: Self.formatValue, Self.settingsKey: settingsJSON,
                                                      "codec_config": configJSON], to: tmp)
        }
    }

    /// The model as `CodecModel` loads it (throws while the quantizer has no codebooks yet).
    public func modelArchive() throws -> ModelArchive {
        guard quantizer.isInitialized else {
            throw TrainingError.invalidParameter(name: "quantizer", value: "uninitialised",
                                                 reason: "its codebooks are made from the first \(quantizer.config.initBufferMultiple)×\(quantizer.config.codebookSize) latent frames; train longer")
        }
        return try model.archive(codebooks: quantizer.embeddings)
    }

    /// Writes the model file (our safetensors format) through a temporary file and a rename.
    public func exportModel(to path: String) throws {
        let archive = try modelArchive()
        try atomicWrite(path) { try archive.write(to: $0) }
    }

    /// The model for inference (e.g. the per-stage report on held-out clips).
    public func codecModel() throws -> CodecModel { try CodecModel(try modelArchive()) }

    /// Stops the data loader's thread.
    public func stop() { loader.stop() }
}

/// Runs `write` on a temporary path beside `path`, then renames it over `path`; removes it on failure.
func atomicWrite(_ path: String, _ write: (String) throws -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    do {
        try write(tmp)
        if rename(tmp, path) != 0 {
            throw TrainingError.checkpoint(path: path, reason: "cannot rename the temporary file: \(String(cString: strerror(errno)))")
        }
    } catch {
        try? FileManager.default.removeItem(atPath: tmp)
        throw error
    }
}
