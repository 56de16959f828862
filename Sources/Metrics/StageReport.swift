// StageReport: what each RVQ stage of a codec buys. The input is encoded once (latents and codes kept),
// then decoded with the first 1, 2, …, K stages; each decoding is measured against the input.
// Directory mode averages over files and over the subfolders ("categories") they sit in.
import AudioIO
import Codec
import Foundation
import NN
import RVQ

/// How stage k's codebook is used over the input (EnCodec/DAC codebook statistics).
public struct CodebookFigures: Sendable, Equatable, Codable {
    /// N, codes in the codebook.
    public var size: Int
    /// Codes used at least once.
    public var usedCodes: Int
    /// N − used codes.
    public var deadCodes: Int
    /// −Σ p log₂ p of the code distribution over all frames, in bits (≤ log₂ N).
    public var entropyBits: Double
}

/// Figures for the decoding with the first `stages` stages.
public struct StageFigures: Sendable, Equatable, Codable {
    /// k, the number of stages used (1-based).
    public var stages: Int
    /// Nominal bitrate: k · log₂ N · frame rate / 1000 kbps.
    public var kbps: Double
    /// Bitrate an ideal per-codebook entropy coder would need: Σ_{j<k} H_j · frame rate / 1000 kbps.
    public var entropyKbps: Double
    /// DAC's "effective bits" of the first k codebooks: Σ_{j<k} H_j / (k · log₂ N), in [0, 1].
    public var effectiveBits: Double
    /// Waveform and spectral figures of the decoded audio against the input.
    public var quality: QualityFigures
    /// Σ‖z − ẑ_k‖² / Σ‖z‖² over all latent frames z (encoder output), ẑ_k the sum of the first k code vectors.
    public var latentRelativeResidual: Double
    /// Mean over latent frames of ‖z − ẑ_k‖².
    public var latentResidualEnergy: Double
    /// Stage k's own codebook (the last one added).
    public var codebook: CodebookFigures
}

/// The per-stage report of one input.
public struct StageReport: Sendable, Codable {
    /// The input file, when the report was made from one ("" otherwise).
    public var path: String
    public var modelName: String
    /// The model's rate: the input was converted to it, and every figure is measured at it.
    public var sampleRate: Int
    public var channels: Int
    /// Samples per channel.
    public var length: Int
    public var duration: Double { Double(length) / Double(sampleRate) }
    /// Latent frames over all segments.
    public var latentFrames: Int
    /// One entry per stage count, 1…K.
    public var stages: [StageFigures]
    /// Wall-clock seconds: encoding once, decoding all K prefixes, measuring.
    public var encodeSeconds: Double
    public var decodeSeconds: Double
    public var measureSeconds: Double
    /// Decoded audio (planar `[channels, length]`) of the stage counts asked for with `keepAudio`.
    public var decodedAudio: [Int: [Float]] = [:]

    enum CodingKeys: String, CodingKey {
        case path, modelName, sampleRate, channels, length, latentFrames, stages
        case encodeSeconds, decodeSeconds, measureSeconds
    }
}

/// The encoding of one input kept for all stage prefixes: codes at K stages and the latents they quantize.
public struct StageEncoding: Sendable {
    /// Codes at K stages, segment by segment, as `CodecModel.encode` makes them.
    public var encoded: EncodedAudio
    /// Encoder output of every segment, frames stacked: row-major `[frames, D]`.
    public var latents: [Float]
    /// Codes of all segments side by side, `[K, frames]` (the frames of `latents`).
    public var codes: Codes
}

/// Makes per-stage reports for one model. Not thread-safe across calls (reuses its transforms).
public final class StageEvaluator {
    public let model: CodecModel
    /// K: stages reported (1…K).
    public let stageCount: Int
    public let meter: QualityMeter

    /// `stages`: report the first 1…`stages` (default: all of the model's codebooks).
    public init(model: CodecModel, stages: Int? = nil) throws {
        let k = stages ?? model.config.codebooks
        guard k >= 1, k <= model.config.codebooks else {
            throw MetricsError.invalidParameter(name: "stages", value: "\(k)",
                                                reason: "the model has \(model.config.codebooks) codebooks")
        }
        self.model = model; stageCount = k
        meter = try QualityMeter(sampleRate: model.config.sampleRate)
    }

