// Near-ties in the quantizer: the encoder stream holds back the last T mod 32 frames because EnCodec's
// ‖r‖² (which decides near-ties) is summed in an order that depends on where a frame falls in [D, T].
// These tests make that order decide codes, so a stream that coded frames under the other rule would fail.
import XCTest
import Codec
import ModelFile
import RVQ
import TestSupport

final class StreamingNearTieTests: XCTestCase {
    /// Stage-0 code of one latent under a given ‖x‖² (the public search with the norm supplied).
    static func code(_ book: Codebook, _ x: [Float], norm: Float) -> Int32 {
        var c: [Int32] = [0]
        x.withUnsafeBufferPointer { xp in
            [norm].withUnsafeBufferPointer { np in
                c.withUnsafeMutableBufferPointer { book.nearest(xp, codes: $0, squaredNorms: np) }
            }
        }
        return c[0]
    }

    /// The 24 kHz causal fixture with its first codebook replaced: for three grouped and three tail frames of
    /// a 45-frame input, a pair of codes (about 0.1·x plus noise, 1e-7 apart) whose order flips with the last
    /// bit of ‖x‖² (torch's order for the frame's row of the whole [D, T] input vs the other rule); every
    /// other code far away. Whole-file codes follow the right rule, the other rule changes them, and streams
    /// of random block sizes give the whole-file codes.
    func testHeldBackFramesKeepNearTieCodesOfTheWholeInput() throws {
        let path = RepoPaths.fixtures.appendingPathComponent("encodec/encodec_24khz_tiny/encodec_24khz_tiny.th").path
        var archive = try ModelArchive.load(path: path)
        let base = try CodecModel(archive)
        let hop = base.config.hopLength, d = base.config.dimension, bins = base.config.bins
        let audio = StreamingTests.signal(length: 45 * hop - hop / 2, channels: 1, seed: 77)
        let z = base.latents(audio, channels: 1)  // [1, D, T]
        let t = z.shape[2]
        let grouped = t / 32 * 32
        XCTAssertTrue(t > 32 && t % 32 >= 8, "T = \(t): the test wants a full group and a tail of 8 or more frames")
        func latent(_ j: Int) -> [Float] { (0..<d).map { z.data[$0 * t + j] } }
        func norm(_ x: [Float], _ order: TorchSumOrder) -> Float { x.withUnsafeBufferPointer { torchOrderSquaredNorm($0, order: order) } }
        // The other rule: a row of a block of 8 columns (interleaved) for grouped frames; a row of a block of
        // 32 (running sum) for tail frames.
        func wrongOrder(_ j: Int) -> TorchSumOrder { j < grouped ? .column(row: 7, rows: 8) : .column(row: 0, rows: 32) }

        // A near-tie that ‖x‖² decides: two codes far enough from x that ‖x‖² − 2x·e is not exact (Sterbenz
        // does not apply, it rounds at the scale of ‖x‖²), their exact scores less than an ulp of it apart;
        // found by a seeded search with the public nearest-code search given each norm.
        let scale = (z.data.map { $0 * $0 }.reduce(0, +) / Float(z.data.count)).squareRoot()
        var embed = [Float](repeating: 1000 * scale, count: bins * d)
        var rng = SeededRNG(seed: 2024)
        var targets: [Int] = []
        for j in Array(0..<grouped).reversed() + Array(grouped..<t) {  // three frames of each kind
            if targets.filter({ ($0 < grouped) == (j < grouped) }).count == 3 { continue }
            let x = latent(j)
            let right = norm(x, .column(row: j, rows: t)), wrong = norm(x, wrongOrder(j))
            guard right != wrong else { continue }
            let slot = 2 * targets.count
            for _ in 0..<20_000 {
                let a = x.map { 0.1 * $0 + rng.uniform(-0.1, 0.1) * scale }
                let b = a.map { $0 + rng.uniform(-1, 1) * 1e-7 * scale }
                var trial = embed
                trial.replaceSubrange(slot * d ..< (slot + 2) * d, with: a + b)
                let book = Codebook(size: bins, dimension: d, vectors: trial)
                let r = StreamingNearTieTests.code(book, x, norm: right), w = StreamingNearTieTests.code(book, x, norm: wrong)
                if r != w && Set([r, w]) == Set([Int32(slot), Int32(slot + 1)]) {
                    embed = trial
                    targets.append(j)
                    break
                }
            }
        }
        XCTAssertEqual(targets.count, 6, "near-ties found for frames \(targets)")
        archive.tensors["quantizer.vq.layers.0._codebook.embed"] = TensorData(shape: [bins, d], values: embed)
        let model = try CodecModel(archive)
        let whole = try model.encode(audio, channels: 1, bandwidth: nil)
        let codes = whole.segments[0]
        XCTAssertEqual(codes.frames, t)

        // The inputs are near-ties: coding a target frame inside a block where its row follows the other
        // rule gives another code (what a stream without the hold-back, or one too short, would do).
        let book = Codebook(size: bins, dimension: d, vectors: embed)
        for j in targets {
            let x = latent(j)
            let expected = StreamingNearTieTests.code(book, x, norm: norm(x, .column(row: j, rows: t)))
            XCTAssertEqual(codes.stage(0)[j], expected, "frame \(j): whole-file code")
            let lo = j < grouped ? min(j, grouped - 8) : j - 31
            let width = j < grouped ? 8 : 32
            var window: [Float] = []
            for c in 0..<d { window += z.data[c * t + lo ..< c * t + lo + width] }
            let other = try model.quantizer.encode(channelMajor: window, stages: 1).values[j - lo]
            XCTAssertNotEqual(other, expected, "frame \(j): coded in a block of \(width) columns from \(lo), the code must change")
        }

        // Streams of random block sizes give the whole-file codes, near-ties included.
        for seed in 0..<4 as Range<UInt64> {
            let sizes = StreamingTests.blockSizes(total: audio.count, maxBlock: [7, 300, 2000, 9000][Int(seed)], seed: 300 + seed)
            let (streamed, _, _) = try StreamingTests.stream(model, audio, sizes: sizes, bandwidth: nil, seed: seed)
            XCTAssertEqual(streamed.segments, whole.segments, "blocks up to \([7, 300, 2000, 9000][Int(seed)]) samples")
        }
    }
}
