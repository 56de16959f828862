import AudioIO
import Codec
import Foundation
import Metrics
import RVQ
import TestSupport
import XCTest

/// Per-stage report on the tiny EnCodec fixtures: encoding once gives the model's own codes, prefix
/// decodes equal the model's decodes at that bandwidth, and every figure equals its direct computation.
final class StageReportTests: XCTestCase {
    private func model(_ tag: String) throws -> CodecModel {
        let dir = RepoPaths.fixtures.appendingPathComponent("encodec/encodec_\(tag)_tiny")
        return try CodecModel.load(path: dir.appendingPathComponent("encodec_\(tag)_tiny.th").path)
    }

    /// Planar [channels, n]: a gliding tone with seeded noise (different per channel).
    private func signal(_ n: Int, channels: Int, rate: Double, seed: UInt64 = 5) -> [Float] {
        var rng = SeededRNG(seed: seed)
        var x = [Float]()
        for c in 0..<channels {
            for i in 0..<n {
                let t = Double(i) / rate
                x.append(Float(0.4 * sin(2 * .pi * (180 + 40 * Double(c) + 60 * t) * t)) + 0.05 * rng.uniform())
            }
        }
        return x
    }

    func testEncodesOnceAsTheModelAndPrefixesDecodeAsLowerBandwidths() throws {
        // 24 kHz: one segment; 48 kHz stereo: normalized 1 s segments with overlap (1.5 s → 2 segments).
        for (tag, seconds) in [("24khz", 0.7), ("48khz", 1.5)] {
            let m = try model(tag), c = m.config
            let n = Int(seconds * Double(c.sampleRate))
            let audio = signal(n, channels: c.channels, rate: Double(c.sampleRate))
            let ev = try StageEvaluator(model: m)
            let enc = try ev.encode(audio, channels: c.channels)
            XCTAssertEqual(enc.encoded, try m.encode(audio, channels: c.channels, bandwidth: nil), tag)
            XCTAssertEqual(enc.codes.stages, c.codebooks)
            XCTAssertEqual(enc.codes.count, enc.encoded.segments.reduce(0) { $0 + $1.frames })
            XCTAssertEqual(enc.latents.count, enc.codes.count * c.dimension)
            if tag == "48khz" { XCTAssertEqual(enc.encoded.segments.count, 2) }
            // The latents kept per segment are the quantizer's inputs (after each segment's normalization).
            let inputs = try m.quantizerInputs(audio, channels: c.channels)
            XCTAssertEqual(try m.encodeWithLatents(audio, channels: c.channels, codebooks: c.codebooks).latents.map(\.data),
                           inputs.map(\.data), tag)
            XCTAssertEqual(enc.latents.count, inputs.reduce(0) { $0 + $1.data.count }, tag)
            XCTAssertThrowsError(try m.encodeWithLatents(audio, channels: c.channels, codebooks: c.codebooks + 1), tag)
            for bandwidth in c.bandwidths {
                let k = c.codebookCount(forBandwidth: bandwidth)
                let direct = try m.decode(try m.encode(audio, channels: c.channels, bandwidth: bandwidth))
                XCTAssertEqual(try ev.decode(enc, stages: k), direct, "\(tag) at \(k) stages")
            }
        }
        // Without segments the kept latents are the encoder output, frames as rows.
        let m = try model("24khz")
        let audio = signal(9000, channels: 1, rate: 24000)
        let z = m.latents(audio, channels: 1), f = z.shape[2], d = m.config.dimension
        let rows = try StageEvaluator(model: m).encode(audio, channels: 1).latents
        for j in 0..<f { for i in 0..<d { XCTAssertEqual(rows[j * d + i], z.data[i * f + j]) } }
    }