    /// Encodes planar `[channels, T]` audio at the model's rate once, keeping the latents: the same
    /// segments, normalization scales and codes as `CodecModel.encode` (EnCodec's `_encode_frame`).
    public func encode(_ audio: [Float], channels: Int) throws -> StageEncoding {
        let D = model.config.dimension, K = stageCount
        let (encoded, latents) = try model.encodeWithLatents(audio, channels: channels, codebooks: K)
        var latentRows: [Float] = []  // [frames, D] over all segments
        for z in latents {
            let f = z.shape[2]
            for j in 0..<f { for d in 0..<D { latentRows.append(z.data[d * f + j]) } }
        }
        let total = encoded.segments.reduce(0) { $0 + $1.frames }
        var all = [Int32](); all.reserveCapacity(K * total)
        for k in 0..<K { for s in encoded.segments { all.append(contentsOf: s.stage(k)) } }
        return StageEncoding(encoded: encoded, latents: latentRows, codes: Codes(stages: K, count: total, values: all))
    }

    /// Audio decoded from the first `stages` stages of `encoding` (planar `[channels, length]`).
    public func decode(_ encoding: StageEncoding, stages: Int) throws -> [Float] {
        let e = encoding.encoded
        let prefix = EncodedAudio(modelName: e.modelName, length: e.length, codebooks: stages,
                                  segments: e.segments.map { $0.prefix(stages: stages) })
        return try model.decode(prefix)
    }

    /// The report for planar audio at the model's rate and channel count. `keepAudio`: stage counts whose
    /// decoded audio is kept in the report (for spectrograms).
    public func evaluate(_ audio: [Float], channels: Int, path: String = "", keepAudio: Set<Int> = []) throws -> StageReport {
        let config = model.config
        let t0 = Date()
        let encoding = try encode(audio, channels: channels)
        let encodeSeconds = Date().timeIntervalSince(t0)
        let latentStats = try model.quantizer.statistics(encoding.latents, codes: encoding.codes)
        let usage = try CodebookUsage(codes: encoding.codes.values, codebooks: stageCount, codebookSize: config.bins)
        var decodeSeconds = 0.0, measureSeconds = 0.0
        var stages: [StageFigures] = []
        var kept: [Int: [Float]] = [:]
        let log2N = log2(Double(config.bins)), frameRate = Double(config.frameRate)
        var entropySum = 0.0
        for k in 1...stageCount {
            let t1 = Date()
            let decoded = try decode(encoding, stages: k)
            let t2 = Date()
            let quality = try meter.measure(reference: audio, estimate: decoded, channels: channels)
            measureSeconds += Date().timeIntervalSince(t2)
            decodeSeconds += t2.timeIntervalSince(t1)
            if keepAudio.contains(k) { kept[k] = decoded }
            let s = latentStats[k - 1]
            entropySum += usage.entropies[k - 1]
            stages.append(StageFigures(
                stages: k, kbps: Double(k) * config.bandwidthPerCodebook,
                entropyKbps: entropySum * frameRate / 1000, effectiveBits: entropySum / (Double(k) * log2N),
                quality: quality, latentRelativeResidual: s.relativeResidualEnergy,
                latentResidualEnergy: s.residualEnergy,
                codebook: CodebookFigures(size: s.codebookSize, usedCodes: s.codebookSize - s.deadCodes,
                                          deadCodes: s.deadCodes, entropyBits: s.entropyBits)))
        }
        var report = StageReport(path: path, modelName: config.name, sampleRate: config.sampleRate, channels: channels,
                                 length: audio.count / channels, latentFrames: encoding.codes.count, stages: stages,
                                 encodeSeconds: encodeSeconds, decodeSeconds: decodeSeconds, measureSeconds: measureSeconds)
        report.decodedAudio = kept
        return report
    }

    /// Reads `path` (any rate and channel count, converted to the model's as `codec encode` does) and
    /// reports on it. Returns the converted input too (for spectrograms).
    public func evaluate(file path: String, keepAudio: Set<Int> = []) throws -> (report: StageReport, input: AudioBuffer) {
        let audio = try AudioFile.read(path, sampleRate: model.config.sampleRate, channels: model.config.channels)
        guard audio.frameCount > 0 else { throw MetricsError.noAudio(path: path, reason: "the file holds no samples") }
        let report = try evaluate(audio.samples, channels: audio.channelCount, path: path, keepAudio: keepAudio)
        return (report, audio)
    }

    /// Reports on every audio file under `directory` (recursively, by extension: `audioExtensions`), in
    /// path order, with means over all files and over each subfolder's files. `progress` is called with
    /// each file before it is evaluated. Throws `noAudio` when the directory holds no audio file.
    public func evaluate(directory: String, progress: ((Int, Int, String) -> Void)? = nil) throws -> DirectoryStageReport {
        let files = try audioFiles(under: directory)
        var reports: [DirectoryStageReport.File] = []
        for (i, rel) in files.enumerated() {
            progress?(i + 1, files.count, rel)
            let full = (directory as NSString).appendingPathComponent(rel)
            let r = try evaluate(file: full).report
            let parts = rel.split(separator: "/")
            reports.append(.init(relativePath: rel, category: parts.count > 1 ? String(parts[0]) : nil, report: r))
        }
        return DirectoryStageReport(root: directory, files: reports)
    }
}

