import XCTest
import NN
import TestSupport

/// LSTM training forward and BPTT backward: training forward equals the inference kernel bit for bit, fast
/// backward vs reference (and thread counts), finite differences of a Double LSTM, PyTorch fixture.
final class LSTMBackwardTests: XCTestCase {
    func layer(_ inp: Int, _ hid: Int, _ rng: inout SeededRNG) -> LSTMLayerWeights {
        let s = 1 / Float(hid).squareRoot()
        return LSTMLayerWeights(inputSize: inp, hiddenSize: hid, weightIH: rng.floats(4 * hid * inp, -s, s),
                                weightHH: rng.floats(4 * hid * hid, -s, s), biasIH: rng.floats(4 * hid, -s, s), biasHH: rng.floats(4 * hid, -s, s))
    }

    struct Result: Equatable { var dx, dwi, dwh, dbi, dbh: [Float] }

    func backward(_ w: LSTMLayerWeights, _ s: LSTMShape, x: [Float], dy: [Float], reference: Bool) -> (out: [Float], grads: Result) {
        var out = [Float](repeating: 0, count: s.batch * s.hiddenSize * s.length), cells = out
        var gates = [Float](repeating: 0, count: s.batch * 4 * s.hiddenSize * s.length)
        lstmLayerForwardTraining(out: &out, gates: &gates, cells: &cells, x: x, weights: w, shape: s)
        var r = Result(dx: [Float](repeating: 0.1, count: x.count), dwi: [Float](repeating: 0, count: w.weightIH.count),
                       dwh: [Float](repeating: 0, count: w.weightHH.count), dbi: [Float](repeating: 0, count: 4 * s.hiddenSize),
                       dbh: [Float](repeating: 0, count: 4 * s.hiddenSize))
        r.dwi.withUnsafeMutableBufferPointer { a in r.dwh.withUnsafeMutableBufferPointer { b in
            r.dbi.withUnsafeMutableBufferPointer { c in r.dbh.withUnsafeMutableBufferPointer { d in
                let g = LSTMLayerGradients(weightIH: a.baseAddress, weightHH: b.baseAddress, biasIH: c.baseAddress, biasHH: d.baseAddress)
                (reference ? lstmLayerBackwardReference : lstmLayerBackward)(&r.dx, g, dy, out, gates, cells, x, w, s)
            } }
        } }
        return (out, r)
    }

    func testTrainingForwardMatchesInference() {
        var rng = SeededRNG(seed: 1)
        let s = LSTMShape(batch: 2, inputSize: 9, hiddenSize: 13, length: 300)
        let w = layer(9, 13, &rng)
        let x = rng.floats(2 * 9 * 300, -2, 2)
        var y = [Float](repeating: 0, count: 2 * 13 * 300), h = [Float](repeating: 0, count: 26), c = h
        lstmLayerForward(out: &y, h: &h, c: &c, x: x, weights: w, shape: s)
        var out = y.map { _ in Float(0) }, cells = out, gates = [Float](repeating: 0, count: 4 * out.count)
        lstmLayerForwardTraining(out: &out, gates: &gates, cells: &cells, x: x, weights: w, shape: s)
        XCTAssertEqual(out, y)
        XCTAssertEqual(cells[13 * 300 - 1], c[12])  // batch 0, unit 12, last step
    }

    func testFastMatchesReferenceAndThreadCount() {
        for (i, (b, inp, hid, t)) in [(2, 5, 7, 9), (1, 16, 40, 50), (1, 130, 130, 6)].enumerated() {
            var rng = SeededRNG(seed: UInt64(40 + i))
            let w = layer(inp, hid, &rng)
            let s = LSTMShape(batch: b, inputSize: inp, hiddenSize: hid, length: t)
            let x = rng.floats(b * inp * t, -2, 2), dy = rng.floats(b * hid * t)
            let a = Parallel.withThreads(1) { backward(w, s, x: x, dy: dy, reference: false) }.grads
            let c = Parallel.withThreads(3) { backward(w, s, x: x, dy: dy, reference: false) }.grads
            let r = backward(w, s, x: x, dy: dy, reference: true).grads
            XCTAssertEqual(a, c, "case \(i): depends on the thread count")
            for (name, p, q) in [("dx", a.dx, r.dx), ("dW_ih", a.dwi, r.dwi), ("dW_hh", a.dwh, r.dwh), ("db_ih", a.dbi, r.dbi), ("db_hh", a.dbh, r.dbh)] {
                if let m = closeness(p, q, rtol: 1e-4, atol: 1e-5) { XCTFail("case \(i) \(name): \(m)") }
            }
        }
    }

    func testFiniteDifferences() {
        var rng = SeededRNG(seed: 7)
        let s = LSTMShape(batch: 2, inputSize: 3, hiddenSize: 4, length: 6)
        let w = layer(3, 4, &rng)
        let x = rng.floats(2 * 3 * 6, -2, 2), r = rng.floats(2 * 4 * 6)
        let g = backward(w, s, x: x, dy: r, reference: false).grads
        let nx = x.count, n1 = w.weightIH.count, n2 = w.weightHH.count, n3 = w.biasIH.count
        let loss = { (v: [Double]) -> Double in
            var o = 0
            func take(_ n: Int) -> [Double] { defer { o += n }; return Array(v[o..<(o + n)]) }
            let xs = take(nx), wi = take(n1), wh = take(n2), bi = take(n3), bh = take(n3)
            return weightedSum(DoubleForward.lstm(x: xs, wih: wi, whh: wh, bih: bi, bhh: bh, shape: s), r)
        }
        let point = (x + w.weightIH + w.weightHH + w.biasIH + w.biasHH).map(Double.init)
        let analytic = (g.dx.map { $0 - 0.1 } + g.dwi + g.dwh + g.dbi + g.dbh).map(Double.init)
        if let m = gradientCheck(loss, at: point, analytic: analytic, eps: 1e-5, rtol: 1e-3, atol: 1e-5) { XCTFail(m) }
    }

    func testMatchesPyTorch() throws {
        let f = try trainingFixtures()
        let group = try XCTUnwrap(f.cases["lstm_backward"])
        XCTAssertEqual(group.count, 2)
        for (i, c) in group.enumerated() {
            let s = LSTMShape(batch: c["batch"] as! Int, inputSize: c["inputSize"] as! Int, hiddenSize: c["hiddenSize"] as! Int, length: c["length"] as! Int)
            let w = LSTMLayerWeights(inputSize: s.inputSize, hiddenSize: s.hiddenSize, weightIH: f.values(c, "weight_ih"),
                                     weightHH: f.values(c, "weight_hh"), biasIH: f.values(c, "bias_ih"), biasHH: f.values(c, "bias_hh"))
            let (out, g) = backward(w, s, x: f.values(c, "x"), dy: f.values(c, "dy"), reference: false)
            if let m = closeness(out, f.values(c, "y"), rtol: 1e-5, atol: 1e-6) { XCTFail("case \(i) y: \(m)") }
            for (name, p, key) in [("dx", g.dx.map { $0 - 0.1 }, "dx"), ("dW_ih", g.dwi, "dweight_ih"), ("dW_hh", g.dwh, "dweight_hh"),
                                   ("db_ih", g.dbi, "dbias_ih"), ("db_hh", g.dbh, "dbias_hh")] {
                if let m = closeness(p, f.values(c, key), rtol: 1e-4, atol: 1e-5) { XCTFail("case \(i) \(name): \(m)") }
            }
        }
    }
}
