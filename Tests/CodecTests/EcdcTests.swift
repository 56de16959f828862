import XCTest
import Codec
import TestSupport

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
        let lm = Data("ECDC".utf8) + Data([0, 0, 0, 0, 51]) + Data(#"{"m": "encodec_24khz", "al": 10, "nc": 2, "lm": true}"#.utf8)
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
