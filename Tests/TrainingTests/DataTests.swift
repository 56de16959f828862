import XCTest
import AudioIO
import ModelFile
import NN
import TestSupport
import Training

final class DataTests: XCTestCase {
    private var dir: TemporaryDirectory!

    override func setUp() { dir = TemporaryDirectory(prefix: "data-tests") }
    override func tearDown() { dir.cleanup() }

    private func write(_ rel: String, rate: Int, channels: Int = 1, seconds: Double,
                       _ f: (Int, Int) -> Float) throws {
        let url = dir.url.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let n = Int(seconds * Double(rate))
        let chans = (0..<channels).map { c in (0..<n).map { f(c, $0) } }
        try AudioFile.write(AudioBuffer(sampleRate: rate, channels: chans), to: url.path,
                            encoding: rel.hasSuffix(".flac") ? .pcm24 : .float32)
    }

    private func rms(_ x: ArraySlice<Float>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
    }

    func testCorpusScanConvertsRatesAndChannelsAndIgnoresOtherFiles() throws {
        try write("a/tone.wav", rate: 24000, seconds: 1) { _, i in 0.05 * sin(Float(i) * 0.1) }
        try write("b/stereo48.flac", rate: 48000, channels: 2, seconds: 0.5) { _, i in 0.5 * sin(2 * .pi * 1000 * Float(i) / 48000) }
        try write("c/short16.wav", rate: 16000, seconds: 0.1) { _, i in 0.3 * sin(Float(i)) }
        try "not audio".write(toFile: dir.path("notes.txt"), atomically: true, encoding: .utf8)
        try write(".hidden/x.wav", rate: 24000, seconds: 0.1) { _, _ in 0.1 }
        let corpus = try AudioCorpus(directory: dir.url.path, sampleRate: 24000, heldOutFraction: 0)
        XCTAssertEqual(corpus.training.map(\.relativePath), ["a/tone.wav", "b/stereo48.flac", "c/short16.wav"])
        XCTAssertEqual(corpus.training.map(\.modelFrames), [24000, 12000, 2400])
        XCTAssertEqual(corpus.trainingSeconds, 1.6, accuracy: 1e-9)

        var cfg = DataConfig(cropLength: 4800, batchSize: 1, seed: 3)
        cfg.silenceDecibels = -200
        let sampler = try CropSampler(corpus: corpus, config: cfg)
        XCTAssertEqual(sampler.epochLength, 5 + 3 + 1)  // ⌈frames/L⌉ slots per file
        var seen = Set<String>()
        var p = DataPosition()
        for _ in 0..<sampler.epochLength {
            let b = try sampler.batch(at: p)
            p = b.next
            let crop = b.crops[0], x = b.audio.data
            seen.insert(crop.file)
            XCTAssertEqual(b.audio.shape, [1, 1, 4800])
            let peak = x.map(abs).max()!
            // Loudness rule: RMS −20 dBFS unless the peak would pass −1 dBFS.
            let r = rms(x[...])
            if crop.file == "c/short16.wav" {
                XCTAssert(x[2400...].allSatisfy { $0 == 0 }, "zero-padded past the file's end")
                XCTAssertEqual(crop.sourceOffset, 0)
            } else {
                XCTAssert(abs(20 * log10(r) + 20) < 0.01 || abs(Double(peak) - pow(10, -1.0 / 20)) < 1e-3, "rms \(r) peak \(peak)")
            }
            if crop.file == "b/stereo48.flac" {
                // A 1 kHz sine at 24 kHz: 2 zero crossings per 24 samples.
                var crossings = 0
                for i in 1..<4800 where (x[i - 1] < 0) != (x[i] < 0) { crossings += 1 }
                XCTAssertEqual(Double(crossings), 400, accuracy: 3)
                XCTAssertEqual(rms(x[100..<4700]) * 2.0.squareRoot(), Double(peak), accuracy: 0.01)
            }
        }
        XCTAssertEqual(seen.count, 3)
        XCTAssertEqual(p, DataPosition(epoch: 1, index: 0))
    }

