import XCTest
import AudioIO
import Codec
import NN
import TestSupport
import Training

/// The training loop end to end on a tiny corpus and a tiny model: the loss goes down, a resumed run equals
/// an uninterrupted one bit for bit, and the exported model loads into `CodecModel`.
final class TrainerTests: XCTestCase {
    private var dir: TemporaryDirectory!

    override func setUpWithError() throws {
        dir = TemporaryDirectory(prefix: "trainer-tests")
        // Harmonic tones with vibrato and a little noise, at two rates (one resampled on read).
        var rng = SeededRNG(seed: 5)
        for (i, (rate, f0)) in [(24000, 180.0), (24000, 260.0), (16000, 330.0), (24000, 410.0)].enumerated() {
            let n = rate * 2
            var x = [Float](repeating: 0, count: n)
            for t in 0..<n {
                let time = Double(t) / Double(rate)
                let f = f0 * (1 + 0.02 * sin(2 * .pi * 3 * time))
                var v = 0.0
                for h in 1...4 { v += sin(2 * .pi * f * Double(h) * time) / Double(h) }
                x[t] = Float(0.2 * v) + 0.01 * rng.normal()
            }
            try AudioFile.write(AudioBuffer(sampleRate: rate, channels: [x]), to: dir.path("tone\(i).wav"), encoding: .float32)
        }
    }

    override func tearDown() { dir.cleanup() }

    private func settings(steps: Int) -> TrainerSettings {
        var s = TrainerSettings(filters: 2, steps: steps)
        s.baseFilters = 2
        s.codebooks = 2
        s.codebookSize = 16
        s.batchSize = 2
        s.cropLength = 9600   // 30 frames: the quantizer initialises after 20·16 = 320 buffered frames (6 steps)
        s.learningRate = 3e-3
        s.warmupSteps = 5
        s.heldOutFraction = 0
        s.seed = 11
        return s
    }

    func testSeededLossGoesDownAndQuantizerInitialises() throws {
        let trainer = try Trainer(settings: settings(steps: 60), dataDirectory: dir.url.path)
        defer { trainer.stop() }
        var totals: [Double] = []
        var last: StepReport!
        for _ in 0..<60 { last = try trainer.trainStep(); totals.append(last.total) }
        let first = totals.prefix(10).reduce(0, +) / 10, end = totals.suffix(10).reduce(0, +) / 10
        XCTAssertLessThan(end, 0.8 * first, "mean loss of the last 10 steps \(end) vs the first 10 \(first)")
        XCTAssertTrue(trainer.quantizer.isInitialized)
        XCTAssertEqual(last.codesUsed.count, 2)
        XCTAssert(last.codesUsed.allSatisfy { $0 >= 1 }, "codes used \(last.codesUsed)")
        XCTAssertGreaterThan(last.commitment, 0)
    }

    func testTheSameStepsOnOneAndTwoThreads() throws {
        func run(threads: Int) throws -> [Double] {
            try Parallel.withThreads(threads) {
                let trainer = try Trainer(settings: settings(steps: 9), dataDirectory: dir.url.path)
                defer { trainer.stop() }
                return try (0..<9).map { _ in try trainer.trainStep().total }
            }
        }
        XCTAssertEqual(try run(threads: 1), try run(threads: 2))
    }

    func testResumeEqualsAnUninterruptedRun() throws {
        let steps = 12
        let straight = try Trainer(settings: settings(steps: steps), dataDirectory: dir.url.path)
        defer { straight.stop() }
        var straightReports: [StepReport] = []
        for _ in 0..<steps { straightReports.append(try straight.trainStep()) }

        let first = try Trainer(settings: settings(steps: steps), dataDirectory: dir.url.path)
        for _ in 0..<7 { _ = try first.trainStep() }   // past the quantizer's initialisation (step 6)
        let ckpt = dir.path("run.ckpt")
        try first.saveCheckpoint(to: ckpt)
        first.stop()
        let resumed = try Trainer.resume(checkpoint: ckpt, dataDirectory: dir.url.path)
        defer { resumed.stop() }
        XCTAssertEqual(resumed.step, 7)
        var resumedReports: [StepReport] = []
        for _ in 7..<steps { resumedReports.append(try resumed.trainStep()) }

        XCTAssertEqual(resumedReports.map(\.total), straightReports.suffix(5).map(\.total))
        XCTAssertEqual(resumed.model.values, straight.model.values, "parameters differ after resuming")
        XCTAssertEqual(resumed.quantizer.embeddings, straight.quantizer.embeddings, "codebooks differ after resuming")
        XCTAssertEqual(resumed.optimizer.secondMoment, straight.optimizer.secondMoment)
    }

    func testExportedModelLoadsAndEncodes() throws {
        let trainer = try Trainer(settings: settings(steps: 10), dataDirectory: dir.url.path)
        defer { trainer.stop() }
        XCTAssertThrowsError(try trainer.exportModel(to: dir.path("early.safetensors"))) { e in
            XCTAssert("\(e)".contains("uninitialised"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("early.safetensors")))
        for _ in 0..<8 { _ = try trainer.trainStep() }
        let path = dir.path("model.safetensors")
        try trainer.exportModel(to: path)
        let model = try CodecModel.load(path: path)
        XCTAssertEqual(model.config.bins, 16)
        XCTAssertEqual(model.config.codebooks, 2)
        let audio = (0..<24000).map { Float(0.3 * sin(Double($0) * 0.05)) }
        let encoded = try model.encode(audio, channels: 1, bandwidth: nil)
        XCTAssertEqual(encoded.segments.count, 1)
        XCTAssertEqual(encoded.segments[0].frames, 75)
        XCTAssertEqual(encoded.segments[0].codebooks, 2)
        XCTAssert(encoded.segments[0].codes.allSatisfy { $0 >= 0 && $0 < 16 })
        let decoded = try model.decode(encoded)
        XCTAssertEqual(decoded.count, 24000)
    }

    func testResumeRefusesAForeignFile() throws {
        let model = RepoPaths.fixtures.appendingPathComponent("encodec/encodec_24khz_tiny/hf/model.safetensors").path
        XCTAssertThrowsError(try Trainer.resume(checkpoint: model, dataDirectory: dir.url.path)) { e in
            XCTAssert("\(e)".contains("not a NeuralCodec training checkpoint"), "\(e)")
        }
    }
}
