import XCTest
import Foundation
import TestSupport
import Tokens

/// Layouts against the reference sequences of scripts/make-token-fixtures.py (checked there against
/// audiocraft's own codebooks_patterns.py), round trips, and refused sequences.
final class TokenLayoutTests: XCTestCase {
    struct Case: Decodable {
        let pattern: String, bins: Int, codebooks: Int, frames: Int
        let codes: [Int32], shape: [Int], sequence: [Int32]
    }
    struct File: Decodable { let layouts: [Case] }

    func loadCases() throws -> [Case] {
        let url = RepoPaths.fixtures.appendingPathComponent("tokens/layouts.json")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).layouts
    }

    func testLayoutsMatchReferenceSequences() throws {
        let cases = try loadCases()
        XCTAssertEqual(Set(cases.map(\.pattern)), Set(TokenPattern.allCases.map(\.rawValue)))
        for c in cases {
            let layout = TokenLayout(pattern: try TokenPattern(parsing: c.pattern), bins: c.bins)
            let codes = TokenArray(codebooks: c.codebooks, frames: c.frames, values: c.codes)
            let seq = try layout.layout(codes)
            let label = "\(c.pattern) K=\(c.codebooks) T=\(c.frames)"
            XCTAssertEqual(seq.shape, c.shape, label)
            XCTAssertEqual(seq.values, c.sequence, label)
            XCTAssertEqual(layout.sequenceShape(codebooks: c.codebooks, frames: c.frames), c.shape, label)
            let back = try layout.unlayout(TokenArray(shape: c.shape, values: c.sequence), codebooks: c.codebooks)
            XCTAssertEqual(back, codes, label)
        }
    }

    /// MusicGen's example (audiocraft DelayedPatternProvider docstring), written out by hand, S = special.
    func testDelayExampleByHand() throws {
        let s: Int32 = 5
        let codes = TokenArray(codebooks: 3, frames: 4, values: [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4])
        let seq = try TokenLayout(pattern: .delay, bins: 5).layout(codes)
        XCTAssertEqual(seq.shape, [3, 7])
        XCTAssertEqual(seq.values, [s, 1, 2, 3, 4, s, s,
                                    s, s, 1, 2, 3, 4, s,
                                    s, s, s, 1, 2, 3, 4])
        // Bark flatten: frame-major with offsets q·N.
        let flat = try TokenLayout(pattern: .flatten, bins: 5).layout(codes)
        XCTAssertEqual(flat.values, [1, 6, 11, 2, 7, 12, 3, 8, 13, 4, 9, 14])
    }

    func testRoundTripsOnRandomCodes() throws {
        var rng = SeededRNG(seed: 8)
        for pattern in TokenPattern.allCases {
            for (k, t, n) in [(2, 0, 4), (2, 1, 2), (5, 17, 1024), (8, 33, 2048), (32, 9, 1024)] {
                let codes = TokenArray(codebooks: k, frames: t, values: (0..<(k * t)).map { _ in Int32(rng.next() % UInt64(n)) })
                let layout = TokenLayout(pattern: pattern, bins: n)
                let seq = try layout.layout(codes)
                XCTAssertEqual(try layout.unlayout(seq, codebooks: k), codes, "\(pattern) \(k)×\(t)")
                XCTAssertEqual(layout.frames(sequenceShape: seq.shape, codebooks: k), t)
            }
        }
    }

    func testRefusesBadCodesAndSequences() throws {
        let delay = TokenLayout(pattern: .delay, bins: 4)
        let codes = TokenArray(codebooks: 2, frames: 3, values: [0, 1, 2, 3, 0, 1])
        let seq = try delay.layout(codes)
        // A code out of range.
        XCTAssertThrowsError(try delay.layout(TokenArray(codebooks: 1, frames: 2, values: [0, 4]))) {
            XCTAssertTrue("\($0)".contains("outside 0..<4"), "\($0)")
        }
        // The special token where a code belongs.
        var bad = seq; bad.values[1] = 4
        XCTAssertThrowsError(try delay.unlayout(bad)) { XCTAssertTrue("\($0)".contains("[0, 1]"), "\($0)") }
        // A code where the special token belongs.
        bad = seq; bad.values[0] = 1
        XCTAssertThrowsError(try delay.unlayout(bad)) { XCTAssertTrue("\($0)".contains("special token 4"), "\($0)") }
        // A parallel sequence is not a delay sequence: its step 1 of codebook 1 holds a code.
        let par = try TokenLayout(pattern: .parallel, bins: 4).layout(codes)
        XCTAssertThrowsError(try delay.unlayout(par))
        // Flatten: offsets checked per codebook; K required and must divide the length.
        let flat = TokenLayout(pattern: .flatten, bins: 4)
        let f = try flat.layout(codes)
        XCTAssertThrowsError(try flat.unlayout(f))
        XCTAssertThrowsError(try flat.unlayout(TokenArray(shape: [5], values: [0, 4, 1, 5, 2]), codebooks: 2))
        var g = f; g.values[1] = 1 // codebook 1's value without its offset
        XCTAssertThrowsError(try flat.unlayout(g, codebooks: 2)) { XCTAssertTrue("\($0)".contains("codebook 1"), "\($0)") }
        // Coarse-first needs two codebooks; shapes that fit no T are refused.
        XCTAssertThrowsError(try TokenLayout(pattern: .coarseFirst, bins: 4).layout(TokenArray(codebooks: 1, frames: 2, values: [0, 1])))
        XCTAssertThrowsError(try TokenLayout(pattern: .coarseFirst, bins: 4).unlayout(TokenArray(shape: [2, 4], values: [Int32](repeating: 4, count: 8))))
        XCTAssertThrowsError(try TokenPattern(parsing: "zigzag")) { XCTAssertTrue("\($0)".contains("coarse-first"), "\($0)") }
    }
}
