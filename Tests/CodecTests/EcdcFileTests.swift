// EcdcFileTests: `.ecdc` files written by the reference (encodec.compress.compress, use_lm=False) parse to
// the codes and scales it recorded, are rewritten byte for byte, and bad files fail with clear errors.
import Foundation
import XCTest
import Codec
import TestSupport

final class EcdcFileTests: XCTestCase {
    // MARK: Fixture access (JSON written by scripts/make-encodec-fixtures.py)

    struct ModelConfig: Decodable {
        struct Derived: Decodable {
            let hopLength: Int
            let frameRate: Int
            let segmentLength: Int?
            let segmentStride: Int?
            let bitsPerCodebook: Int
        }
        let name: String
        let sampleRate: Int
        let normalize: Bool
        let derived: Derived
    }

    struct ReferenceFile: Decodable {
        struct Frame: Decodable {
            let scale: Double?
            let scaleBits: String?
            let codes: [[Int]]
        }
        let file: String
        let model: String
        let headerJson: String
        let audioLength: Int
        let numCodebooks: Int
        let useLm: Bool
        let bytes: Int
        let referenceDecompress: String
        let frames: [Frame]
    }

    struct CasesManifest: Decodable {
        struct Segment: Decodable { let offset: Int; let length: Int; let frames: Int }
        struct Case: Decodable { let name: String; let length: Int; let segments: [Segment] }
        let cases: [Case]
    }

    struct JSONExamples: Decodable {
        struct Example: Decodable { let m: String; let al: Int; let nc: Int; let lm: Bool; let json: String }
        let examples: [Example]
    }

    static let root = RepoPaths.fixtures.appendingPathComponent("encodec")
    static let models = ["encodec_24khz_tiny", "encodec_48khz_tiny"]

