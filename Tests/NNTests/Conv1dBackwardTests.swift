import XCTest
import NN
import TestSupport

/// Conv1d backward: fast vs scalar reference on odd shapes (and thread-count independence), finite differences
/// of an independent Double forward, and PyTorch autograd on the committed fixture.
final class Conv1dBackwardTests: XCTestCase {
    struct Case { let shape: Conv1dShape; let mode: String; let alpha: Float? }

    let cases: [Case] = [
        Case(shape: Conv1dShape(batch: 2, inChannels: 3, outChannels: 5, inLength: 23, kernelSize: 3, dilation: 2, padLeft: 4), mode: "reflect", alpha: 1),
        Case(shape: Conv1dShape(batch: 1, inChannels: 4, outChannels: 6, inLength: 41, kernelSize: 8, stride: 4, padLeft: 4, padRight: 3), mode: "reflect", alpha: 1),
        Case(shape: Conv1dShape(batch: 2, inChannels: 2, outChannels: 4, inLength: 30, kernelSize: 10, stride: 5, dilation: 3, padLeft: 2, padRight: 1), mode: "replicate", alpha: nil),
        Case(shape: Conv1dShape(batch: 1, inChannels: 5, outChannels: 1, inLength: 17, kernelSize: 7, padLeft: 6), mode: "constant", alpha: 0.5),
        Case(shape: Conv1dShape(batch: 1, inChannels: 3, outChannels: 2, inLength: 4, kernelSize: 7, padLeft: 6), mode: "reflect", alpha: 1),
        Case(shape: Conv1dShape(batch: 2, inChannels: 3, outChannels: 4, inLength: 9, kernelSize: 1), mode: "reflect", alpha: nil),
    ]

    /// Runs a backward kernel with fresh, non-zero accumulators (backward adds to them).
    func run(_ c: Case, x: [Float], w: [Float], dy: [Float], reference: Bool) -> (dx: [Float], dw: [Float], db: [Float]) {
        var dx = [Float](repeating: 0.25, count: x.count), dw = [Float](repeating: -0.5, count: w.count)
        var db = [Float](repeating: 1, count: c.shape.outChannels)
        let f = reference ? conv1dBackwardReference : conv1dBackward
        f(&dx, &dw, &db, dy, x, w, c.shape, padMode(c.mode), c.alpha)
        return (dx, dw, db)
    }

    func testFastMatchesReferenceAndThreadCount() {
        var extra = cases
        extra.append(Case(shape: Conv1dShape(batch: 3, inChannels: 37, outChannels: 29, inLength: 700, kernelSize: 3, padLeft: 2), mode: "reflect", alpha: 1))
        extra.append(Case(shape: Conv1dShape(batch: 2, inChannels: 16, outChannels: 32, inLength: 611, kernelSize: 8, stride: 4, padLeft: 4, padRight: 3), mode: "reflect", alpha: 1))
        extra.append(Case(shape: Conv1dShape(batch: 2, inChannels: 19, outChannels: 23, inLength: 301, kernelSize: 1), mode: "reflect", alpha: nil))  // direct path
        extra.append(Case(shape: Conv1dShape(batch: 1, inChannels: 3, outChannels: 5, inLength: 40, kernelSize: 3, dilation: 2), mode: "constant", alpha: nil))  // unpadded k3
        for (i, c) in extra.enumerated() {
            var rng = SeededRNG(seed: UInt64(10 + i))
            let x = rng.floats(c.shape.inputCount, -2, 2), w = rng.floats(c.shape.weightCount), dy = rng.floats(c.shape.outputCount)
            let fast1 = Parallel.withThreads(1) { run(c, x: x, w: w, dy: dy, reference: false) }
            let fast3 = Parallel.withThreads(3) { run(c, x: x, w: w, dy: dy, reference: false) }
            let ref = run(c, x: x, w: w, dy: dy, reference: true)
            XCTAssertEqual(fast1.dx, fast3.dx, "case \(i): dx depends on the thread count")
            XCTAssertEqual(fast1.dw, fast3.dw, "case \(i): dWeight depends on the thread count")
            XCTAssertEqual(fast1.db, fast3.db, "case \(i): dBias depends on the thread count")
            if let m = closeness(fast1.dx, ref.dx, rtol: 1e-4, atol: 1e-4) { XCTFail("case \(i) dx: \(m)") }
            if let m = closeness(fast1.dw, ref.dw, rtol: 1e-4, atol: 1e-4) { XCTFail("case \(i) dWeight: \(m)") }
            if let m = closeness(fast1.db, ref.db, rtol: 1e-4, atol: 1e-4) { XCTFail("case \(i) dBias: \(m)") }
        }
    }

