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

    /// The fast weight gradient against the scalar reference on random shapes: strides 1/2/4/5/8, dilations
    /// 1/3/9, K 1/3/4/7/16, ELU on either side, every pad mode, odd lengths, batch 1–3, row counts around the
    /// 8-row panels, plus shapes that split time into several blocks, columns into several chunks and rows into
    /// parts; 1, 2 and 3 threads must agree bit for bit.
    func testWeightGradientRandomShapesMatchReference() {
        var rng = SeededRNG(seed: 77)
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(rng.next() % UInt64(r.count)) }
        var shapes = [
            // Several time blocks (rows 300 → 208-step blocks) and column chunks (8 groups of 12 per chunk).
            (WeightGradientShape(batch: 2, rows: 300, channels: 7, steps: 451, sourceLength: 466, kernelSize: 16, padLeft: 0, padRight: 0),
             PadMode.zero, Float?.none, Float?.some(1)),
            (WeightGradientShape(batch: 1, rows: 17, channels: 3, steps: 777, sourceLength: 1553, kernelSize: 4, stride: 2, padLeft: 1, padRight: 2),
             .reflect, 0.5, nil),
            // 2 column groups × 3 row panels: with several threads, items of (group, panel range) whose 16-row
            // pairs start at an odd panel.
            (WeightGradientShape(batch: 2, rows: 23, channels: 2, steps: 501, sourceLength: 507, kernelSize: 7, padLeft: 3, padRight: 3),
             .replicate, 1, 1),
        ]
        for _ in 0..<36 {
            let k = pick([1, 3, 4, 7, 16]), s = pick([1, 2, 4, 5, 8]), d = k == 1 ? 1 : pick([1, 3, 9])
            let n = int(1...140) | 1, halo = (k - 1) * d
            let need = (n - 1) * s + halo + 1
            var mode = pick([PadMode.zero, .constant(0.25), .reflect, .replicate])
            var pl = int(0...min(need / 2, halo + s)), pr = int(0...min(need / 2, halo + s))
            let ts = max(1, need - pl - pr + int(0...(s - 1)))
            if case .reflect = mode, pl >= ts || pr >= ts {
                if ts > 1 { pl = min(pl, ts - 1); pr = min(pr, ts - 1) } else { mode = .zero }
                if (n - 1) * s + halo >= ts + pl + pr { mode = .zero; pl = need; pr = 0 }
            }
            let shape = WeightGradientShape(batch: int(1...3), rows: pick([1, 3, 8, 9, 16, 23]), channels: int(1...5), steps: n,
                                            sourceLength: ts, kernelSize: k, stride: s, dilation: d, padLeft: pl, padRight: pr)
            let elu = pick([(Float?.none, Float?.none), (1, nil), (nil, 1), (0.3, 0.7)])
            shapes.append((shape, mode, elu.0, elu.1))
        }
        for (i, (s, mode, la, sa)) in shapes.enumerated() {
            let l = rng.floats(s.batch * s.rows * s.steps), src = rng.floats(s.batch * s.channels * s.sourceLength, -2, 2)
            let start = rng.floats(s.rows * s.channels * s.kernelSize)
            var a = start, b = start, c = start, e = start
            Parallel.withThreads(1) { convWeightGradient(dW: &a, left: l, leftELU: la, source: src, sourceELU: sa, mode: mode, shape: s) }
            Parallel.withThreads(2) { convWeightGradient(dW: &c, left: l, leftELU: la, source: src, sourceELU: sa, mode: mode, shape: s) }
            Parallel.withThreads(3) { convWeightGradient(dW: &e, left: l, leftELU: la, source: src, sourceELU: sa, mode: mode, shape: s) }
            convWeightGradientReference(dW: &b, left: l, leftELU: la, source: src, sourceELU: sa, mode: mode, shape: s)
            XCTAssertEqual(a, c, "case \(i) \(s): 2 threads changed the result")
            XCTAssertEqual(a, e, "case \(i) \(s): 3 threads changed the result")
            if let m = closeness(a, b, rtol: 1e-4, atol: 1e-4) { XCTFail("case \(i) \(s) \(mode) ELU \(String(describing: la))/\(String(describing: sa)): \(m)") }
        }
    }
}
