// `codec eval`: per-stage quality of a model on a file or a directory, or a comparison of two files;
// as a text table, JSON, and/or a self-contained HTML report.
import ArgumentParser
import AudioIO
import Codec
import Foundation
import Metrics

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure quality: per RVQ stage of a model, or of a degraded file against its reference.",
        discussion: """
        codec eval IN [--model M]      encode IN once, decode with 1, 2, …, K stages, report each (IN: file or directory;
                                       without --model: the default model)
        codec eval REF DEGRADED        compare two files (e.g. another codec's output)
        Metrics: SNR and SI-SDR (dB), multi-resolution STFT loss (auraloss), log-mel distance; per stage also the
        latent residual energy and each codebook's entropy and dead codes. Undefined values (silence) say why.
        """)

    @Argument(help: ArgumentHelp("An audio file or directory (per-stage report), or REF DEGRADED (comparison).", valueName: "input"))
    var inputs: [String]

    @Option(help: ArgumentHelp("Model file (.safetensors, EnCodec .th or Hugging Face .safetensors). Default: the shipped model.", valueName: "path"))
    var model: String?

    @Option(help: "Stages to report, 1…K (default: all of the model's codebooks).")
    var stages: Int?

    @Option(help: ArgumentHelp("Stage counts whose spectrograms the HTML report shows (default: 1, middle, K).", valueName: "k,k,…"))
    var show: String?

    @Flag(help: "Print JSON instead of text (undefined metrics are strings \"undefined (reason)\", infinities \"+inf\").")
    var json = false

    @Option(help: ArgumentHelp("Also write a self-contained HTML report (charts, spectrograms) to this file.", valueName: "report.html"))
    var report: String?

    func validate() throws {
        if model != nil, inputs.count != 1 {
            throw ValidationError("with --model give one input (a file or a directory), got \(inputs.count)")
        }
        if model == nil, inputs.isEmpty || inputs.count > 2 {
            throw ValidationError("give one input (a file or directory) for the per-stage report, or two files REF DEGRADED to compare (got \(inputs.count))")
        }
        if inputs.count == 2, stages != nil || show != nil { throw ValidationError("--stages and --show are for the per-stage report (one input), not a comparison") }
        if let stages, stages < 1 { throw ValidationError("--stages must be at least 1 (got \(stages))") }
        if let show, parseShow(show) == nil { throw ValidationError("--show takes stage counts separated by commas, e.g. 1,4,8 (got '\(show)')") }
    }

    private func parseShow(_ s: String) -> [Int]? {
        let parts = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! >= 1 }) else { return nil }
        return parts.map { $0! }
    }

    func run() throws {
        if inputs.count == 2 { try runComparison(inputs[0], inputs[1]) } else {
            try runStages(modelPath: DefaultModel.path(given: model), input: inputs[0])
        }
    }

    // MARK: per-stage report

    private func runStages(modelPath: String, input: String) throws {
        let start = Date()
        let codec = try CodecModel.load(path: modelPath)
        let evaluator = try StageEvaluator(model: codec, stages: stages)
        let k = evaluator.stageCount
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw MetricsError.noAudio(path: input, reason: "no such file or directory")
        }
        if isDirectory.boolValue {
            let d = try evaluator.evaluate(directory: input) { i, n, name in
                if stderrIsTerminal { FileHandle.standardError.write(Data("[\(i)/\(n)] \(name)\n".utf8)) }
            }
            if json { try printJSON(d) } else { printDirectory(d) }
            if let report { try write(HTMLReport.directoryReport(d), to: report) }
            if !json {
                print(String(format: "evaluated %d files × %d stages in %.2f s", d.files.count, k, Date().timeIntervalSince(start)))
            }
            return
        }
        let shown = try show.map { s -> [Int] in
            let v = parseShow(s)!
            if let bad = v.first(where: { $0 > k }) { throw ValidationError("--show \(bad): only \(k) stages are reported") }
            return v
        } ?? Array(Set([1, (k + 1) / 2, k])).sorted()
        let (r, input) = try evaluator.evaluate(file: input, keepAudio: report == nil ? [] : Set(shown))
        var notes: [String] = []
        if input.sampleRate != 0, let info = try? AudioFile.info(r.path), info.sampleRate != r.sampleRate || info.channelCount != r.channels {
            notes.append("input converted from \(info.sampleRate) Hz, \(info.channelCount) ch to the model's \(r.sampleRate) Hz, \(r.channels) ch; metrics are measured there")
        }
        if json { try printJSON(StageOutput(notes: notes, report: r)) } else {
            for n in notes { FileHandle.standardError.write(Data("note: \(n)\n".utf8)) }
            printStageTable(r)
        }
        if let report {
            let renderer = try SpectrogramRenderer(sampleRate: r.sampleRate)
            let original = try renderer.decibels(input.samples, channels: input.channelCount)
            let top = SpectrogramRenderer.peak(original)
            var images = [HTMLReport.Image(title: "original", dataURI: try renderer.image(original, top: top).pngDataURI())]
            for s in shown {
                let spec = try renderer.decibels(r.decodedAudio[s]!, channels: r.channels)
                images.append(.init(title: String(format: "%d stage%@ (%.2f kbps)", s, s == 1 ? "" : "s", r.stages[s - 1].kbps),
                                    dataURI: try renderer.image(spec, top: top).pngDataURI()))
            }
            try write(HTMLReport.stageReport(r, images: images, notes: notes), to: report)
        }
        if !json {
            print(String(format: "evaluated %d stages in %.2f s (encoded once in %.2f s, %d decodes %.2f s, metrics %.2f s)",
                         k, Date().timeIntervalSince(start), r.encodeSeconds, k, r.decodeSeconds, r.measureSeconds))
        }
    }

    struct StageOutput: Encodable { var notes: [String]; var report: StageReport }

    private func printDirectory(_ d: DirectoryStageReport) {
        let k = d.means.count
        print("\(d.root): \(d.files.count) audio files, \(d.categories.count) categories, model \(d.files.first?.report.modelName ?? "")")
        var rows = [["file", "category", "s", "SNR dB", "SI-SDR dB", "MR-STFT", "log-mel"]]
        for f in d.files {
            let q = f.report.stages[k - 1].quality
            rows.append([f.relativePath, f.category ?? "-", String(format: "%.2f", f.report.duration),
                         metricText(q.snr, "%.2f"), metricText(q.siSDR, "%.2f"), metricText(q.mrSTFT, "%.4f"), metricText(q.logMel, "%.4f")])
        }
        print("\nper file at \(k) stages:")
        printTable(rows)
        var groups: [(String, [StageMeans])] = [("all \(d.files.count) files", d.means)]
        groups += d.categories.map { ("category \($0.name) (\($0.files) files)", $0.means) }
        for (name, means) in groups {
            print("\nmean over \(name):")
            var t = [["stages", "kbps", "SNR dB", "SI-SDR dB", "MR-STFT", "log-mel", "latent resid", "entropy bits", "dead codes"]]
            for m in means {
                t.append(["\(m.stages)", String(format: "%.2f", m.kbps), meanText(m.snr, "%.2f"), meanText(m.siSDR, "%.2f"),
                          meanText(m.mrSTFT, "%.4f"), meanText(m.logMel, "%.4f"), String(format: "%.4f", m.latentRelativeResidual),
                          String(format: "%.3f", m.entropyBits), String(format: "%.1f", m.deadCodes)])
            }
            printTable(t)
        }
    }

    // MARK: comparison of two files

    struct ComparisonOutput: Encodable {
        var reference: String
        var degraded: String
        var sampleRate: Int
        var channels: Int
        var length: Int
        var notes: [String]
        var metrics: QualityFigures
    }

    private func runComparison(_ refPath: String, _ degPath: String) throws {
        var ref = try AudioFile.read(refPath), deg = try AudioFile.read(degPath)
        for (path, a) in [(refPath, ref), (degPath, deg)] where a.frameCount == 0 {
            throw MetricsError.noAudio(path: path, reason: "the file holds no samples")
        }
        guard ref.channelCount == deg.channelCount else {
            throw MetricsError.incomparable(reason: "\(refPath) has \(ref.channelCount) channel(s) but \(degPath) has \(deg.channelCount); "
                + "convert one first (codec convert --channels \(ref.channelCount))")
        }
        var notes: [String] = []
        if deg.sampleRate != ref.sampleRate {
            notes.append("resampled \(degPath) from \(deg.sampleRate) Hz to the reference's \(ref.sampleRate) Hz (libsoxr)")
            deg = try Resampler.resample(deg, to: ref.sampleRate)
        }
        let nr = ref.frameCount, nd = deg.frameCount
        if nr != nd {
            let shorter = min(nr, nd), longer = max(nr, nd)
            guard 2 * shorter >= longer else {
                throw MetricsError.incomparable(reason: String(format: "%@ lasts %.3f s but %@ lasts %.3f s at %d Hz: less than half, so they are not the same recording",
                                                               refPath, Double(nr) / Double(ref.sampleRate), degPath, Double(nd) / Double(ref.sampleRate), ref.sampleRate))
            }
            notes.append(String(format: "trimmed both to the shorter length, %d samples (%.3f s): the reference has %d, the degraded file %d",
                                shorter, Double(shorter) / Double(ref.sampleRate), nr, nd))
            ref = trim(ref, to: shorter); deg = trim(deg, to: shorter)
        }
        let meter = try QualityMeter(sampleRate: ref.sampleRate)
        let figures = try meter.measure(reference: ref.samples, estimate: deg.samples, channels: ref.channelCount)
        if json {
            try printJSON(ComparisonOutput(reference: refPath, degraded: degPath, sampleRate: ref.sampleRate, channels: ref.channelCount,
                                           length: ref.frameCount, notes: notes, metrics: figures))
        } else {
            for n in notes { FileHandle.standardError.write(Data("note: \(n)\n".utf8)) }
            print("\(degPath) against \(refPath): \(ref.sampleRate) Hz, \(ref.channelCount) ch, \(String(format: "%.3f", ref.duration)) s")
            printTable([["SNR dB", "SI-SDR dB", "MR-STFT", "log-mel"],
                        [metricText(figures.snr, "%.2f"), metricText(figures.siSDR, "%.2f"), metricText(figures.mrSTFT, "%.4f"), metricText(figures.logMel, "%.4f")]])
        }
        if let report {
            let renderer = try SpectrogramRenderer(sampleRate: ref.sampleRate)
            let r = try renderer.decibels(ref.samples, channels: ref.channelCount)
            let d = try renderer.decibels(deg.samples, channels: deg.channelCount)
            let top = SpectrogramRenderer.peak(r)
            let images = [HTMLReport.Image(title: "reference: \((refPath as NSString).lastPathComponent)", dataURI: try renderer.image(r, top: top).pngDataURI()),
                          HTMLReport.Image(title: "degraded: \((degPath as NSString).lastPathComponent)", dataURI: try renderer.image(d, top: top).pngDataURI())]
            try write(HTMLReport.comparison(reference: refPath, degraded: degPath, sampleRate: ref.sampleRate, channels: ref.channelCount,
                                            length: ref.frameCount, figures: figures, images: images, notes: notes), to: report)
        }
    }

    private func trim(_ a: AudioBuffer, to n: Int) -> AudioBuffer {
        AudioBuffer(sampleRate: a.sampleRate, channels: (0..<a.channelCount).map { Array(a.channel($0).prefix(n)) })
    }

    // MARK: output helpers

    private func meanText(_ m: MeanMetric, _ format: String) -> String {
        let s = metricText(m.mean, format)
        return m.definedFiles < m.files && m.definedFiles > 0 ? "\(s) (\(m.definedFiles) of \(m.files) files)" : s
    }

    private func printJSON<T: Encodable>(_ value: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try enc.encode(value), as: UTF8.self))
    }

    private func write(_ html: String, to path: String) throws {
        do {
            try Data(html.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ValidationError("cannot write the report to \(path): \((error as NSError).localizedDescription)")
        }
        if !json { print("wrote \(path) (\(html.utf8.count / 1024) KiB)") }
    }
}