    func testFiniteDifferences() {
        for (i, c) in cases.enumerated() {
            var rng = SeededRNG(seed: UInt64(100 + i))
            let s = c.shape
            let x = rng.floats(s.inputCount, -2, 2), w = rng.floats(s.weightCount), b = rng.floats(s.outChannels)
            let r = rng.floats(s.outputCount)
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: b.count)
            conv1dBackward(dx: &dx, dWeight: &dw, dBias: &db, dOut: r, x: x, weight: w, shape: s, padMode: padMode(c.mode), inputELU: c.alpha)
            let nx = x.count, nw = w.count
            let loss = { (v: [Double]) -> Double in
                weightedSum(DoubleForward.conv1d(x: Array(v[0..<nx]), w: Array(v[nx..<(nx + nw)]), b: Array(v[(nx + nw)...]),
                                                 shape: s, mode: c.mode, alpha: c.alpha.map(Double.init)), r)
            }
            let point = (x + w + b).map(Double.init)
            let analytic = (dx + dw + db).map(Double.init)
            if let m = gradientCheck(loss, at: point, analytic: analytic, eps: 1e-5, rtol: 1e-3, atol: 1e-4) { XCTFail("case \(i): \(m)") }
        }
    }

    func testMatchesPyTorch() throws {
        let f = try trainingFixtures()
        let group = try XCTUnwrap(f.cases["conv1d_backward"])
        XCTAssertEqual(group.count, 6)
        for (i, c) in group.enumerated() {
            let shape = Conv1dShape(batch: c["batch"] as! Int, inChannels: c["inChannels"] as! Int, outChannels: c["outChannels"] as! Int,
                                    inLength: c["inLength"] as! Int, kernelSize: c["kernelSize"] as! Int, stride: c["stride"] as! Int,
                                    dilation: c["dilation"] as! Int, padLeft: c["padLeft"] as! Int, padRight: c["padRight"] as! Int)
            let x = f.values(c, "x"), w = f.values(c, "weight")
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count)
            var db = [Float](repeating: 0, count: shape.outChannels)
            conv1dBackward(dx: &dx, dWeight: &dw, dBias: &db, dOut: f.values(c, "dy"), x: x, weight: w, shape: shape,
                           padMode: padMode(c["mode"] as! String), inputELU: (c["elu"] as! Bool) ? 1 : nil)
            if let m = closeness(dx, f.values(c, "dx"), rtol: 1e-4, atol: 1e-5) { XCTFail("case \(i) dx: \(m)") }
            if let m = closeness(dw, f.values(c, "dweight"), rtol: 1e-4, atol: 1e-5) { XCTFail("case \(i) dWeight: \(m)") }
            if let m = closeness(db, f.values(c, "dbias"), rtol: 1e-4, atol: 1e-5) { XCTFail("case \(i) dBias: \(m)") }
        }
    }

    func testNilBuffersAreSkipped() {
        let s = Conv1dShape(batch: 1, inChannels: 2, outChannels: 3, inLength: 9, kernelSize: 3, padLeft: 2)
        var rng = SeededRNG(seed: 5)
        let x = rng.floats(s.inputCount), w = rng.floats(s.weightCount), dy = rng.floats(s.outputCount)
        var dw = [Float](repeating: 0, count: w.count), dw2 = dw
        conv1dBackward(dx: nil, dWeight: &dw, dBias: nil, dOut: dy, x: x, weight: w, shape: s)
        var dx = [Float](repeating: 0, count: x.count), db = [Float](repeating: 0, count: 3)
        conv1dBackward(dx: &dx, dWeight: &dw2, dBias: &db, dOut: dy, x: x, weight: w, shape: s)
        XCTAssertEqual(dw, dw2)
        XCTAssertTrue(dw.contains { $0 != 0 })
    }
}