    func testFiguresEqualTheirDirectComputation() throws {
        let m = try model("24khz"), c = m.config
        let audio = signal(12000, channels: 1, rate: 24000)
        let ev = try StageEvaluator(model: m)
        let r = try ev.evaluate(audio, channels: 1, keepAudio: [2])
        XCTAssertEqual(r.stages.map(\.stages), [1, 2, 3, 4])
        XCTAssertEqual(r.stages.map(\.kbps), [0.75, 1.5, 2.25, 3.0])
        XCTAssertEqual(r.length, 12000); XCTAssertEqual(r.sampleRate, 24000)
        XCTAssertEqual(Set(r.decodedAudio.keys), [2])
        let enc = try ev.encode(audio, channels: 1)
        let meter = try QualityMeter(sampleRate: 24000)
        let usage = try CodebookUsage(codes: enc.codes.values, codebooks: 4, codebookSize: c.bins)
        var signalEnergy = 0.0
        for v in enc.latents { signalEnergy += Double(v) * Double(v) }
        let T = enc.codes.count, D = c.dimension
        var decodedLatents = [Float](repeating: 0, count: T * D)
        for (i, s) in r.stages.enumerated() {
            let k = i + 1
            let decoded = try ev.decode(enc, stages: k)
            XCTAssertEqual(s.quality, try meter.measure(reference: audio, estimate: decoded, channels: 1))
            if k == 2 { XCTAssertEqual(r.decodedAudio[2], decoded) }
            // Latent residual after k stages, recomputed from the codebooks.
            let book = m.quantizer.codebooks[i]
            var err = 0.0
            for t in 0..<T {
                let code = Int(enc.codes[stage: i, position: t])
                for d in 0..<D {
                    decodedLatents[t * D + d] += book.vectors[code * D + d]
                    let diff = Double(enc.latents[t * D + d]) - Double(decodedLatents[t * D + d])
                    err += diff * diff
                }
            }
            XCTAssertEqual(s.latentRelativeResidual, err / signalEnergy, accuracy: 1e-9 * max(1, err / signalEnergy))
            XCTAssertEqual(s.latentResidualEnergy, err / Double(T), accuracy: 1e-9 * max(1, err / Double(T)))
            XCTAssertEqual(s.codebook.entropyBits, usage.entropies[i], accuracy: 1e-12)
            XCTAssertEqual(s.codebook.deadCodes, usage.deadCodes[i])
            XCTAssertEqual(s.codebook.usedCodes + s.codebook.deadCodes, c.bins)
            let h = usage.entropies[0..<k].reduce(0, +)
            XCTAssertEqual(s.effectiveBits, h / (Double(k) * 10), accuracy: 1e-12)
            XCTAssertEqual(s.entropyKbps, h * 75 / 1000, accuracy: 1e-12)
        }
        // Each stage removes latent energy (the fixture's codebooks are k-means fits of its latents).
        XCTAssertLessThan(r.stages[3].latentRelativeResidual, r.stages[0].latentRelativeResidual)
        XCTAssertThrowsError(try StageEvaluator(model: m, stages: 5)) { XCTAssert("\($0)".contains("4 codebooks"), "\($0)") }
    }

    func testSilenceAndShortInputsSayUndefined() throws {
        let ev = try StageEvaluator(model: try model("24khz"), stages: 2)
        let silent = try ev.evaluate([Float](repeating: 0, count: 4000), channels: 1)
        for s in silent.stages {
            XCTAssertEqual(s.quality.snr, .undefined(.silentReference))
            XCTAssertEqual(s.quality.siSDR, .undefined(.silentReference))
            XCTAssertNotNil(s.quality.mrSTFT.value)
        }
        // 800 samples: too short for the MR-STFT's n_fft 2048 (reflect pad 1024), long enough for log-mel.
        let short = try ev.evaluate(signal(800, channels: 1, rate: 24000), channels: 1)
        XCTAssertEqual(short.stages[0].quality.mrSTFT, .undefined(.tooShort))
        XCTAssertNotNil(short.stages[0].quality.logMel.value)
        XCTAssertEqual("\(short.stages[0].quality.mrSTFT)", "undefined (the signal is shorter than the metric's analysis window)")
    }

