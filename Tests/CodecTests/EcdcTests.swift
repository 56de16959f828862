import XCTest
import Codec
import TestSupport
import ModelFile

final class EcdcTests: XCTestCase {
    /// Random codes shaped as `config` segments an input of `length` samples.
    func randomEncoded(_ config: CodecConfig, length: Int, codebooks: Int, seed: UInt64) -> EncodedAudio {
        var rng = SeededRNG(seed: seed)
        var segments: [EncodedSegment] = []
        let segLen = config.segmentLength ?? length, stride = config.segmentStride ?? length
        var offset = 0
        while offset < length {
            let n = min(segLen, length - offset)
            let frames = Int((Double(n) / Double(config.sampleRate) * Double(config.frameRate)).rounded(.up))
            let codes = (0..<(frames * codebooks)).map { _ in Int32(rng.next() % UInt64(config.bins)) }
            segments.append(EncodedSegment(codebooks: codebooks, frames: frames, codes: codes,
                                           scale: config.normalize ? rng.uniform(0.01, 1) : nil))
            offset += stride
        }
        return EncodedAudio(modelName: config.name, length: length, codebooks: codebooks, segments: segments)
    }

    func testRoundTripForBothFamilies() throws {
        let dir = TemporaryDirectory()
        for (config, length, k) in [(CodecConfig.encodec24kHz, 24001, 2), (.encodec24kHz, 7, 32), (.encodec48kHz, 100_000, 4)] {
            let e = randomEncoded(config, length: length, codebooks: k, seed: UInt64(length))
            let path = dir.path("\(config.name)-\(length).ecdc")
            try Ecdc.write(e, bits: config.bitsPerCodebook, to: path)
            XCTAssertEqual(try Ecdc.read(path: path, config: config), e)
            XCTAssertEqual(try Ecdc.readHeader(path: path), EcdcHeader(modelName: config.name, audioLength: length, codebooks: k, useLM: false))
        }
    }

    func testHeaderAndPackingLayout() throws {
        // Two frames of 2 codebooks, 10 bits each, time-major, LSB first: 40 bits = 5 bytes.
        let e = EncodedAudio(modelName: "encodec_24khz", length: 640, codebooks: 2,
                             segments: [EncodedSegment(codebooks: 2, frames: 2, codes: [1, 1023, 2, 512], scale: nil)])
        let data = try Ecdc.encode(e, bits: 10)
        let json = #"{"m": "encodec_24khz", "al": 640, "nc": 2, "lm": false}"#
        var expected: [UInt8] = Array("ECDC".utf8) + [0, 0, 0, 0, UInt8(json.utf8.count)] + Array(json.utf8)
        // Order pushed: frame 0 (codes 1, 2), frame 1 (1023, 512).
        var bits: UInt64 = 0, n = 0
        for v: UInt64 in [1, 2, 1023, 512] { bits |= v << UInt64(n); n += 10 }
        for i in 0..<5 { expected.append(UInt8((bits >> UInt64(8 * i)) & 0xff)) }
        XCTAssertEqual([UInt8](data), expected)
    }