/// File name extensions treated as audio in directory mode (what libsndfile reads).
public let audioExtensions: Set<String> = ["wav", "flac", "aif", "aiff", "ogg", "oga", "opus", "mp3", "au", "caf", "w64"]

/// Audio files under `directory`, as sorted paths relative to it. Throws `noAudio` when there is none,
/// and a clear error when the directory cannot be listed.
public func audioFiles(under directory: String) throws -> [String] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
        throw MetricsError.noAudio(path: directory, reason: "no such directory")
    }
    guard let e = FileManager.default.enumerator(atPath: directory) else {
        throw MetricsError.noAudio(path: directory, reason: "the directory cannot be read")
    }
    var files: [String] = []
    while let rel = e.nextObject() as? String {
        let name = (rel as NSString).lastPathComponent
        if name.hasPrefix(".") { continue }
        if audioExtensions.contains((rel as NSString).pathExtension.lowercased()) { files.append(rel) }
    }
    guard !files.isEmpty else {
        throw MetricsError.noAudio(path: directory, reason: "no audio files (\(audioExtensions.sorted().joined(separator: ", "))) in it or its subfolders")
    }
    return files.sorted()
}

/// A metric averaged over files: the mean of the files where it is defined, and how many those are.
public struct MeanMetric: Sendable, Equatable, Codable {
    /// Mean over the defined values; undefined (first file's reason) when no file has a value.
    public var mean: MetricResult
    public var definedFiles: Int
    public var files: Int

    public init(_ results: [MetricResult]) {
        let values = results.compactMap(\.value)
        files = results.count; definedFiles = values.count
        if values.isEmpty, let first = results.first {
            mean = first
        } else {
            mean = .value(values.reduce(0, +) / Double(max(1, values.count)))
        }
    }
}

/// Per-stage means over a set of files.
public struct StageMeans: Sendable, Equatable, Codable {
    public var stages: Int
    public var kbps: Double
    public var snr: MeanMetric
    public var siSDR: MeanMetric
    public var mrSTFT: MeanMetric
    public var logMel: MeanMetric
    /// Mean over files of the latent relative residual after these stages.
    public var latentRelativeResidual: Double
    /// Mean over files of stage k's codebook entropy, and of its dead codes.
    public var entropyBits: Double
    public var deadCodes: Double

    /// Means of `reports` (each with at least `stage` stages) at stage count `stage`.
    public init(_ reports: [StageReport], stage: Int) {
        let rows = reports.map { $0.stages[stage - 1] }
        let n = Double(max(1, rows.count))
        stages = stage; kbps = rows.first?.kbps ?? 0
        snr = MeanMetric(rows.map(\.quality.snr)); siSDR = MeanMetric(rows.map(\.quality.siSDR))
        mrSTFT = MeanMetric(rows.map(\.quality.mrSTFT)); logMel = MeanMetric(rows.map(\.quality.logMel))
        latentRelativeResidual = rows.reduce(0) { $0 + $1.latentRelativeResidual } / n
        entropyBits = rows.reduce(0) { $0 + $1.codebook.entropyBits } / n
        deadCodes = rows.reduce(0) { $0 + Double($1.codebook.deadCodes) } / n
    }
}

/// Per-stage reports of every audio file of a directory, their means, and means per subfolder.
public struct DirectoryStageReport: Sendable, Codable {
    public struct File: Sendable, Codable {
        /// Path relative to the root.
        public var relativePath: String
        /// First folder of `relativePath` (nil for files directly in the root).
        public var category: String?
        public var report: StageReport
    }

    public struct Category: Sendable, Codable {
        public var name: String
        public var files: Int
        public var means: [StageMeans]
    }

    public var root: String
    public var files: [File]
    /// Per stage, means over all files.
    public var means: [StageMeans]
    /// Means per subfolder, sorted by name; empty when every file sits in the root. Files directly in the
    /// root count in `means` only.
    public var categories: [Category]

    public init(root: String, files: [File]) {
        self.root = root; self.files = files
        let reports = files.map(\.report)
        let k = reports.map(\.stages.count).min() ?? 0
        means = k == 0 ? [] : (1...k).map { StageMeans(reports, stage: $0) }
        var byName: [String: [StageReport]] = [:]
        for f in files { if let c = f.category { byName[c, default: []].append(f.report) } }
        categories = byName.keys.sorted().map { name in
            let rs = byName[name]!
            return Category(name: name, files: rs.count, means: k == 0 ? [] : (1...k).map { StageMeans(rs, stage: $0) })
        }
    }
}
