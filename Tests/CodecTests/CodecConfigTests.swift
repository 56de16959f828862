import XCTest
import Codec

final class CodecConfigTests: XCTestCase {
    func testEncodecPresetsDerivedValues() throws {
        let c24 = CodecConfig.encodec24kHz
        XCTAssertEqual(c24.hopLength, 320)
        XCTAssertEqual(c24.frameRate, 75)
        XCTAssertEqual(c24.bandwidthPerCodebook, 0.75)
        XCTAssertEqual(c24.bandwidths.map { c24.codebookCount(forBandwidth: $0) }, [2, 4, 8, 16, 32])
        XCTAssertEqual(CodecConfig.encodecCodebooks(bandwidths: c24.bandwidths, sampleRate: 24000, ratios: c24.ratios), 32)
        XCTAssertNil(c24.segmentLength)
        let c48 = CodecConfig.encodec48kHz
        XCTAssertEqual(c48.frameRate, 150)
        XCTAssertEqual(c48.bandwidths.map { c48.codebookCount(forBandwidth: $0) }, [2, 4, 8, 16])
        XCTAssertEqual(c48.segmentLength, 48000)
        XCTAssertEqual(c48.segmentStride, 47520)
        XCTAssertEqual(CodecConfig.encodecCodebooks(bandwidths: c48.bandwidths, sampleRate: 48000, ratios: c48.ratios), 16)
        try c24.validate(); try c48.validate()
    }

    func testConfigRoundTripsThroughJSONAndValidationNamesTheField() throws {
        let data = try JSONEncoder().encode(CodecConfig.encodec48kHz)
        XCTAssertEqual(try JSONDecoder().decode(CodecConfig.self, from: data), .encodec48kHz)
        var bad = CodecConfig.encodec24kHz
        bad.bins = 1000
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("bins must be a power of two")) }
        bad = .encodec24kHz; bad.norm = .timeGroupNorm
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("not causal")) }
    }
}