    func testPythonJSONEscaping() throws {
        let e = EncodedAudio(modelName: "a\"b\\c\nd é", length: 1, codebooks: 1,
                             segments: [EncodedSegment(codebooks: 1, frames: 1, codes: [0], scale: nil)])
        let data = try Ecdc.encode(e, bits: 10)
        let header = String(decoding: data.dropFirst(9).prefix(Int(data[8])), as: UTF8.self)
        XCTAssertEqual(header, #"{"m": "a\"b\\c\nd \u00e9", "al": 1, "nc": 1, "lm": false}"#)
    }

    func testCorruptTruncatedAndMismatchedFiles() throws {
        let dir = TemporaryDirectory()
        let config = CodecConfig.encodec24kHz
        let e = randomEncoded(config, length: 24000, codebooks: 8, seed: 5)
        let good = try Ecdc.encode(e, bits: 10)
        func expectError(_ bytes: Data, _ needle: String, config c: CodecConfig = config, file: StaticString = #filePath, line: UInt = #line) {
            let path = dir.path("bad.ecdc")
            FileManager.default.createFile(atPath: path, contents: bytes)
            XCTAssertThrowsError(try Ecdc.read(path: path, config: c), file: file, line: line) { err in
                XCTAssertTrue("\(err)".contains(needle) && "\(err)".contains(path), "\(err)", file: file, line: line)
            }
        }
        expectError(good.prefix(good.count - 3), "truncated")
        expectError(good.prefix(20), "truncated header")
        expectError(Data("RIFF....".utf8) + good.dropFirst(8), "no ECDC magic")
        var v1 = good; v1[4] = 1
        expectError(v1, "version 1")
        expectError(good + Data([0]), "unexpected bytes")
        expectError(Data(), "too short")
        expectError(good, "made with 'encodec_24khz'", config: .encodec48kHz)
        var few = config; few.codebooks = 4
        expectError(good, "file has 8 codebooks, the model has 4", config: few)
        let lmJSON = Data(#"{"m": "encodec_24khz", "al": 10, "nc": 2, "lm": true}"#.utf8)
        let lm = Data("ECDC".utf8) + Data([0, 0, 0, 0, UInt8(lmJSON.count)]) + lmJSON
        expectError(lm, "language model")
        XCTAssertThrowsError(try Ecdc.read(path: dir.path("missing.ecdc"), config: config)) {
            XCTAssertTrue("\($0)".contains("no such file"))
        }
    }

    func testCodesBeyondTheBitWidthAreRefused() {
        let e = EncodedAudio(modelName: "m", length: 320, codebooks: 1,
                             segments: [EncodedSegment(codebooks: 1, frames: 1, codes: [1024], scale: nil)])
        XCTAssertThrowsError(try Ecdc.encode(e, bits: 10)) {
            XCTAssertEqual($0 as? CodecError, .invalidCode(path: "output", stage: 0, frame: 0, code: 1024, bins: 1024))
        }
    }
}

/// `.ecdc` files written by the reference (`encodec.compress.compress(model, wav, use_lm=False)`) on the
/// parity fixtures: we read the same codes and scales, and writing them back gives the same bytes.
final class EcdcReferenceFileTests: XCTestCase {
    func testReferenceFilesReadAndRewriteByteForByte() throws {
        var checked = 0
        for dir in try EncodecParityTests.modelDirectories() {
            var config = try ModelArchive.load(path: try EncodecParityTests.checkpoint(in: dir)).config
            let ecdcDir = dir.appendingPathComponent("ecdc")
            for name in try FileManager.default.contentsOfDirectory(atPath: ecdcDir.path).sorted() where name.hasSuffix(".ecdc") {
                let path = ecdcDir.appendingPathComponent(name).path
                let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: String(path.dropLast(5)) + ".json"))) as! [String: Any]
                config.name = info["model"] as! String // the fixture models carry their own names
                let encoded = try Ecdc.read(path: path, config: config)
                XCTAssertEqual(encoded.length, info["audio_length"] as? Int, name)
                XCTAssertEqual(encoded.codebooks, info["num_codebooks"] as? Int, name)
                let frames = info["frames"] as! [[String: Any]]
                XCTAssertEqual(encoded.segments.count, frames.count, name)
                for (seg, frame) in zip(encoded.segments, frames) {
                    let codes = (frame["codes"] as! [[Int]])
                    XCTAssertEqual(codes.count, seg.codebooks, name)
                    XCTAssertEqual(codes.flatMap { $0 }.map(Int32.init), seg.codes, name)
                    if let bits = frame["scale_bits"] as? Int { XCTAssertEqual(seg.scale?.bitPattern, UInt32(bits), name) }
                }
                let original = try Data(contentsOf: URL(fileURLWithPath: path))
                XCTAssertEqual(try Ecdc.encode(encoded, bits: config.bitsPerCodebook), original, "\(name): rewritten bytes differ")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 6)
    }

    func testOurEncodeWritesTheReferenceBytes() throws {
        // Encode the fixture inputs with our model and compare with the reference-written file.
        var checked = 0
        for dir in try EncodecParityTests.modelDirectories() {
            let model = try CodecModel.load(path: try EncodecParityTests.checkpoint(in: dir))
            let cases = try SafeTensors.read(path: dir.appendingPathComponent("cases.safetensors").path)
            let ecdcDir = dir.appendingPathComponent("ecdc")
            for name in try FileManager.default.contentsOfDirectory(atPath: ecdcDir.path).sorted() where name.hasSuffix(".ecdc") {
                let info = try JSONSerialization.jsonObject(with: Data(contentsOf: ecdcDir.appendingPathComponent(String(name.dropLast(5)) + ".json"))) as! [String: Any]
                let caseName = String(name[..<name.range(of: "_bw")!.lowerBound])
                guard cases.tensors["\(caseName)/input"] != nil else { continue }
                let input = try cases.float("\(caseName)/input")
                var encoded = try model.encode(input.values, channels: input.shape[0], bandwidth: info["bandwidth"] as? Double)
                encoded.modelName = info["model"] as! String
                let original = try Data(contentsOf: ecdcDir.appendingPathComponent(name))
                XCTAssertEqual(try Ecdc.encode(encoded, bits: model.config.bitsPerCodebook), original, "\(name): our file differs from the reference's")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 4)
    }

    func testHeadersWithAwkwardNamesMatchPythonJSON() throws {
        let url = EncodecParityTests.root.appendingPathComponent("ecdc_json_examples.json")
        let any = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        let examples: [[String: Any]] = (any as? [[String: Any]]) ?? ((any as? [String: Any])?["examples"] as? [[String: Any]]) ?? []
        XCTAssertFalse(examples.isEmpty, "no examples in \(url.path)")
        for ex in examples {
            guard let dumped = ex["json"] as? String, let m = ex["m"] as? String,
                  let al = ex["al"] as? Int, let nc = ex["nc"] as? Int else {
                XCTFail("unexpected example layout: \(ex.keys.sorted())"); continue
            }
            let e = EncodedAudio(modelName: m, length: al, codebooks: nc,
                                 segments: [EncodedSegment(codebooks: nc, frames: 0, codes: [], scale: nil)])
            let data = try Ecdc.encode(e, bits: 10)
            let size = Int(data[5]) << 24 | Int(data[6]) << 16 | Int(data[7]) << 8 | Int(data[8])
            XCTAssertEqual(String(decoding: data.subdata(in: 9 ..< 9 + size), as: UTF8.self), dumped, m)
        }
    }
}