/// The per-stage table of one file (`codec eval`, `codec roundtrip --eval`).
func printStageTable(_ r: StageReport) {
    print("\(r.path): \(r.modelName), \(r.sampleRate) Hz, \(r.channels) ch, \(String(format: "%.2f", r.duration)) s, \(r.latentFrames) latent frames")
    var rows = [["stages", "kbps", "SNR dB", "SI-SDR dB", "MR-STFT", "log-mel", "latent resid", "entropy bits", "used/dead", "eff. bits"]]
    for s in r.stages {
        rows.append(["\(s.stages)", String(format: "%.2f", s.kbps), metricText(s.quality.snr, "%.2f"), metricText(s.quality.siSDR, "%.2f"),
                     metricText(s.quality.mrSTFT, "%.4f"), metricText(s.quality.logMel, "%.4f"), String(format: "%.4f", s.latentRelativeResidual),
                     String(format: "%.3f", s.codebook.entropyBits), "\(s.codebook.usedCodes)/\(s.codebook.deadCodes)",
                     String(format: "%.3f", s.effectiveBits)])
    }
    printTable(rows)
}

/// A metric with `format`, or why it is undefined.
func metricText(_ m: MetricResult, _ format: String) -> String {
    if case .value(let v) = m, v.isFinite { return String(format: format, v) }
    return m.description
}

/// Right-aligned columns (a "file" first column is left-aligned).
func printTable(_ rows: [[String]]) {
    let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max()! }
    for row in rows {
        print(row.enumerated().map { c, s in
            c == 0 && !(Int(s) != nil) && rows[0][0] == "file" ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - s.count) + s
        }.joined(separator: "  "))
    }
}
