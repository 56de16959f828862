import Foundation
import XCTest
import RVQ
import TestSupport

/// The RVQ fixtures made by scripts/make-rvq-fixtures.py from encodec's ResidualVectorQuantization.
enum RVQFixtures {
    struct Case {
        let name: String
        let dimension: Int, codebookSize: Int, stages: Int, count: Int
        let codebooks: [Float]   // [K, N, D]
        let vectors: [Float]     // [T, D]
        let codes: [Int32]       // [K, T], EnCodec's encode of the one item [1, D, T]
        let codesBatch2: [Int32] // [K, 2, T], EnCodec's encode of [2, D, T] (x and x with rows reversed)
        let decoded: [Float]     // [T, D]
        let scores0: [Float]     // [T, N], stage 0

        var quantizer: ResidualVectorQuantizer {
            let n = codebookSize * dimension
            return try! ResidualVectorQuantizer(codebooks: (0..<stages).map {
                Codebook(size: codebookSize, dimension: dimension, vectors: Array(codebooks[$0 * n ..< ($0 + 1) * n]))
            })
        }
    }

    static let directory = RepoPaths.fixtures.appendingPathComponent("RVQ")

    static func manifest() throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
    }

    static func ints(_ name: String) throws -> [Int32] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self) } }
    }

    static func cases() throws -> [Case] {
        let list = try manifest()["cases"] as! [[String: Any]]
        return try list.map { c in
            let files = c["files"] as! [String: String]
            return Case(name: c["name"] as! String, dimension: c["dimension"] as! Int,
                        codebookSize: c["codebook_size"] as! Int, stages: c["stages"] as! Int, count: c["count"] as! Int,
                        codebooks: try floats(files["codebooks"]!), vectors: try floats(files["vectors"]!),
                        codes: try ints(files["codes"]!), codesBatch2: try ints(files["codes_batch2"]!), decoded: try floats(files["decoded"]!),
                        scores0: try floats(files["scores0"]!))
        }
    }
}

final class CodebookTests: XCTestCase {
    func testNearestScalarMatchesBruteForceDistance() {
        var rng = SeededRNG(seed: 7)
        let n = 37, d = 5
        let book = Codebook(size: n, dimension: d, vectors: rng.floats(n * d))
        for _ in 0..<200 {
            let x = rng.floats(d)
            var best = 0; var bestDist = Double.infinity
            for k in 0..<n {
                var s = 0.0
                for j in 0..<d { let t = Double(x[j]) - Double(book.vectors[k * d + j]); s += t * t }
                if s < bestDist { bestDist = s; best = k }
            }
            let got = x.withUnsafeBufferPointer { book.nearestScalar($0) }
            XCTAssertEqual(got, best)
        }
    }

    /// torch's `x.pow(2).sum(-1)` summation order, bit for bit, for dimensions on every path of its kernel
    /// (scalar D < 8, vectorized with tails, cascade levels for D ≥ 512).
    func testSquaredNormMatchesTorchBitwise() throws {
        let norms = try RVQFixtures.manifest()["norms"] as! [String: Any]
        let dims = norms["dimensions"] as! [Int], rows = norms["rows"] as! Int
        let vectors = try RVQFixtures.floats(norms["vectors"] as! String)
        let sums = try RVQFixtures.floats(norms["sums"] as! String)
        var offset = 0, row = 0
        for d in dims {
            for _ in 0..<rows {
                let got = vectors.withUnsafeBufferPointer {
                    torchOrderSquaredNorm(UnsafeBufferPointer(rebasing: $0[offset ..< offset + d]))
                }
                XCTAssertEqual(got.bitPattern, sums[row].bitPattern, "D = \(d): \(got) vs torch \(sums[row])")
                offset += d; row += 1
            }
        }
        XCTAssertEqual(offset, vectors.count)
        XCTAssertEqual(row, sums.count)
    }

    /// The same for the rows of a channel-major `[D, T]` tensor (EnCodec's one-item input), whose order
    /// depends on the row's position.
    func testColumnSquaredNormMatchesTorchBitwise() throws {
        let norms = try RVQFixtures.manifest()["column_norms"] as! [String: Any]
        let shapes = norms["shapes"] as! [[Int]]
        let vectors = try RVQFixtures.floats(norms["vectors"] as! String)
        let sums = try RVQFixtures.floats(norms["sums"] as! String)
        var offset = 0, out = 0
        for shape in shapes {
            let (D, T) = (shape[0], shape[1])
            var contiguousDiffers = 0
            for t in 0..<T {
                let row = (0..<D).map { vectors[offset + $0 * T + t] }
                let got = row.withUnsafeBufferPointer { torchOrderSquaredNorm($0, order: .column(row: t, rows: T)) }
                XCTAssertEqual(got.bitPattern, sums[out].bitPattern, "D \(D), T \(T), row \(t)")
                if row.withUnsafeBufferPointer({ torchOrderSquaredNorm($0) }) != sums[out] { contiguousDiffers += 1 }
                out += 1
            }
            if D == 128 && T == 45 { XCTAssertGreaterThan(contiguousDiffers, 0, "the layout should matter") }
            offset += D * T
        }
        XCTAssertEqual(offset, vectors.count)
        XCTAssertEqual(out, sums.count)
    }

    /// Stage-0 scores equal EnCodec's `-(x.pow(2).sum − 2 x@embed + embed.pow(2).sum)` bit for bit.
    func testScoresMatchEnCodecBitwise() throws {
        for c in try RVQFixtures.cases() {
            let book = c.quantizer.codebooks[0]
            let D = c.dimension, N = c.codebookSize
            var mismatches = 0
            c.vectors.withUnsafeBufferPointer { xs in
                for t in 0..<c.count {
                    let x = UnsafeBufferPointer(rebasing: xs[t * D ..< (t + 1) * D])
                    let xx = torchOrderSquaredNorm(x)
                    for n in 0..<N where book.scoreScalar(x, squaredNorm: xx, code: n).bitPattern != c.scores0[t * N + n].bitPattern {
                        mismatches += 1
                    }
                }
            }
            XCTAssertEqual(mismatches, 0, "\(c.name): \(mismatches) of \(c.count * N) scores differ from EnCodec's")
        }
    }

    func testSquaredNormsAndVectorAccess() {
        var rng = SeededRNG(seed: 3)
        let n = 21, d = 11
        let v = rng.floats(n * d)
        let book = Codebook(size: n, dimension: d, vectors: v)
        for k in 0..<n {
            XCTAssertEqual(Array(book.vector(k)), Array(v[k * d ..< (k + 1) * d]))
            let expected = v.withUnsafeBufferPointer { torchOrderSquaredNorm(UnsafeBufferPointer(rebasing: $0[k * d ..< (k + 1) * d])) }
            XCTAssertEqual(book.squaredNorms[k], expected)
            var exact = 0.0
            for j in 0..<d { exact += Double(v[k * d + j]) * Double(v[k * d + j]) }
            XCTAssertEqual(Double(book.squaredNorms[k]), exact, accuracy: 1e-5 * exact)
        }
    }

    func testDuplicateCodesTieToLowestIndex() {
        // Codes 2 and 5 are the same vector; a point at that vector must pick 2.
        var rng = SeededRNG(seed: 11)
        let n = 8, d = 6
        var v = rng.floats(n * d)
        for j in 0..<d { v[5 * d + j] = v[2 * d + j] }
        let book = Codebook(size: n, dimension: d, vectors: v)
        let x = Array(v[2 * d ..< 3 * d])
        XCTAssertEqual(x.withUnsafeBufferPointer { book.nearestScalar($0) }, 2)
    }
}
