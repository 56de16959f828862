import XCTest
import NN
import TestSupport

/// ELU backward: fast vs reference, finite differences, PyTorch fixture; and the shared weight-gradient
/// correlation and bias gradient against their references.
final class ActivationsBackwardTests: XCTestCase {
    func testELUFastMatchesReference() {
        var rng = SeededRNG(seed: 3)
        let n = 1003
        let x = rng.floats(n, -6, 3), dy = rng.floats(n)
        for alpha: Float in [1, 0.3] {
            var a = [Float](repeating: 0.5, count: n), b = a
            eluBackward(dx: &a, dOut: dy, x: x, count: n, alpha: alpha)
            eluBackwardReference(dx: &b, dOut: dy, x: x, count: n, alpha: alpha)
            if let m = closeness(a, b, rtol: 2e-6, atol: 1e-7) { XCTFail("alpha \(alpha): \(m)") }
        }
    }

    func testELUFiniteDifferences() {
        var rng = SeededRNG(seed: 4)
        let x = rng.floats(40, -3, 3), r = rng.floats(40)
        var dx = [Float](repeating: 0, count: 40)
        eluBackward(dx: &dx, dOut: r, x: x, count: 40, alpha: 0.7)
        let loss = { (v: [Double]) in weightedSum(v.map { DoubleForward.elu($0, 0.7) }, r) }
        XCTAssertNil(gradientCheck(loss, at: x.map(Double.init), analytic: dx.map(Double.init), eps: 1e-6, rtol: 1e-5, atol: 1e-6))
    }

    func testELUMatchesPyTorch() throws {
        let f = try trainingFixtures()
        let group = try XCTUnwrap(f.cases["elu_backward"])
        for c in group {
            let x = f.values(c, "x")
            var dx = [Float](repeating: 0, count: x.count)
            eluBackward(dx: &dx, dOut: f.values(c, "dy"), x: x, count: x.count, alpha: Float(c["alpha"] as! Double))
            if let m = closeness(dx, f.values(c, "dx"), rtol: 2e-6, atol: 1e-7) { XCTFail("alpha \(c["alpha"]!): \(m)") }
        }
    }

    func testWeightGradientFastMatchesReference() {
        let shapes = [
            WeightGradientShape(batch: 2, rows: 7, channels: 5, steps: 300, sourceLength: 300, kernelSize: 3, dilation: 2, padLeft: 4),
            WeightGradientShape(batch: 1, rows: 1, channels: 3, steps: 517, sourceLength: 2070, kernelSize: 8, stride: 4, padLeft: 4, padRight: 3),
            WeightGradientShape(batch: 1, rows: 9, channels: 1, steps: 33, sourceLength: 33, kernelSize: 1, padLeft: 1),
        ]
        for (i, s) in shapes.enumerated() {
            var rng = SeededRNG(seed: UInt64(30 + i))
            let l = rng.floats(s.batch * s.rows * s.steps), src = rng.floats(s.batch * s.channels * s.sourceLength)
            for (mode, la, sa) in [(PadMode.reflect, Float?.none, Float?.some(1)), (.zero, 1, nil), (.replicate, nil, nil)] {
                var a = [Float](repeating: 0.5, count: s.rows * s.channels * s.kernelSize), b = a, c = a
                Parallel.withThreads(1) { convWeightGradient(dW: &a, left: l, leftELU: la, source: src, sourceELU: sa, mode: mode, shape: s) }
                Parallel.withThreads(2) { convWeightGradient(dW: &c, left: l, leftELU: la, source: src, sourceELU: sa, mode: mode, shape: s) }
                convWeightGradientReference(dW: &b, left: l, leftELU: la, source: src, sourceELU: sa, mode: mode, shape: s)
                XCTAssertEqual(a, c, "shape \(i): thread count changed the result")
                if let m = closeness(a, b, rtol: 1e-4, atol: 1e-4) { XCTFail("shape \(i) \(mode): \(m)") }
            }
        }
        var rng = SeededRNG(seed: 9)
        let dy = rng.floats(3 * 5 * 101)
        var a = [Float](repeating: 1, count: 5), b = a
        biasGradient(dBias: &a, dOut: dy, batch: 3, rows: 5, steps: 101)
        biasGradientReference(dBias: &b, dOut: dy, batch: 3, rows: 5, steps: 101)
        XCTAssertNil(closeness(a, b, rtol: 1e-5, atol: 1e-5))
    }
}
