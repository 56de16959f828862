import AudioIO
import Foundation
import TestSupport
import XCTest

/// `codec eval` end to end: per-stage table, JSON and HTML report on the tiny 24 kHz EnCodec fixture;
/// comparisons of two files with resampling, trimming and refusals; silence; directories.
final class EvalCommandTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    private func codec(_ args: String...) throws -> ProcessResult { try runProcess(RepoPaths.codecBinary, args) }
    private var model: String {
        RepoPaths.fixtures.appendingPathComponent("encodec/encodec_24khz_tiny/encodec_24khz_tiny.th").path
    }

    /// A mono tone with seeded noise, `seconds` long at `rate`, written to `name`.
    @discardableResult
    private func tone(_ name: String, seconds: Double, rate: Int = 24000, channels: Int = 1, seed: UInt64 = 3) throws -> String {
        var rng = SeededRNG(seed: seed)
        let n = Int(seconds * Double(rate))
        let x: [Float] = (0..<n).map { Float(0.3 * sin(2 * .pi * 330 * Double($0) / Double(rate))) + 0.02 * rng.uniform() }
        _ = try AudioFile.write(AudioBuffer(sampleRate: rate, channels: Array(repeating: x, count: channels)), to: dir.path(name))
        return dir.path(name)
    }

    func testPerStageTableJSONAndHTMLReport() throws {
        let input = try tone("in.wav", seconds: 0.5)
        var r = try codec("eval", input, "--model", model)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("stages  kbps  SNR dB  SI-SDR dB  MR-STFT  log-mel"), r.stdout)
        let rows = r.stdout.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("3  2.25") }
        XCTAssertEqual(rows.count, 1, r.stdout)
        XCTAssert(r.stdout.contains("evaluated 4 stages"), r.stdout)

        r = try codec("eval", input, "--model", model, "--json", "--stages", "3")
        XCTAssertEqual(r.status, 0, r.stderr)
        let root = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let report = root["report"] as! [String: Any]
        let stages = report["stages"] as! [[String: Any]]
        XCTAssertEqual(stages.map { $0["kbps"] as! Double }, [0.75, 1.5, 2.25])
        XCTAssertEqual(report["sampleRate"] as? Int, 24000)
        let quality = stages[0]["quality"] as! [String: Any]
        XCTAssertNotNil(quality["snr"] as? Double)
        XCTAssertNotNil((stages[2]["codebook"] as! [String: Any])["entropyBits"] as? Double)

        let html = dir.path("report.html")
        r = try codec("eval", input, "--model", model, "--report", html, "--show", "1,4")
        XCTAssertEqual(r.status, 0, r.stderr)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssert(page.hasPrefix("<!DOCTYPE html>"))
        XCTAssertEqual(page.components(separatedBy: "<svg").count - 1, 6, "one chart per metric")
        XCTAssertEqual(page.components(separatedBy: "src=\"data:image/png;base64,").count - 1, 3, "original, 1 and 4 stages")
        XCTAssert(page.contains("4 stages (3.00 kbps)"))
        // Self-contained: no scripts, stylesheets or images from elsewhere.
        for needle in ["<script", "<link", "src=\"http", "url(", "@import"] { XCTAssertFalse(page.contains(needle), needle) }
    }

    func testSilenceSaysUndefined() throws {
        _ = try AudioFile.write(AudioBuffer(sampleRate: 24000, channelCount: 1, frames: 6000), to: dir.path("silent.wav"))
        var r = try codec("eval", dir.path("silent.wav"), "--model", model)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("undefined (the reference is silent)"), r.stdout)
        XCTAssertFalse(r.stdout.lowercased().contains("nan"), r.stdout)
        r = try codec("eval", dir.path("silent.wav"), dir.path("silent.wav"), "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
        let root = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let m = root["metrics"] as! [String: Any]
        XCTAssertEqual(m["snr"] as? String, "undefined (the reference is silent)")
        XCTAssertEqual(m["mrSTFT"] as? Double, 0)
    }

    func testCompareTwoFiles() throws {
        let ref = try tone("ref.wav", seconds: 0.6)
        // Same file: exact, so SNR is +inf (not NaN) and the spectral distances 0.
        var r = try codec("eval", ref, ref)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("+inf"), r.stdout)
        XCTAssertEqual(r.stderr, "")
        // Other rate and a little longer: resampled and trimmed, and it says so.
        let other = try tone("other.wav", seconds: 0.65, rate: 16000, seed: 4)
        let html = dir.path("cmp.html")
        r = try codec("eval", ref, other, "--report", html)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stderr.contains("resampled \(other) from 16000 Hz to the reference's 24000 Hz"), r.stderr)
        XCTAssert(r.stderr.contains("trimmed both to the shorter length, 14400 samples"), r.stderr)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertEqual(page.components(separatedBy: "data:image/png;base64,").count - 1, 2)
        XCTAssert(page.contains("resampled"))
        // JSON carries the same notes.
        r = try codec("eval", ref, other, "--json")
        let root = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((root["notes"] as! [String]).count, 2)
        XCTAssertEqual(root["length"] as? Int, 14400)
    }

    func testRefusalsAndBadInputFailCleanly() throws {
        let ref = try tone("ref.wav", seconds: 0.6)
        let stereo = try tone("stereo.wav", seconds: 0.6, channels: 2)
        let short = try tone("short.wav", seconds: 0.2)
        try FileManager.default.createDirectory(atPath: dir.path("noaudio/sub"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path("noaudio/sub/a.txt")))
        let cases: [([String], String)] = [
            (["eval", ref, stereo], "cannot compare: \(ref) has 1 channel(s) but \(stereo) has 2"),
            (["eval", ref, short], "less than half"),
            (["eval", dir.path("noaudio"), "--model", model], "no audio files"),
            (["eval", dir.path("missing.wav"), "--model", model], "no such file or directory"),
            (["eval", ref, ref, ref], "or two files REF DEGRADED to compare (got 3)"),
            (["eval", ref, ref, "--stages", "2"], "--stages and --show are for the per-stage report"),
            (["eval", ref, ref, "--model", model], "with --model give one input"),
            (["eval", ref, "--model", model, "--stages", "9"], "the model has 4 codebooks"),
            (["eval", ref, "--model", model, "--show", "x"], "--show takes stage counts"),
        ]
        for (args, needle) in cases {
            let r = try runProcess(RepoPaths.codecBinary, args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssert(r.stderr.contains(needle), "\(args): \(r.stderr)")
        }
    }

    func testDirectoryWithCategories() throws {
        for sub in ["speech", "music"] { try FileManager.default.createDirectory(atPath: dir.path("set/\(sub)"), withIntermediateDirectories: true) }
        try tone("set/speech/a.wav", seconds: 0.3, seed: 1)
        try tone("set/speech/b.wav", seconds: 0.3, seed: 2)
        try tone("set/music/c.wav", seconds: 0.3, rate: 48000, seed: 3)
        let html = dir.path("dir.html")
        var r = try codec("eval", dir.path("set"), "--model", model, "--stages", "2", "--report", html)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("3 audio files, 2 categories"), r.stdout)
        XCTAssert(r.stdout.contains("mean over all 3 files:"), r.stdout)
        XCTAssert(r.stdout.contains("mean over category speech (2 files):"), r.stdout)
        XCTAssert(r.stdout.contains("speech/b.wav"), r.stdout)
        XCTAssert(try String(contentsOfFile: html, encoding: .utf8).contains("Means: speech (2)"))
        r = try codec("eval", dir.path("set"), "--model", model, "--stages", "2", "--json")
        let root = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((root["files"] as! [Any]).count, 3)
        XCTAssertEqual((root["categories"] as! [[String: Any]]).map { $0["name"] as! String }, ["music", "speech"])
    }
}
