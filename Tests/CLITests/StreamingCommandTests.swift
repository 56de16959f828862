import XCTest
import AudioIO
import TestSupport

/// `codec encode/decode/roundtrip` stream through the block reader and writer: the same bytes and samples as
/// the whole-file path (`--whole`), nothing left behind on failure, no progress when not on a terminal.
final class StreamingCommandTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    private func codec(_ args: [String]) throws -> ProcessResult { try runProcess(RepoPaths.codecBinary, args) }

    private func fixture(_ name: String) -> String {
        RepoPaths.fixtures.appendingPathComponent("encodec/\(name)/\(name).th").path
    }

    /// A seeded noise-and-tone WAV of `frames` frames.
    private func wav(_ name: String, frames: Int, rate: Int, channels: Int) throws -> String {
        var rng = SeededRNG(seed: UInt64(frames))
        var planar: [[Float]] = []
        for c in 0..<channels {
            planar.append((0..<frames).map { i in
                0.3 * sin(Float(i) * 0.031 * Float(c + 1)) + 0.1 * rng.uniform()
            })
        }
        let path = dir.path(name)
        try AudioFile.write(AudioBuffer(sampleRate: rate, channels: planar), to: path, encoding: .float32)
        return path
    }

    private func check(model: String, input: String, label: String) throws {
        let streamed = dir.path("s.ecdc"), whole = dir.path("w.ecdc")
        var r = try codec(["encode", input, "-o", streamed, "--model", model])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "", "no progress when stderr is not a terminal")
        r = try codec(["encode", input, "-o", whole, "--model", model, "--whole"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try Data(contentsOf: URL(fileURLWithPath: streamed)), b = try Data(contentsOf: URL(fileURLWithPath: whole))
        XCTAssertEqual(a, b, "\(label): streamed .ecdc differs from the whole-file one")
        let sw = dir.path("s.wav"), ww = dir.path("w.wav")
        r = try codec(["decode", streamed, "-o", sw, "--model", model, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try codec(["decode", streamed, "-o", ww, "--model", model, "--whole"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let x = try AudioFile.read(sw), y = try AudioFile.read(ww)
        XCTAssertEqual(x.frameCount, y.frameCount, label)
        XCTAssertEqual(x.samples, y.samples, "\(label): streamed decode differs from the whole-file one")
        let rs = dir.path("rs.wav"), rw = dir.path("rw.wav")
        XCTAssertEqual(try codec(["roundtrip", input, "-o", rs, "--model", model]).status, 0)
        XCTAssertEqual(try codec(["roundtrip", input, "-o", rw, "--model", model, "--whole"]).status, 0)
        XCTAssertEqual(try AudioFile.read(rs).samples, try AudioFile.read(rw).samples, "\(label): roundtrip")
        XCTAssertEqual(try AudioFile.read(rs).samples, x.samples, "\(label): roundtrip equals encode + decode")
    }

    func testStreamedCommandsEqualWholeFile24kHz() throws {
        // 200 k frames: several read blocks of 65536; 44.1 kHz stereo goes through channel mixing and soxr.
        try check(model: fixture("encodec_24khz_tiny"), input: try wav("a.wav", frames: 200_001, rate: 24000, channels: 1), label: "24k mono")
        try check(model: fixture("encodec_24khz_tiny"), input: try wav("b.wav", frames: 150_000, rate: 44100, channels: 2), label: "44.1k stereo → 24k")
    }

    func testStreamedCommandsEqualWholeFile48kHzSegments() throws {
        try check(model: fixture("encodec_48khz_tiny"), input: try wav("c.wav", frames: 130_000, rate: 48000, channels: 2), label: "48k stereo")
    }

    func testFailedDecodeLeavesNothing() throws {
        let model = fixture("encodec_24khz_tiny")
        let input = try wav("a.wav", frames: 100_000, rate: 24000, channels: 1)
        let ecdc = dir.path("x.ecdc")
        XCTAssertEqual(try codec(["encode", input, "-o", ecdc, "--model", model]).status, 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: ecdc))
        let cut = dir.path("cut.ecdc")
        FileManager.default.createFile(atPath: cut, contents: bytes.prefix(bytes.count * 3 / 4))
        let before = dir.contents()
        let r = try codec(["decode", cut, "-o", dir.path("out.wav"), "--model", model])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("truncated"), r.stderr)
        XCTAssertEqual(dir.contents(), before, "no output and no temporary file after a failed decode")
        // A failed encode (bad bandwidth) leaves nothing either.
        let e = try codec(["encode", input, "-o", dir.path("bad.ecdc"), "--model", model, "--bandwidth", "9"])
        XCTAssertNotEqual(e.status, 0)
        XCTAssertEqual(dir.contents(), before)
    }
}
