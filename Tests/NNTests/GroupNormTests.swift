import XCTest
import NN
import TestSupport

/// Fast GroupNorm against the Double reference. Tolerance 1e-5 relative + 1e-5 absolute: the fast path
/// sums in Float SIMD lanes per 8192-element chunk (relative error ~1e-6 on the statistics), and outputs
/// are O(1) after normalization.
final class GroupNormTests: XCTestCase {
    func run(_ shape: GroupNormShape, affine: Bool, eps: Float, seed: UInt64, threads: Int = 1, offset: Float = 0) -> (fast: [Float], ref: [Float]) {
        var rng = SeededRNG(seed: seed)
        let x = rng.floats(shape.count, -3, 3).map { $0 + offset }
        let w: [Float]? = affine ? rng.floats(shape.channels, 0.5, 1.5) : nil
        let b: [Float]? = affine ? rng.floats(shape.channels) : nil
        var fast = [Float](repeating: 0, count: shape.count), ref = fast
        Parallel.withThreads(threads) { groupNormForward(out: &fast, x: x, weight: w, bias: b, shape: shape, eps: eps) }
        groupNormForwardReference(out: &ref, x: x, weight: w, bias: b, shape: shape, eps: eps)
        return (fast, ref)
    }

    func testFastMatchesReference() {
        let shapes = [GroupNormShape(batch: 1, channels: 1, length: 1, groups: 1),
                      GroupNormShape(batch: 2, channels: 6, length: 37, groups: 1),
                      GroupNormShape(batch: 1, channels: 6, length: 37, groups: 3),
                      GroupNormShape(batch: 3, channels: 8, length: 5, groups: 8),
                      GroupNormShape(batch: 1, channels: 4, length: 9000, groups: 2)]
        for (i, s) in shapes.enumerated() {
            for affine in [false, true] {
                let (fast, ref) = run(s, affine: affine, eps: 1e-5, seed: UInt64(i))
                if let m = closeness(fast, ref, rtol: 1e-5, atol: 1e-5) { XCTFail("\(s) affine \(affine): \(m)") }
            }
        }
        // A large mean next to a small spread: the two-pass variance keeps it accurate.
        let (fast, ref) = run(GroupNormShape(batch: 1, channels: 3, length: 500, groups: 1), affine: true, eps: 1e-5, seed: 9, offset: 100)
        XCTAssertNil(closeness(fast, ref, rtol: 1e-4, atol: 1e-4))
    }

    func testThreadCountDoesNotChangeAnyBit() {
        let s = GroupNormShape(batch: 2, channels: 4, length: 30011, groups: 2)
        XCTAssertEqual(run(s, affine: true, eps: 1e-5, seed: 4, threads: 1).fast, run(s, affine: true, eps: 1e-5, seed: 4, threads: 2).fast)
    }

    func testStatisticsAndConstantInput() {
        // Group of [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
        var mean: Float = 0, rstd: Float = 0
        var y = [Float](repeating: 0, count: 4)
        groupNormForward(out: &y, mean: &mean, rstd: &rstd, x: [1, 2, 3, 4], weight: nil, bias: nil,
                         shape: GroupNormShape(channels: 2, length: 2, groups: 1), eps: 0)
        XCTAssertEqual(mean, 2.5)
        XCTAssertEqual(rstd, 1 / Float(1.25).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(y[0], -1.5 / Float(1.25).squareRoot(), accuracy: 1e-6)
        // Constant input: zero variance, the output is the bias (eps keeps it finite). As in PyTorch the
        // output is x·scale + shift with scale = γ·rstd ≈ 949 here, so it carries ~1 ulp of 7·949.
        let gn = GroupNorm(groups: 1, channels: 2, eps: 1e-5, weight: [2, 3], bias: [0.5, -0.5])
        let z = gn(Tensor(shape: [1, 2, 3], repeating: 7))
        XCTAssertNil(closeness(z.data, [0.5, 0.5, 0.5, -0.5, -0.5, -0.5], rtol: 0, atol: 2e-3))
    }

    /// torch.nn.GroupNorm (1 group as EnCodec uses it, and more), affine: 1e-5 relative plus 1e-5 absolute
    /// (normalized outputs are O(1); the statistics are summed in different orders).
    func testMatchesPyTorchFixtures() throws {
        let (f, cases) = try NNFixtures.group("groupNorm")
        for c in cases {
            let gn = GroupNorm(groups: c["groups"] as! Int, channels: c["channels"] as! Int, eps: Float(c["eps"] as! Double),
                               weight: f.tensor(c, "weight")!.data, bias: f.tensor(c, "bias")!.data)
            let y = gn(f.tensor(c, "x")!)
            if let m = closeness(y.data, f.tensor(c, "y")!.data, rtol: 1e-5, atol: 1e-5) { XCTFail("\(c["y"]!): \(m)") }
        }
    }
}
