import AudioIO
import Foundation
import TestSupport
import XCTest

/// `codec train` end to end on a tiny corpus: progress lines, model and checkpoint files, Ctrl-C saving a
/// checkpoint that --resume continues from, and bad data directories.
final class TrainCommandTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    private func corpus() throws -> String {
        let data = dir.path("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        var rng = SeededRNG(seed: 9)
        for (i, f) in [220.0, 330.0, 440.0, 550.0, 660.0, 770.0].enumerated() {
            let x: [Float] = (0..<36000).map { Float(0.3 * sin(2 * .pi * f * Double($0) / 24000)) + 0.02 * rng.uniform() }
            _ = try AudioFile.write(AudioBuffer(sampleRate: 24000, channels: [x]), to: "\(data)/clip\(i).wav")
        }
        return data
    }

    private var tinyArguments: [String] {
        ["--width", "2", "--base-width", "2", "--stages", "2", "--codebook-size", "16", "--batch", "2", "--crop-seconds", "0.4",
         "--warmup", "2", "--held-out", "0.5", "--log-every", "1", "--eval-clips", "1"]
    }

    func testTrainsWritesModelAndCheckpointAndReports() throws {
        let data = try corpus()
        let model = dir.path("m.safetensors")
        let r = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "8", "-o", model] + tinyArguments)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("step 8/8"), r.stdout)
        XCTAssert(r.stdout.contains("codes used"), r.stdout)
        XCTAssert(r.stdout.contains("eval step 8"), r.stdout)
        XCTAssert(FileManager.default.fileExists(atPath: model))
        XCTAssert(FileManager.default.fileExists(atPath: model + ".ckpt"))
        XCTAssertEqual(dir.contents().filter { $0.hasPrefix(".") }, [], "temporary files left behind")
        // The model works with the other commands.
        let out = dir.path("rt.wav")
        let rt = try runProcess(RepoPaths.codecBinary, ["roundtrip", "\(data)/clip0.wav", "-o", out, "--model", model])
        XCTAssertEqual(rt.status, 0, rt.stderr)
    }

    func testListHeldOutMatchesTheSplitTrainingUses() throws {
        let data = try corpus()
        let r = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--held-out", "0.5", "--list-held-out"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let listed = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertFalse(listed.isEmpty)
        XCTAssertLessThan(listed.count, 6)
        for f in listed { XCTAssert(f.hasPrefix(data) && FileManager.default.fileExists(atPath: f), f) }
        // The trainer holds out the same number of files (and its evaluation reads only those).
        let t = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "1", "-o", dir.path("m.safetensors")] + tinyArguments)
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssert(t.stdout.contains("\(listed.count) held out") || t.stderr.contains("\(listed.count) held out"), t.stdout + t.stderr)
        // Without --list-held-out, --steps and -o are required.
        let bad = try runProcess(RepoPaths.codecBinary, ["train", "--data", data])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.stderr.contains("--steps is required"), bad.stderr)
    }

    func testInterruptSavesACheckpointThatResumes() throws {
        let data = try corpus()
        let model = dir.path("m.safetensors")
        let p = Process()
        p.executableURL = RepoPaths.codecBinary
        p.arguments = ["train", "--data", data, "--steps", "100000", "-o", model, "--checkpoint-every", "100000"] + tinyArguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for the first progress line, then interrupt.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("step 3/") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        p.interrupt()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssert(FileManager.default.fileExists(atPath: model + ".ckpt"), "no checkpoint after Ctrl-C")

        let r = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "12", "-o", model, "--resume"] + tinyArguments)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stderr.contains("resumed"), r.stderr)
        XCTAssert(r.stdout.contains("step 12/12"), r.stdout)
    }

    func testCommitmentWeightDefaultsToTheMeanOverStagesAndCanChangeOnResume() throws {
        let data = try corpus()
        let model = dir.path("m.safetensors")
        // tinyArguments train 2 stages: the default weight is 1/2 per stage (EnCodec's 1 on the mean).
        let first = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "2", "-o", model] + tinyArguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        let same = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "3", "-o", model, "--resume", "--commitment-weight", "0.5"] + tinyArguments)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertFalse(same.stderr.contains("commitment weight changed"), same.stderr)
        // A new weight on resume is applied, logged, and kept by later checkpoints.
        let changed = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "4", "-o", model, "--resume", "--commitment-weight", "0.25"] + tinyArguments)
        XCTAssertEqual(changed.status, 0, changed.stderr)
        XCTAssert(changed.stderr.contains("commitment weight changed from 0.5 to 0.25 at step 3"), changed.stderr)
        let kept = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "5", "-o", model, "--resume"] + tinyArguments)
        XCTAssertEqual(kept.status, 0, kept.stderr)
        XCTAssertFalse(kept.stderr.contains("commitment weight changed"), kept.stderr)
        let again = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "6", "-o", model, "--resume", "--commitment-weight", "1"] + tinyArguments)
        XCTAssert(again.stderr.contains("commitment weight changed from 0.25 to 1.0 at step 5"), again.stderr)
        let bad = try runProcess(RepoPaths.codecBinary, ["train", "--data", data, "--steps", "2", "-o", dir.path("n.safetensors"), "--commitment-weight=-1"] + tinyArguments)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.stderr.contains("--commitment-weight must be"), bad.stderr)
    }

    func testEmptyDataDirectoryIsRefused() throws {
        let empty = dir.path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let r = try runProcess(RepoPaths.codecBinary, ["train", "--data", empty, "--steps", "2", "-o", dir.path("m.safetensors")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.stderr.contains("no readable audio file"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("m.safetensors")))
    }
}