    func decode<T: Decodable>(_ type: T.Type, _ url: URL) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(contentsOf: url))
    }

    func layout(_ model: String) throws -> EcdcLayout {
        let c = try decode(ModelConfig.self, Self.root.appendingPathComponent("\(model)/config.json"))
        XCTAssertEqual(c.name, model)
        return EcdcLayout(modelName: c.name, sampleRate: c.sampleRate, hopLength: c.derived.hopLength,
                          segmentLength: c.derived.segmentLength, segmentStride: c.derived.segmentStride,
                          normalize: c.normalize, bitsPerCode: c.derived.bitsPerCodebook)
    }

    /// (model, JSON record, path of the .ecdc) for every reference file.
    func referenceFiles() throws -> [(String, ReferenceFile, String)] {
        var out: [(String, ReferenceFile, String)] = []
        for model in Self.models {
            let dir = Self.root.appendingPathComponent("\(model)/ecdc")
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
            for name in names {
                let rec = try decode(ReferenceFile.self, dir.appendingPathComponent(name))
                out.append((model, rec, dir.appendingPathComponent(rec.file).path))
            }
        }
        XCTAssertGreaterThanOrEqual(out.count, 8, "expected the reference .ecdc fixtures of both models")
        return out
    }

    func expectedFile(_ rec: ReferenceFile) -> EcdcFile {
        EcdcFile(modelName: rec.model, audioLength: rec.audioLength, numCodebooks: rec.numCodebooks, useLM: rec.useLm,
                 frames: rec.frames.map { f in
                     EcdcFile.Frame(codes: f.codes, scale: f.scaleBits.map { Float(bitPattern: UInt32($0.dropFirst(2), radix: 16)!) })
                 })
    }

    /// Asserts that `body` throws `CodecError.corruptTokens` for `path` whose reason contains `fragment`.
    func assertCorrupt(_ fragment: String, path: String, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected a corrupt-file error (\(fragment))", file: file, line: line)
        } catch let CodecError.corruptTokens(p, reason) {
            XCTAssertEqual(p, path, file: file, line: line)
            XCTAssertTrue(reason.contains(fragment), "reason '\(reason)' lacks '\(fragment)'", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    // MARK: Reference files

    func testReadsReferenceFilesWithTheirCodesScalesAndMetadata() throws {
        for (model, rec, path) in try referenceFiles() {
            let f = try EcdcFile.read(path: path, layout: try layout(model))
            XCTAssertEqual(f.modelName, model, rec.file)
            XCTAssertEqual(f.audioLength, rec.audioLength, rec.file)
            XCTAssertEqual(f.numCodebooks, rec.numCodebooks, rec.file)
            XCTAssertFalse(f.useLM, rec.file)
            XCTAssertEqual(f.frames.count, rec.frames.count, rec.file)
            for (s, (got, want)) in zip(f.frames, rec.frames).enumerated() {
                XCTAssertEqual(got.codes, want.codes, "\(rec.file) segment \(s)")
                if let bits = want.scaleBits {
                    XCTAssertEqual(got.scale?.bitPattern, UInt32(bits.dropFirst(2), radix: 16), "\(rec.file) segment \(s)")
                    XCTAssertEqual(Double(got.scale!), want.scale!, "\(rec.file) segment \(s)")
                } else {
                    XCTAssertNil(got.scale, rec.file)
                }
            }
            XCTAssertEqual(f, expectedFile(rec), rec.file)
            let header = try EcdcFile.readHeader(path: path)
            XCTAssertEqual(EcdcFile.headerJSON(modelName: header.modelName, audioLength: header.audioLength,
                                               numCodebooks: header.numCodebooks, useLM: header.useLM), rec.headerJson)
            XCTAssertEqual(header.payloadOffset, 9 + rec.headerJson.utf8.count)
        }
    }

    func testWritesReferenceFilesByteForByte() throws {
        let tmp = TemporaryDirectory()
        for (model, rec, path) in try referenceFiles() {
            let reference = try Data(contentsOf: URL(fileURLWithPath: path))
            XCTAssertEqual(reference.count, rec.bytes)
            let file = expectedFile(rec)
            XCTAssertEqual(try file.encoded(layout: try layout(model)), reference, rec.file)
            let out = tmp.path("\(model)-\(rec.file)")
            try file.write(to: out, layout: try layout(model))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), reference, rec.file)
        }
        XCTAssertEqual(tmp.contents().count, try referenceFiles().count, "temporary files left behind: \(tmp.contents())")
    }

    /// The reference writes a file for 6720 samples (21 frames) that its own reader cannot read: it computes
    /// ceil(6720 / 24000 · 75) = 22 frames in floating point. Ours reads the 21 frames written.
    func testReadsTheLengthTheReferenceReaderGetsWrong() throws {
        let model = "encodec_24khz_tiny"
        let path = Self.root.appendingPathComponent("\(model)/ecdc/len6720_bw3.ecdc").path
        let rec = try decode(ReferenceFile.self, Self.root.appendingPathComponent("\(model)/ecdc/len6720_bw3.json"))
        XCTAssertTrue(rec.referenceDecompress.hasPrefix("fails"), rec.referenceDecompress)
        XCTAssertEqual((Double(6720) / 24000 * 75).rounded(.up), 22)
        let f = try EcdcFile.read(path: path, layout: try layout(model))
        XCTAssertEqual(f.frames[0].codes.map(\.count), Array(repeating: 21, count: rec.numCodebooks))
        XCTAssertEqual(f.frames[0].codes, rec.frames[0].codes)
    }

    /// The presets equal what the reference computes for the released models (segment, stride, hop).
    func testPresetsAndSegmentRuleMatchTheReference() throws {
        var l24 = try layout("encodec_24khz_tiny")
        l24.modelName = "encodec_24khz"
        XCTAssertEqual(l24, EcdcLayout.encodec24kHz)
        var l48 = try layout("encodec_48khz_tiny")
        l48.modelName = "encodec_48khz"
        XCTAssertEqual(l48, EcdcLayout.encodec48kHz)
        var checked = 0
        for model in Self.models {
            let manifest = try decode(CasesManifest.self, Self.root.appendingPathComponent("\(model)/cases.json"))
            let lay = try layout(model)
            for c in manifest.cases {
                let segs = lay.segments(audioLength: c.length)
                XCTAssertEqual(segs.map(\.offset), c.segments.map(\.offset), "\(model) \(c.name)")
                XCTAssertEqual(segs.map(\.length), c.segments.map(\.length), "\(model) \(c.name)")
                XCTAssertEqual(segs.map(\.frames), c.segments.map(\.frames), "\(model) \(c.name)")
                checked += 1
            }
            XCTAssertTrue(manifest.cases.contains { $0.segments.count > 1 } || lay.segmentLength == nil)
        }
        XCTAssertGreaterThanOrEqual(checked, 10)
    }

    func testHeaderJSONMatchesPythonJSONDumps() throws {
        let ex = try decode(JSONExamples.self, Self.root.appendingPathComponent("ecdc_json_examples.json"))
        XCTAssertGreaterThanOrEqual(ex.examples.count, 5)
        for e in ex.examples {
            XCTAssertEqual(EcdcFile.headerJSON(modelName: e.m, audioLength: e.al, numCodebooks: e.nc, useLM: e.lm), e.json)
        }
    }

    // MARK: Bit packing

    /// BitPacker by hand: 1023 then 1 at 10 bits → 0xFF, 0x07, then the flushed partial byte 0x00.
    func testPacksTenBitCodesLeastSignificantBitFirst() throws {
        let lay = EcdcLayout(modelName: "m", sampleRate: 24_000, hopLength: 320, segmentLength: nil, segmentStride: nil,
                             normalize: false)
        let f = EcdcFile(modelName: "m", audioLength: 100, numCodebooks: 2, frames: [.init(codes: [[1023], [1]], scale: nil)])
        let data = try f.encoded(layout: lay)
        let json = #"{"m": "m", "al": 100, "nc": 2, "lm": false}"#
        XCTAssertEqual(Array(data.prefix(9)), Array("ECDC".utf8) + [0, 0, 0, 0, UInt8(json.utf8.count)])
        XCTAssertEqual(String(decoding: data[9..<(9 + json.utf8.count)], as: UTF8.self), json)
        XCTAssertEqual(Array(data.suffix(from: 9 + json.utf8.count)), [0xFF, 0x07, 0x00])
        XCTAssertEqual(try EcdcFile.parse(data, path: "x", layout: lay), f)
    }

    /// Segments are packed separately (each flushed) with the big-endian float32 scale in front.
    func testSegmentsAreFlushedSeparatelyAfterTheirScale() throws {
        let lay = EcdcLayout(modelName: "s", sampleRate: 48_000, hopLength: 320, segmentLength: 640, segmentStride: 600,
                             normalize: true)
        // 700 samples: segments [0, 640) with 2 frames and [600, 700) with 1 frame.
        XCTAssertEqual(lay.segments(audioLength: 700).map(\.frames), [2, 1])
        let f = EcdcFile(modelName: "s", audioLength: 700, numCodebooks: 1, frames: [
            .init(codes: [[5, 6]], scale: 1.5), .init(codes: [[1023]], scale: -2),
        ])
        let data = try f.encoded(layout: lay)
        let payload = Array(data.suffix(from: 9 + EcdcFile.headerJSON(modelName: "s", audioLength: 700, numCodebooks: 1, useLM: false).utf8.count))
        // 1.5 = 0x3FC00000; codes 5, 6 → bits 0000000101 | 0000000110 → 0x05, 0x18, 0x00 (flush);
        // -2 = 0xC0000000; 1023 → 0xFF, 0x03.
        XCTAssertEqual(payload, [0x3F, 0xC0, 0, 0, 0x05, 0x18, 0x00, 0xC0, 0, 0, 0, 0xFF, 0x03])
        XCTAssertEqual(try EcdcFile.parse(data, path: "x", layout: lay), f)
    }

    func testRoundTripsRandomCodesAtOtherWidths() throws {
        var rng = SeededRNG(seed: 7)
        for bits in [1, 3, 8, 10, 13, 16] {
            for k in [1, 2, 3, 8] {
                let lay = EcdcLayout(modelName: "r", sampleRate: 16_000, hopLength: 7, segmentLength: 50, segmentStride: 45,
                                     normalize: bits % 2 == 0, bitsPerCode: bits)
                let length = 1 + Int(rng.next() % 300)
                let frames = lay.segments(audioLength: length).map { seg in
                    EcdcFile.Frame(codes: (0..<k).map { _ in (0..<seg.frames).map { _ in Int(rng.next() % UInt64(1 << bits)) } },
                                   scale: lay.normalize ? rng.uniform(0, 2) : nil)
                }
                let f = EcdcFile(modelName: "r", audioLength: length, numCodebooks: k, frames: frames)
                let data = try f.encoded(layout: lay)
                let expectedBytes = 9 + EcdcFile.headerJSON(modelName: "r", audioLength: length, numCodebooks: k, useLM: false).utf8.count
                    + frames.reduce(0) { $0 + (lay.normalize ? 4 : 0) + (k * $1.codes[0].count * bits + 7) / 8 }
                XCTAssertEqual(data.count, expectedBytes, "bits \(bits) K \(k)")
                XCTAssertEqual(try EcdcFile.parse(data, path: "r", layout: lay), f, "bits \(bits) K \(k) length \(length)")
            }
        }
    }

    // MARK: Bad files

    func testEveryTruncationIsReportedAsCorrupt() throws {
        let model = "encodec_48khz_tiny"
        let path = Self.root.appendingPathComponent("\(model)/ecdc/speech_2seg_bw3.ecdc").path
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let lay = try layout(model)
        XCTAssertNoThrow(try EcdcFile.parse(data, path: path, layout: lay))
        for n in 0..<data.count {
            assertCorrupt("truncated", path: "cut.ecdc") {
                _ = try EcdcFile.parse(data.prefix(n), path: "cut.ecdc", layout: lay)
            }
        }
    }

    func testCorruptHeadersAreNamed() throws {
        let lay = EcdcLayout.encodec24kHz
        func file(_ json: String, magic: String = "ECDC", version: UInt8 = 0, payload: [UInt8] = []) -> Data {
            let j = Array(json.utf8)
            return Data(Array(magic.utf8) + [version, 0, 0, UInt8(j.count >> 8), UInt8(j.count & 0xFF)] + j + payload)
        }
        let good = #"{"m": "encodec_24khz", "al": 320, "nc": 2, "lm": false}"#
        XCTAssertEqual(try EcdcFile.parse(file(good, payload: [1, 0, 0]), path: "g", layout: lay).frames[0].codes, [[1], [0]])
        assertCorrupt("no ECDC magic", path: "p") { _ = try EcdcFile.parse(file(good, magic: "RIFF", payload: [1, 0, 0]), path: "p", layout: lay) }
        assertCorrupt("version 1", path: "p") { _ = try EcdcFile.parse(file(good, version: 1, payload: [1, 0, 0]), path: "p", layout: lay) }
        assertCorrupt("language model", path: "p") {
            _ = try EcdcFile.parse(file(#"{"m": "encodec_24khz", "al": 320, "nc": 2, "lm": true}"#, payload: [1, 2, 3]), path: "p", layout: lay)
        }
        assertCorrupt("not valid JSON", path: "p") { _ = try EcdcFile.parse(file("{\"m\": ", payload: [1, 0, 0]), path: "p", layout: lay) }
        assertCorrupt("lacks \"nc\"", path: "p") {
            _ = try EcdcFile.parse(file(#"{"m": "encodec_24khz", "al": 320, "lm": false}"#), path: "p", layout: lay)
        }
        assertCorrupt("\"al\" has the wrong type", path: "p") {
            _ = try EcdcFile.parse(file(#"{"m": "encodec_24khz", "al": "320", "nc": 2, "lm": false}"#), path: "p", layout: lay)
        }
        assertCorrupt("audio length 0", path: "p") {
            _ = try EcdcFile.parse(file(#"{"m": "encodec_24khz", "al": 0, "nc": 2, "lm": false}"#), path: "p", layout: lay)
        }
        assertCorrupt("codebooks 0", path: "p") {
            _ = try EcdcFile.parse(file(#"{"m": "encodec_24khz", "al": 320, "nc": 0, "lm": false}"#), path: "p", layout: lay)
        }
        assertCorrupt("unexpected bytes", path: "p") { _ = try EcdcFile.parse(file(good, payload: [1, 0, 0, 9]), path: "p", layout: lay) }
        // A huge length in a short file fails on the arithmetic, before allocating anything.
        assertCorrupt("truncated", path: "p") {
            _ = try EcdcFile.parse(file(#"{"m": "encodec_24khz", "al": 9223372036854775807, "nc": 32, "lm": false}"#, payload: [1]),
                                   path: "p", layout: lay)
        }
        assertCorrupt("truncated", path: "p") {
            _ = try EcdcFile.parse(file(#"{"m": "encodec_48khz", "al": 9223372036854775807, "nc": 1, "lm": false}"#, payload: [1]),
                                   path: "p", layout: .encodec48kHz)
        }
        XCTAssertThrowsError(try EcdcFile.parse(file(#"{"m": "encodec_48khz", "al": 320, "nc": 2, "lm": false}"#, payload: [1, 0, 0]),
                                                path: "p", layout: lay)) { error in
            guard case let CodecError.modelMismatch(path, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "p")
            XCTAssertTrue(reason.contains("encodec_48khz") && reason.contains("encodec_24khz"), reason)
        }
    }

    func testReadPicksTheLayoutByModelNameAndNamesUnknownModels() throws {
        let model = "encodec_48khz_tiny"
        let path = Self.root.appendingPathComponent("\(model)/ecdc/odd_length_bw3.ecdc").path
        let f = try EcdcFile.read(path: path, layouts: [.encodec24kHz, .encodec48kHz, try layout(model)])
        XCTAssertEqual(f.modelName, model)
        XCTAssertThrowsError(try EcdcFile.read(path: path, layouts: [.encodec24kHz, .encodec48kHz])) { error in
            guard case let CodecError.modelMismatch(p, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertTrue(reason.contains(model), reason)
        }
    }

    func testMissingFileAndDirectoryAreNamed() {
        let tmp = TemporaryDirectory()
        for (path, fragment) in [(tmp.path("none.ecdc"), "no such file"), (tmp.url.path, "is a directory")] {
            XCTAssertThrowsError(try EcdcFile.read(path: path, layout: .encodec24kHz)) { error in
                guard case let CodecError.invalidInput(message) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains(path) && message.contains(fragment), message)
            }
        }
    }

    // MARK: Bad codes when writing

    func testWritingRefusesOutOfRangeCodesAndLeavesNoFile() throws {
        let tmp = TemporaryDirectory()
        let out = tmp.path("bad.ecdc")
        for (code, stage, frame) in [(1024, 1, 0), (-1, 0, 1)] {
            var codes = [[3, 4], [5, 6]]
            codes[stage][frame] = code
            let f = EcdcFile(modelName: "encodec_24khz", audioLength: 640, numCodebooks: 2, frames: [.init(codes: codes, scale: nil)])
            XCTAssertThrowsError(try f.write(to: out, layout: .encodec24kHz)) { error in
                XCTAssertEqual(error as? CodecError, .invalidCode(path: out, stage: stage, frame: frame, code: code, bins: 1024))
            }
        }
        // 48 kHz: the frame index counts on across segments (first segment has 150 frames).
        var segs = EcdcLayout.encodec48kHz.segments(audioLength: 48_700).map {
            EcdcFile.Frame(codes: [[Int]](repeating: [Int](repeating: 0, count: $0.frames), count: 1), scale: 0.5)
        }
        segs[1].codes[0][2] = 5000
        let f48 = EcdcFile(modelName: "encodec_48khz", audioLength: 48_700, numCodebooks: 1, frames: segs)
        XCTAssertThrowsError(try f48.write(to: out, layout: .encodec48kHz)) { error in
            XCTAssertEqual(error as? CodecError, .invalidCode(path: out, stage: 0, frame: 152, code: 5000, bins: 1024))
        }
        XCTAssertEqual(tmp.contents(), [])
    }

    func testWritingRefusesFramesThatDoNotFitTheLayout() throws {
        let tmp = TemporaryDirectory()
        let out = tmp.path("bad.ecdc")
        let cases: [(EcdcFile, EcdcLayout, String)] = [
            (EcdcFile(modelName: "encodec_24khz", audioLength: 640, numCodebooks: 2, frames: [.init(codes: [[1, 2, 3], [1, 2, 3]], scale: nil)]),
             .encodec24kHz, "make 2"),
            (EcdcFile(modelName: "encodec_24khz", audioLength: 640, numCodebooks: 2, frames: [.init(codes: [[1, 2]], scale: nil)]),
             .encodec24kHz, "1 codebooks"),
            (EcdcFile(modelName: "encodec_24khz", audioLength: 640, numCodebooks: 1, frames: [.init(codes: [[1, 2]], scale: 1)]),
             .encodec24kHz, "scale"),
            (EcdcFile(modelName: "encodec_48khz", audioLength: 48_700, numCodebooks: 1,
                      frames: [.init(codes: [[Int]](repeating: [Int](repeating: 0, count: 150), count: 1), scale: 1)]),
             .encodec48kHz, "make 2 segments"),
            (EcdcFile(modelName: "encodec_24khz", audioLength: 320, numCodebooks: 1, useLM: true, frames: [.init(codes: [[1]], scale: nil)]),
             .encodec24kHz, "language model"),
        ]
        for (file, lay, fragment) in cases {
            XCTAssertThrowsError(try file.write(to: out, layout: lay)) { error in
                guard case let CodecError.invalidInput(message) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains(out) && message.contains(fragment), message)
            }
        }
        let other = EcdcFile(modelName: "encodec_24khz", audioLength: 320, numCodebooks: 1, frames: [.init(codes: [[1]], scale: nil)])
        XCTAssertThrowsError(try other.write(to: out, layout: .encodec48kHz)) { error in
            guard case CodecError.modelMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(tmp.contents(), [])
    }

    func testUnwritablePathIsNamed() throws {
        let tmp = TemporaryDirectory()
        let out = tmp.path("missing-dir/x.ecdc")
        let f = EcdcFile(modelName: "encodec_24khz", audioLength: 320, numCodebooks: 1, frames: [.init(codes: [[1]], scale: nil)])
        XCTAssertThrowsError(try f.write(to: out, layout: .encodec24kHz)) { error in
            guard case let CodecError.invalidInput(message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains(out) && message.contains("cannot write"), message)
        }
        XCTAssertEqual(tmp.contents(), [])
    }
}
