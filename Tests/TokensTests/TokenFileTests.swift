import XCTest
import Foundation
import Codec
import ModelFile
import TestSupport
import Tokens

final class TokenFileTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    func testCodesAreInt16AndSequencesRoundTrip() throws {
        let codes = TokenArray(codebooks: 2, frames: 3, values: [0, 1023, 5, 7, 8, 9])
        try TokenFile.writeCodes(codes, to: dir.path("c.npy"))
        let stored = try Npy.readIntegers(path: dir.path("c.npy"))
        XCTAssertEqual(stored.elementType, .int16)
        XCTAssertEqual(stored.shape, [2, 3])
        XCTAssertEqual(try TokenFile.readCodes(path: dir.path("c.npy")), codes)
        let seq = try TokenLayout(pattern: .flatten, bins: 1024).layout(codes)
        try TokenFile.writeSequence(seq, to: dir.path("s.npy"))
        XCTAssertEqual(try Npy.readIntegers(path: dir.path("s.npy")).elementType, .int32)
        XCTAssertEqual(try TokenFile.readCodes(path: dir.path("s.npy"), pattern: .flatten, bins: 1024, codebooks: 2), codes)
        XCTAssertThrowsError(try TokenFile.readCodes(path: dir.path("s.npy"))) { XCTAssertTrue("\($0)".contains("--pattern"), "\($0)") }
        XCTAssertThrowsError(try TokenFile.readCodes(path: dir.path("c.npy"), pattern: nil, bins: 1024, codebooks: 3))
    }

    /// Codes of the fixture model decode through `encodedAudio` to what the model decodes directly.
    func testEncodedAudioFromCodesAndModelLimits() throws {
        let root = RepoPaths.fixtures.appendingPathComponent("encodec")
        let archive = try ModelArchive.load(path: root.appendingPathComponent("encodec_24khz_tiny/encodec_24khz_tiny.th").path)
        let model = try CodecModel(archive)
        XCTAssertNil(model.tokenFileLimitation)
        var rng = SeededRNG(seed: 3)
        let audio = rng.floats(2400, -0.5, 0.5)
        let encoded = try model.encode(audio, channels: 1, bandwidth: 3)
        let codes = try model.tokenArray(encoded)
        XCTAssertEqual(codes.shape, [4, encoded.segments[0].frames])
        let rebuilt = try model.encodedAudio(codes: codes, path: "x.npy")
        XCTAssertEqual(rebuilt.length, codes.columns * model.config.hopLength)
        let a = try model.decode(encoded), b = try model.decode(rebuilt)
        XCTAssertEqual(Array(b.prefix(a.count)), a)
        var bad = codes; bad.values[0] = Int32(model.config.bins)
        XCTAssertThrowsError(try model.encodedAudio(codes: bad, path: "x.npy")) { XCTAssertTrue("\($0)".contains("x.npy"), "\($0)") }
        // Fingerprint: the same weights from another file format give the same hash.
        let hf = try ModelArchive.load(path: root.appendingPathComponent("encodec_24khz_tiny/hf/model.safetensors").path)
        XCTAssertEqual(hf.fingerprint, archive.fingerprint)
        XCTAssertEqual(archive.fingerprint, archive.withoutTrainingBuffers().fingerprint)
        // The 48 kHz model codes in scaled segments: refused with the reason.
        let m48 = try CodecModel.load(path: root.appendingPathComponent("encodec_48khz_tiny/encodec_48khz_tiny.th").path)
        XCTAssertNotNil(m48.tokenFileLimitation)
        XCTAssertThrowsError(try CorpusTokenizer(model: m48, modelHash: "x", bandwidth: nil, outputDirectory: dir.url.path)) {
            XCTAssertTrue("\($0)".contains("segments"), "\($0)")
        }
        // Embeddings: each codebook's vectors.
        let e = CodebookExport.tensors(model)
        XCTAssertEqual(e.count, model.config.codebooks)
        XCTAssertEqual(e["codebook.1"]?.shape, [model.config.bins, model.config.dimension])
        XCTAssertEqual(e["codebook.1"]?.values, archive.tensors["quantizer.vq.layers.1._codebook.embed"]?.values)
    }
}