    func testHeldOutSplitIsStableAndNeverTrainedOn() throws {
        let names = (0..<400).map { "speech/voice-\($0).flac" }
        let held = names.filter { AudioCorpus.isHeldOut($0, fraction: 0.25) }
        XCTAssertEqual(Double(held.count), 100, accuracy: 30)
        XCTAssertEqual(held, names.filter { AudioCorpus.isHeldOut($0, fraction: 0.25) })
        XCTAssert(names.filter { AudioCorpus.isHeldOut($0, fraction: 0.1) }.allSatisfy(held.contains), "nested in the fraction")

        for i in 0..<16 { try write("f\(i).wav", rate: 8000, seconds: 0.2) { _, j in 0.2 * sin(Float(j * (i + 1)) * 0.05) } }
        let corpus = try AudioCorpus(directory: dir.url.path, sampleRate: 8000, heldOutFraction: 0.3)
        XCTAssertFalse(corpus.heldOut.isEmpty)
        XCTAssertEqual(corpus.heldOut.count + corpus.training.count, 16)
        XCTAssert(corpus.heldOut.allSatisfy { AudioCorpus.isHeldOut($0.relativePath, fraction: 0.3) })
        let sampler = try CropSampler(corpus: corpus, config: DataConfig(cropLength: 400, batchSize: 3, seed: 1))
        let loader = DataLoader(sampler: sampler)
        var used = Set<String>()
        for _ in 0..<(3 * sampler.epochLength / 3 + 2) { for c in try loader.next().crops { used.insert(c.file) } }
        loader.stop()
        XCTAssertEqual(used, Set(corpus.training.map(\.relativePath)))
        XCTAssert(used.isDisjoint(with: corpus.heldOut.map(\.relativePath)))
        let clips = try sampler.heldOutClips(length: 800)
        XCTAssertEqual(clips.map(\.file), corpus.heldOut.map(\.relativePath))
        XCTAssert(clips.allSatisfy { $0.audio.count == 800 })
        XCTAssertEqual(try sampler.heldOutClips(length: 800).map(\.audio), clips.map(\.audio))
        // Fewer clips than files: spread over the sorted list (first, then from the middle on), not its head.
        let h = corpus.heldOut.map(\.relativePath)
        XCTAssertGreaterThanOrEqual(h.count, 3)
        XCTAssertEqual(try sampler.heldOutClips(length: 800, maxClips: 2).map(\.file), [h[0], h[h.count / 2]])
    }

    func testLoaderIsSeededAndResumesExactlyFromItsPosition() throws {
        for i in 0..<5 {
            try write("x/\(i).wav", rate: 16000, seconds: 0.3 + 0.1 * Double(i)) { _, j in
                0.3 * sin(Float(j) * 0.01 * Float(i + 1)) + 0.01 * sin(Float(j * j % 97))
            }
        }
        let corpus = try AudioCorpus(directory: dir.url.path, sampleRate: 24000, heldOutFraction: 0)
        let cfg = DataConfig(cropLength: 2000, batchSize: 4, seed: 42)
        let sampler = try CropSampler(corpus: corpus, config: cfg)
        let a = DataLoader(sampler: sampler)
        let first = try (0..<6).map { _ in try a.next() }
        let saved = first[2].next
        XCTAssertEqual(a.position, first[5].next)
        a.stop()
        // Resume from the saved tensors: batches 3, 4, 5 again, bit for bit.
        let b = DataLoader(sampler: try CropSampler(corpus: corpus, config: cfg),
                           position: try DataPosition(state: saved.state))
        for k in 3..<6 {
            let x = try b.next()
            XCTAssertEqual(x.audio, first[k].audio); XCTAssertEqual(x.crops, first[k].crops)
        }
        b.stop()
        XCTAssertEqual(try sampler.batch(at: DataPosition()).audio, first[0].audio)
        // Another seed, another order.
        let other = try CropSampler(corpus: corpus, config: DataConfig(cropLength: 2000, batchSize: 4, seed: 43))
        XCTAssertNotEqual(try other.batch(at: DataPosition()).crops, first[0].crops)
        XCTAssertThrowsError(try DataPosition(state: [:], path: "ck")) { XCTAssert("\($0)".contains("ck")) }
    }

    func testSilentCropsAreRedrawnAndBadInputIsNamed() throws {
        // 1 s: silence for 0.8 s, then noise-like tone.
        try write("mostly-silent.wav", rate: 24000, seconds: 1) { _, i in i < 19200 ? 0 : 0.2 * sin(Float(i) * 0.3) }
        let corpus = try AudioCorpus(directory: dir.url.path, sampleRate: 24000)
        let sampler = try CropSampler(corpus: corpus, config: DataConfig(cropLength: 2400, batchSize: 8, seed: 5))
        let batch = try sampler.batch(at: DataPosition())
        let loud = (0..<8).filter { b in rms(batch.audio.data[b * 2400 ..< (b + 1) * 2400]) > 0.01 }.count
        XCTAssertGreaterThanOrEqual(loud, 7, "silent crops are redrawn (8 tries each)")

        let empty = TemporaryDirectory(prefix: "empty")
        XCTAssertThrowsError(try AudioCorpus(directory: empty.url.path, sampleRate: 24000)) {
            XCTAssertEqual($0 as? TrainingError, .noTrainingAudio(directory: empty.url.path))
        }
        try Data("RIFF0000WAVEjunk".utf8).write(to: dir.url.appendingPathComponent("broken.wav"))
        XCTAssertThrowsError(try AudioCorpus(directory: dir.url.path, sampleRate: 24000)) {
            XCTAssert("\($0)".contains("broken.wav"), "\($0)")
        }
    }

    func testReadErrorReachesNextWithTheFileNamed() throws {
        try write("gone.wav", rate: 24000, seconds: 0.5) { _, i in 0.1 * sin(Float(i)) }
        let corpus = try AudioCorpus(directory: dir.url.path, sampleRate: 24000, heldOutFraction: 0)
        try FileManager.default.removeItem(atPath: dir.path("gone.wav"))
        let loader = DataLoader(sampler: try CropSampler(corpus: corpus, config: DataConfig(cropLength: 100, batchSize: 2)))
        XCTAssertThrowsError(try loader.next()) { XCTAssert("\($0)".contains("gone.wav"), "\($0)") }
        XCTAssertThrowsError(try loader.next())  // stopped after the error
    }
}
