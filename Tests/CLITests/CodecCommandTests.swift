import XCTest
import AudioIO
import TestSupport

/// `codec import/encode/decode/roundtrip` end to end on the small EnCodec parity fixtures.
final class CodecCommandTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    private func codec(_ args: String...) throws -> ProcessResult { try runProcess(RepoPaths.codecBinary, args) }

    /// The `.th` checkpoint of the fixture directory whose name contains `tag` ("24khz" or "48khz").
    private func checkpoint(_ tag: String) throws -> String {
        let root = RepoPaths.fixtures.appendingPathComponent("encodec")
        let fm = FileManager.default
        for d in try fm.contentsOfDirectory(atPath: root.path).sorted() where d.contains(tag) {
            let sub = root.appendingPathComponent(d)
            if let th = try? fm.contentsOfDirectory(atPath: sub.path).first(where: { $0.hasSuffix(".th") }) {
                return sub.appendingPathComponent(th).path
            }
        }
        throw XCTSkip("no \(tag) fixture")
    }

    private var sample: String { RepoPaths.resources.appendingPathComponent("samples/speech-en-24k.wav").path }
    private var stereo: String { RepoPaths.resources.appendingPathComponent("samples/speech-music-48k-stereo.flac").path }

    func testImportEncodeDecodeAndRoundtripAgree() throws {
        let th = try checkpoint("24khz")
        let model = dir.path("m.safetensors")
        var r = try codec("import", th, "-o", model)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("encodec_24khz"), r.stdout)
        let ecdc = dir.path("s.ecdc"), wav = dir.path("s.wav"), rt = dir.path("rt.wav")
        r = try codec("encode", sample, "-o", ecdc, "--model", model, "--bandwidth", "1.5")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("2 codebooks (1.50 kbps)"), r.stdout)
        r = try codec("decode", ecdc, "-o", wav, "--model", model)
        XCTAssertEqual(r.status, 0, r.stderr)
        // The .th checkpoint directly gives the same audio as the imported model file.
        r = try codec("roundtrip", sample, "-o", rt, "--model", th, "--bandwidth", "1.5")
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try AudioFile.read(wav), b = try AudioFile.read(rt), input = try AudioFile.read(sample)
        XCTAssertEqual(a.frameCount, input.frameCount)
        XCTAssertEqual(a.sampleRate, 24000)
        XCTAssertEqual(a.samples, b.samples)
        // Stereo 48 kHz input is converted (mean of channels, resampled) for the mono 24 kHz model.
        r = try codec("encode", stereo, "-o", dir.path("st.ecdc"), "--model", model)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("3.50 s"), r.stdout)
    }

    func testBadInputsFailCleanly() throws {
        let th24 = try checkpoint("24khz"), th48 = try checkpoint("48khz")
        let ecdc = dir.path("s.ecdc")
        XCTAssertEqual(try codec("encode", sample, "-o", ecdc, "--model", th24).status, 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: ecdc))
        FileManager.default.createFile(atPath: dir.path("cut.ecdc"), contents: bytes.prefix(bytes.count / 2))
        FileManager.default.createFile(atPath: dir.path("junk.ecdc"), contents: Data("hello".utf8))
        FileManager.default.createFile(atPath: dir.path("junk.th"), contents: Data("not a zip".utf8))
        let before = Set(dir.contents())
        let cases: [([String], String)] = [
            (["encode", sample, "-o", dir.path("o.ecdc"), "--model", th24, "--bandwidth", "24"], "bandwidth 24.0 kbps is not offered"),
            (["decode", ecdc, "-o", dir.path("o.wav"), "--model", th48], "made with 'encodec_24khz'"),
            (["decode", dir.path("cut.ecdc"), "-o", dir.path("o.wav"), "--model", th24], "truncated"),
            (["decode", dir.path("junk.ecdc"), "-o", dir.path("o.wav"), "--model", th24], "too short"),
            (["encode", sample, "-o", dir.path("o.ecdc"), "--model", dir.path("junk.th")], "junk.th"),
            (["encode", sample, "-o", dir.path("o.ecdc"), "--model", dir.path("none.th")], "no such file"),
            (["encode", dir.path("none.wav"), "-o", dir.path("o.ecdc"), "--model", th24], "no such file"),
            (["encode", sample, "-o", dir.path("no/dir/o.ecdc"), "--model", th24], "does not exist"),
        ]
        for (args, needle) in cases {
            let r = try runProcess(RepoPaths.codecBinary, args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertEqual(Set(dir.contents()), before, "no output left behind")
    }
}
