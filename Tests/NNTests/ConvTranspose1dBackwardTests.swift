import XCTest
import NN
import TestSupport

/// ConvTranspose1d backward: fast vs reference (and thread counts), finite differences, PyTorch fixture.
final class ConvTranspose1dBackwardTests: XCTestCase {
    let cases: [(ConvTranspose1dShape, Float?)] = [
        (ConvTranspose1dShape(batch: 2, inChannels: 4, outChannels: 3, inLength: 9, kernelSize: 8, stride: 4, trimRight: 4), 1),
        (ConvTranspose1dShape(batch: 1, inChannels: 5, outChannels: 2, inLength: 7, kernelSize: 10, stride: 5, trimLeft: 2, trimRight: 3), nil),
        (ConvTranspose1dShape(batch: 1, inChannels: 3, outChannels: 4, inLength: 6, kernelSize: 3, stride: 1), 0.5),
        (ConvTranspose1dShape(batch: 1, inChannels: 2, outChannels: 1, inLength: 5, kernelSize: 4, stride: 2, trimRight: 2), 1),
    ]

    func run(_ s: ConvTranspose1dShape, _ alpha: Float?, x: [Float], w: [Float], dy: [Float], reference: Bool) -> [Float] {
        var dx = [Float](repeating: 0.25, count: x.count), dw = [Float](repeating: -0.5, count: w.count)
        var db = [Float](repeating: 1, count: s.outChannels)
        (reference ? convTranspose1dBackwardReference : convTranspose1dBackward)(&dx, &dw, &db, dy, x, w, s, alpha)
        return dx + dw + db
    }

    func testFastMatchesReferenceAndThreadCount() {
        var all = cases
        all.append((ConvTranspose1dShape(batch: 2, inChannels: 33, outChannels: 17, inLength: 150, kernelSize: 16, stride: 8, trimRight: 8), 1))
        all.append((ConvTranspose1dShape(batch: 1, inChannels: 64, outChannels: 32, inLength: 97, kernelSize: 4, stride: 2, trimRight: 2), 1))
        for (i, (s, alpha)) in all.enumerated() {
            var rng = SeededRNG(seed: UInt64(20 + i))
            let x = rng.floats(s.inputCount, -2, 2), w = rng.floats(s.weightCount), dy = rng.floats(s.outputCount)
            let a = Parallel.withThreads(1) { run(s, alpha, x: x, w: w, dy: dy, reference: false) }
            let b = Parallel.withThreads(3) { run(s, alpha, x: x, w: w, dy: dy, reference: false) }
            XCTAssertEqual(a, b, "case \(i): result depends on the thread count")
            if let m = closeness(a, run(s, alpha, x: x, w: w, dy: dy, reference: true), rtol: 1e-4, atol: 1e-4) { XCTFail("case \(i): \(m)") }
        }
    }

    func testFiniteDifferences() {
        for (i, (s, alpha)) in cases.enumerated() {
            var rng = SeededRNG(seed: UInt64(200 + i))
            let x = rng.floats(s.inputCount, -2, 2), w = rng.floats(s.weightCount), b = rng.floats(s.outChannels)
            let r = rng.floats(s.outputCount)
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: b.count)
            convTranspose1dBackward(dx: &dx, dWeight: &dw, dBias: &db, dOut: r, x: x, weight: w, shape: s, inputELU: alpha)
            let nx = x.count, nw = w.count
            let loss = { (v: [Double]) -> Double in
                weightedSum(DoubleForward.convTranspose1d(x: Array(v[0..<nx]), w: Array(v[nx..<(nx + nw)]), b: Array(v[(nx + nw)...]),
                                                          shape: s, alpha: alpha.map(Double.init)), r)
            }
            if let m = gradientCheck(loss, at: (x + w + b).map(Double.init), analytic: (dx + dw + db).map(Double.init),
                                     eps: 1e-5, rtol: 1e-3, atol: 1e-4) { XCTFail("case \(i): \(m)") }
        }
    }

    func testMatchesPyTorch() throws {
        let f = try trainingFixtures()
        let group = try XCTUnwrap(f.cases["convtr_backward"])
        XCTAssertEqual(group.count, 3)
        for (i, c) in group.enumerated() {
            let s = ConvTranspose1dShape(batch: c["batch"] as! Int, inChannels: c["inChannels"] as! Int, outChannels: c["outChannels"] as! Int,
                                         inLength: c["inLength"] as! Int, kernelSize: c["kernelSize"] as! Int, stride: c["stride"] as! Int,
                                         trimLeft: c["trimLeft"] as! Int, trimRight: c["trimRight"] as! Int)
            let x = f.values(c, "x"), w = f.values(c, "weight")
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: s.outChannels)
            convTranspose1dBackward(dx: &dx, dWeight: &dw, dBias: &db, dOut: f.values(c, "dy"), x: x, weight: w, shape: s,
                                    inputELU: (c["elu"] as! Bool) ? 1 : nil)
            if let m = closeness(dx, f.values(c, "dx"), rtol: 1e-4, atol: 1e-5) { XCTFail("case \(i) dx: \(m)") }
            if let m = closeness(dw, f.values(c, "dweight"), rtol: 1e-4, atol: 1e-5) { XCTFail("case \(i) dWeight: \(m)") }
            if let m = closeness(db, f.values(c, "dbias"), rtol: 1e-4, atol: 1e-5) { XCTFail("case \(i) dBias: \(m)") }
        }
    }
}