    func testDirectoryMeansPerFileAndPerCategory() throws {
        let dir = TemporaryDirectory()
        let fm = FileManager.default
        for sub in ["speech", "music", "empty"] { try fm.createDirectory(atPath: dir.path(sub), withIntermediateDirectories: true) }
        let files = ["root.wav", "speech/a.wav", "speech/b.flac", "music/c.wav"]
        for (i, name) in files.enumerated() {
            // 16 kHz stereo files are converted to the model's 24 kHz mono, as `codec encode` does.
            let a = AudioBuffer(sampleRate: 16000, channels: [signal(5000, channels: 1, rate: 16000, seed: UInt64(i)),
                                                              signal(5000, channels: 1, rate: 16000, seed: UInt64(i + 10))])
            _ = try AudioFile.write(a, to: dir.path(name))
        }
        try Data("not audio".utf8).write(to: URL(fileURLWithPath: dir.path("speech/notes.txt")))
        let ev = try StageEvaluator(model: try model("24khz"), stages: 3)
        let d = try ev.evaluate(directory: dir.url.path)
        XCTAssertEqual(d.files.map(\.relativePath), ["music/c.wav", "root.wav", "speech/a.wav", "speech/b.flac"])
        XCTAssertEqual(d.files.map(\.category), ["music", nil, "speech", "speech"])
        XCTAssertEqual(d.categories.map(\.name), ["music", "speech"])
        XCTAssertEqual(d.categories.map(\.files), [1, 2])
        XCTAssertEqual(d.means.count, 3)
        XCTAssertEqual(d.files[1].report.sampleRate, 24000)
        XCTAssertEqual(d.files[1].report.length, 7500)
        for k in 1...3 {
            let snrs = d.files.map { $0.report.stages[k - 1].quality.snr.value! }
            XCTAssertEqual(d.means[k - 1].snr.mean.value!, snrs.reduce(0, +) / 4, accuracy: 1e-9)
            XCTAssertEqual(d.means[k - 1].snr.definedFiles, 4)
            let speech = [snrs[2], snrs[3]]
            XCTAssertEqual(d.categories[1].means[k - 1].snr.mean.value!, speech.reduce(0, +) / 2, accuracy: 1e-9)
            XCTAssertEqual(d.categories[0].means[k - 1].logMel.mean.value!, d.files[0].report.stages[k - 1].quality.logMel.value!)
        }
        // Means skip undefined values and count them.
        let mean = MeanMetric([.value(1), .undefined(.silentReference), .value(3)])
        XCTAssertEqual(mean.mean, .value(2)); XCTAssertEqual(mean.definedFiles, 2); XCTAssertEqual(mean.files, 3)
        XCTAssertEqual(MeanMetric([.undefined(.silentReference)]).mean, .undefined(.silentReference))
    }

    func testDirectoryWithoutAudioIsAClearError() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("sub"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path("sub/readme.txt")))
        let ev = try StageEvaluator(model: try model("24khz"))
        XCTAssertThrowsError(try ev.evaluate(directory: dir.url.path)) {
            XCTAssertEqual($0 as? MetricsError, .noAudio(path: dir.url.path, reason: "no audio files (aif, aiff, au, caf, flac, mp3, oga, ogg, opus, w64, wav) in it or its subfolders"))
        }
        XCTAssertThrowsError(try audioFiles(under: dir.path("missing"))) { XCTAssert("\($0)".contains("no such directory"), "\($0)") }
    }

    func testMetricResultJSONHasNoNaN() throws {
        let figures = QualityFigures(snr: .value(.infinity), siSDR: .undefined(.silentEstimate), mrSTFT: .value(0.25), logMel: .value(-.infinity))
        let data = try JSONEncoder().encode(figures)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        XCTAssertEqual(object["snr"] as? String, "+inf")
        XCTAssertEqual(object["siSDR"] as? String, "undefined (the estimate is silent)")
        XCTAssertEqual(object["mrSTFT"] as? Double, 0.25)
        XCTAssertEqual(try JSONDecoder().decode(QualityFigures.self, from: data), figures)
    }
}

