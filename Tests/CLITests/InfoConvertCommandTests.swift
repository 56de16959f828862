import XCTest
import AudioIO
import TestSupport

/// Runs the built `codec` binary end to end: exit codes, stdout, stderr and files left behind.
final class InfoConvertCommandTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    private var sample: String { RepoPaths.resources.appendingPathComponent("samples/speech-en-24k.wav").path }
    private var stereo: String { RepoPaths.resources.appendingPathComponent("samples/speech-music-48k-stereo.flac").path }

    private func codec(_ args: String...) throws -> ProcessResult {
        let bin = RepoPaths.codecBinary
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: bin.path), "codec binary not built at \(bin.path)")
        return try runProcess(bin, args)
    }

    func testInfoTextAndJSON() throws {
        let r = try codec("info", sample)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("24000 Hz"))
        XCTAssertTrue(r.stdout.contains("Signed 16 bit PCM"))
        let j = try codec("info", "--json", sample, stereo)
        XCTAssertEqual(j.status, 0, j.stderr)
        let arr = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(arr.count, 2)
        XCTAssertEqual(arr[1]["channels"] as? Int, 2)
        XCTAssertEqual(arr[1]["sampleRate"] as? Int, 48000)
        let audio = try AudioFile.read(sample)
        XCTAssertEqual(arr[0]["frames"] as? Int, audio.frameCount)
        var levels = AudioLevels(); levels.add(audio.samples)
        XCTAssertEqual(arr[0]["peakDBFS"] as! Double, levels.peakDBFS!, accuracy: 0.006)
        XCTAssertEqual(arr[0]["rmsDBFS"] as! Double, levels.rmsDBFS!, accuracy: 0.006)
    }

    func testConvertResamplesAndRemixes() throws {
        let out = dir.path("mono24k.wav")
        let r = try codec("convert", stereo, out, "--rate", "24000", "--channels", "1")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(out): 24000 Hz, 1 ch, 3.500 s"), r.stdout)
        let got = try AudioFile.read(out)
        // Same result as the library: mean of channels, then soxr, then 16-bit quantization.
        let expected = try AudioFile.read(stereo, sampleRate: 24000, channels: 1)
        XCTAssertEqual(got.frameCount, expected.frameCount)
        XCTAssertLessThanOrEqual(maxAbsDiff(got.samples, expected.samples), 1.0 / 32768 * 0.5 + 1e-7)
        XCTAssertEqual(dir.contents(), ["mono24k.wav"])
    }

    func testBadInputsExitNonZeroWithOneLineAndNoOutput() throws {
        FileManager.default.createFile(atPath: dir.path("empty.wav"), contents: Data())
        FileManager.default.createFile(atPath: dir.path("text.wav"), contents: Data("not audio".utf8))
        let cases: [([String], String)] = [
            (["info", dir.path("missing.wav")], "no such file"),
            (["info", dir.url.path], "is a directory"),
            (["info", dir.path("empty.wav")], "file is empty"),
            (["info", dir.path("text.wav")], "not a readable audio file"),
            (["convert", stereo, dir.path("o.wav"), "--channels", "3"], "cannot convert 2 channels to 3"),
            (["convert", sample, dir.path("no/dir/o.wav")], "does not exist"),
        ]
        for (args, message) in cases {
            let r = try codec(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): stderr was \(r.stderr)")
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, r.stderr)
        }
        // A usage error names the option on its first line, followed by the usage summary.
        let u = try codec(["convert", sample, dir.path("o.wav"), "--rate", "0"])
        XCTAssertEqual(u.status, 64, "usage errors exit with EX_USAGE")
        XCTAssertTrue(u.stderr.hasPrefix("Error: --rate must be positive (got 0)"), u.stderr)
        XCTAssertEqual(dir.contents(), ["empty.wav", "text.wav"], "no output file left behind")
    }

    private func codec(_ args: [String]) throws -> ProcessResult { try runProcess(RepoPaths.codecBinary, args) }
}
