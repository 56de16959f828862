import XCTest
import NN
import RVQ
import TestSupport

func randomQuantizer(_ rng: inout SeededRNG, dimension D: Int, sizes: [Int]) -> ResidualVectorQuantizer {
    let books = sizes.enumerated().map { k, n in
        Codebook(size: n, dimension: D, vectors: rng.floats(n * D).map { $0 * Float(pow(0.5, Double(k))) })
    }
    return try! ResidualVectorQuantizer(codebooks: books)
}

final class ResidualVectorQuantizerTests: XCTestCase {
    /// Codes identical to encodec's ResidualVectorQuantization.encode (including the near-ties that float
    /// rounding and the input layout decide), for one item `[1, D, T]` (channel-major latents) and for a
    /// batch of two (contiguous rows); decoded vectors identical to its decode.
    func testMatchesEnCodecFixtures() throws {
        for c in try RVQFixtures.cases() {
            let q = c.quantizer
            let T = c.count, D = c.dimension
            var channelMajor = [Float](repeating: 0, count: T * D)
            for t in 0..<T { for d in 0..<D { channelMajor[d * T + t] = c.vectors[t * D + d] } }
            let codes = try q.encode(channelMajor: channelMajor)
            XCTAssertEqual(codes.stages, c.stages)
            XCTAssertEqual(codes.count, T)
            let differing = zip(codes.values, c.codes).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(c.name): \(differing) codes differ from EnCodec's (one item)")
            for n in 1...c.stages {
                XCTAssertEqual(try q.encode(channelMajor: channelMajor, stages: n).values, Array(c.codes[0 ..< n * T]))
            }

            // Batch of two: x, then x with its rows reversed, as contiguous rows.
            var rows = c.vectors
            for t in (0..<T).reversed() { rows += c.vectors[t * D ..< (t + 1) * D] }
            let batchCodes = try q.encode(rows)
            let differingBatch = zip(batchCodes.values, c.codesBatch2).filter { $0 != $1 }.count
            XCTAssertEqual(differingBatch, 0, "\(c.name): \(differingBatch) codes differ from EnCodec's (batch of 2)")
            // The layouts really decide some codes differently (else this fixture would not test the orders).
            XCTAssertNotEqual(Array(batchCodes.values.prefix(T)), Array(c.codes.prefix(T)))

            let decoded = try q.decode(Codes(stages: c.stages, count: T, values: c.codes))
            XCTAssertEqual(decoded.map { $0.bitPattern }, c.decoded.map { $0.bitPattern }, "\(c.name): decode differs")
            let decodedChannels = try q.decodeChannelMajor(Codes(stages: c.stages, count: T, values: c.codes))
            XCTAssertEqual(decodedChannels, channelMajor.indices.map { i in c.decoded[(i % T) * D + i / T] })
        }
    }

    func testEncodeMatchesScalarReference() throws {
        var rng = SeededRNG(seed: 21)
        for (T, D, sizes) in [(1, 3, [4]), (57, 7, [16, 9, 33]), (300, 40, [64, 64, 32, 17])] {
            let q = randomQuantizer(&rng, dimension: D, sizes: sizes)
            let x = rng.floats(T * D)
            XCTAssertEqual(try q.encode(x), try q.encodeReference(x))
        }
    }

    func testDecodeSumsStagesInOrder() throws {
        var rng = SeededRNG(seed: 22)
        let D = 6, T = 10
        let q = randomQuantizer(&rng, dimension: D, sizes: [5, 7, 3])
        let x = rng.floats(T * D)
        let codes = try q.encode(x)
        for n in 0...3 {
            let out = try q.decode(codes, stages: n)
            XCTAssertEqual(out, try q.decode(codes.prefix(stages: n)))
            for t in 0..<T {
                for d in 0..<D {
                    var s: Float = 0
                    for k in 0..<n { s = s + q.codebooks[k].vectors[Int(codes[stage: k, position: t]) * D + d] }
                    XCTAssertEqual(out[t * D + d], s)
                }
            }
        }
        // More stages make the reconstruction better on these data.
        var previous = Double.infinity
        for n in 0...3 {
            let e = try meanSquaredError(x, q.decode(codes, stages: n))
            XCTAssertLessThan(e, previous)
            previous = e
        }
    }

    func testSameCodesForOneAndTwoThreads() throws {
        var rng = SeededRNG(seed: 23)
        let q = randomQuantizer(&rng, dimension: 16, sizes: [128, 128, 64])
        let x = rng.floats(2000 * 16)
        let one = try Parallel.withThreads(1) { (try q.encode(x), try q.decode(try q.encode(x))) }
        let two = try Parallel.withThreads(2) { (try q.encode(x), try q.decode(try q.encode(x))) }
        XCTAssertEqual(one.0, two.0)
        XCTAssertEqual(one.1.map { $0.bitPattern }, two.1.map { $0.bitPattern })
    }

    func testBadInputThrowsNamedErrors() throws {
        var rng = SeededRNG(seed: 24)
        let q = randomQuantizer(&rng, dimension: 4, sizes: [8, 8])
        XCTAssertThrowsError(try q.encode([1, 2, 3])) {
            XCTAssertEqual($0 as? RVQError, .notAMatrix(what: "vectors", count: 3, dimension: 4))
        }
        var x = rng.floats(12)
        x[6] = .nan
        XCTAssertThrowsError(try q.encode(x)) {
            guard case let .nonFiniteValue(_, row, column, _)? = $0 as? RVQError else { return XCTFail("\($0)") }
            XCTAssertEqual([row, column], [1, 2])
        }
        x[6] = .infinity
        XCTAssertThrowsError(try q.encode(x, beamWidth: 2))
        XCTAssertThrowsError(try q.encode(rng.floats(8), stages: 3)) {
            XCTAssertEqual($0 as? RVQError, .tooManyStages(requested: 3, available: 2))
        }
        XCTAssertThrowsError(try q.decode(Codes(stages: 2, count: 2, values: [0, 1, 2, 8]))) {
            XCTAssertEqual($0 as? RVQError, .codeOutOfRange(stage: 1, position: 1, code: 8, codebookSize: 8))
        }
        XCTAssertThrowsError(try q.decode(Codes(stages: 1, count: 1, values: [-1])))
        XCTAssertThrowsError(try q.decode(Codes(stages: 1, count: 1, values: [0]), stages: 2))
        XCTAssertThrowsError(try ResidualVectorQuantizer(codebooks: [])) {
            XCTAssertEqual($0 as? RVQError, .empty(what: "codebooks"))
        }
        let a = Codebook(size: 2, dimension: 3, vectors: [Float](repeating: 0, count: 6))
        let b = Codebook(size: 2, dimension: 4, vectors: [Float](repeating: 0, count: 8))
        XCTAssertThrowsError(try ResidualVectorQuantizer(codebooks: [a, b])) {
            XCTAssertEqual($0 as? RVQError, .dimensionMismatch(what: "codebook 1", expected: 3, got: 4))
        }
        let bad = Codebook(size: 2, dimension: 3, vectors: [0, 0, 0, 0, .nan, 0])
        XCTAssertThrowsError(try ResidualVectorQuantizer(codebooks: [a, bad])) {
            guard case let .nonFiniteValue(what, row, column, _)? = $0 as? RVQError else { return XCTFail("\($0)") }
            XCTAssertEqual(what, "codebook 1"); XCTAssertEqual([row, column], [1, 1])
        }
        // Empty input is fine: no vectors, no codes.
        XCTAssertEqual(try q.encode([]).count, 0)
        XCTAssertEqual(try q.decode(Codes(stages: 2, count: 0)), [])
    }
}
