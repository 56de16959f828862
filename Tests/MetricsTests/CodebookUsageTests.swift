import XCTest
import Metrics

final class CodebookUsageTests: XCTestCase {
    func testMatchesNumpyEntropies() throws {
        let f = try MetricsFixture.load("codebook_usage")
        let codes = f.array("codes").map { Int32($0) }
        let u = try CodebookUsage(codes: codes, codebooks: 4, codebookSize: 64)
        XCTAssertEqual(u.frameCount, 300)
        for k in 0..<4 { XCTAssertEqual(u.entropies[k], f.scalars["entropy_\(k)"]!, accuracy: 1e-9) }
        XCTAssertEqual(u.effectiveBits, f.scalars["efficiency"]!, accuracy: 1e-9)
        XCTAssertEqual(u.deadCodes[2], 63)
        XCTAssertEqual(u.counts[2 * 64 + 17], 300)
    }

    func testExtremes() throws {
        // Every code once per codebook: H = log₂ N, ratio 1. One code only: H = 0.
        let uniform = try CodebookUsage(codes: Array(0..<8) + Array(0..<8), codebooks: 2, codebookSize: 8)
        XCTAssertEqual(uniform.entropies, [3, 3])
        XCTAssertEqual(uniform.effectiveBits, 1)
        XCTAssertEqual(uniform.entropyBitsPerFrame, 6)
        XCTAssertEqual(try CodebookUsage(codes: [UInt8](repeating: 5, count: 10), codebooks: 1, codebookSize: 16).effectiveBits, 0)
    }

    func testBadCodesThrow() {
        XCTAssertThrowsError(try CodebookUsage(codes: [0, 1, 8], codebooks: 1, codebookSize: 8)) {
            XCTAssert("\($0)".contains("frame 2"), "\($0)")
        }
        XCTAssertThrowsError(try CodebookUsage(codes: [0, -1], codebooks: 1, codebookSize: 8))
        XCTAssertThrowsError(try CodebookUsage(codes: [0, 1, 2], codebooks: 2, codebookSize: 8))
        XCTAssertThrowsError(try CodebookUsage(codes: [Int](), codebooks: 1, codebookSize: 8))
        XCTAssertThrowsError(try CodebookUsage(codes: [0, 0], codebooks: 1, codebookSize: 1))
    }
}