/// PNG encoding, the spectrogram renderer and the SVG chart of the HTML report.
final class ReportRenderingTests: XCTestCase {
    /// CRC-32 (ISO 3309, reflected 0xEDB88320), written out here to check zlib's.
    private func crc32(_ bytes: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    private func u32(_ d: Data, _ at: Int) -> UInt32 {
        d[d.startIndex + at ..< d.startIndex + at + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    func testPNGChunksAndChecksums() throws {
        var pixels = [UInt8]()
        for y in 0..<3 { for x in 0..<5 { pixels += [UInt8(x * 50), UInt8(y * 100), 7] } }
        let png = try RGBImage(width: 5, height: 3, pixels: pixels).png()
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset = 8
        var types: [String] = []
        var idat = Data()
        while offset < png.count {
            let length = Int(u32(png, offset))
            let type = String(decoding: png[offset + 4 ..< offset + 8], as: UTF8.self)
            let body = png[offset + 4 ..< offset + 8 + length]
            XCTAssertEqual(u32(png, offset + 8 + length), crc32(Data(body)), type)
            if type == "IHDR" {
                XCTAssertEqual(u32(png, offset + 8), 5); XCTAssertEqual(u32(png, offset + 12), 3)
                XCTAssertEqual(Array(png[offset + 16 ..< offset + 21]), [8, 2, 0, 0, 0])
            }
            if type == "IDAT" { idat.append(png[offset + 8 ..< offset + 8 + length]) }
            types.append(type)
            offset += 12 + length
        }
        XCTAssertEqual(types, ["IHDR", "IDAT", "IEND"])
        // A zlib stream: CMF 0x78 (deflate, 32 KiB window), header check (CMF·256 + FLG) % 31 == 0,
        // and the Adler-32 of the filtered rows at its end.
        XCTAssertEqual(idat.first, 0x78)
        XCTAssertEqual((Int(idat[idat.startIndex]) * 256 + Int(idat[idat.startIndex + 1])) % 31, 0)
        var raw = [UInt8]()
        for y in 0..<3 { raw.append(0); raw += pixels[y * 15 ..< (y + 1) * 15] }
        var a: UInt32 = 1, b: UInt32 = 0
        for v in raw { a = (a + UInt32(v)) % 65521; b = (b + a) % 65521 }
        XCTAssertEqual(u32(idat, idat.count - 4), b << 16 | a)
    }

    func testSpectrogramImageIsBrighterWhereTheToneIs() throws {
        let r = try SpectrogramRenderer(sampleRate: 24000, melCount: 64)
        // 1 kHz tone in the first half, silence in the second.
        let x: [Float] = (0..<24000).map { $0 < 12000 ? Float(0.5 * sin(2 * .pi * 1000 * Double($0) / 24000)) : 0 }
        let spec = try r.decibels(x, channels: 1)
        let image = r.image(spec, top: SpectrogramRenderer.peak(spec), rowHeight: 2, maxWidth: 50)
        XCTAssertEqual(image.height, 128)
        XCTAssertLessThanOrEqual(image.width, 50)
        func brightness(_ x: Int, _ y: Int) -> Int { let p = (y * image.width + x) * 3; return Int(image.pixels[p]) + Int(image.pixels[p + 1]) + Int(image.pixels[p + 2]) }
        // Brightest row of the first column is the tone's band; the same row in the silent half is dark.
        let rowOfTone = (0..<image.height).max { brightness(2, $0) < brightness(2, $1) }!
        XCTAssertGreaterThan(brightness(2, rowOfTone), 3 * brightness(image.width - 2, rowOfTone) + 50)
        XCTAssertGreaterThan(rowOfTone, image.height / 3, "1 kHz sits in the lower part (low frequencies at the bottom)")
    }

    func testChartTicksAndUndefinedMessage() {
        XCTAssertEqual(SVGLineChart.ticks(0, 10), [0, 2, 4, 6, 8, 10])
        let ticks = SVGLineChart.ticks(1.7819, 1.7945)
        XCTAssertEqual(Set(ticks.map { SVGLineChart.label($0, step: ticks[1] - ticks[0]) }).count, ticks.count, "\(ticks)")
        let empty = SVGLineChart(title: "SNR", xLabel: "kbps", yLabel: "dB",
                                 series: [.init(name: "m", color: "#000", points: [(x: 1, y: nil), (x: 2, y: .infinity)])],
                                 emptyMessage: "undefined (the reference is silent)").svg
        XCTAssert(empty.contains("undefined (the reference is silent)") && !empty.contains("polyline"), empty)
        let chart = SVGLineChart(title: "A <b>", xLabel: "x", yLabel: "y",
                                 series: [.init(name: "m", color: "#000", points: [(x: 1, y: 2), (x: 2, y: nil), (x: 3, y: 5)])]).svg
        XCTAssert(chart.contains("A &lt;b&gt;") && chart.components(separatedBy: "<circle").count == 3, chart)
    }
}
