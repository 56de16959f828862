import XCTest
import NN
import TestSupport

/// LSTM fast path against the Double reference (tolerance 1e-5 relative + 2e-6 absolute: Float sums of
/// In + H products per gate, errors damped by the saturating nonlinearities), and the state contracts.
final class LSTMTests: XCTestCase {
    func layer(_ input: Int, _ hidden: Int, _ rng: inout SeededRNG) -> LSTMLayerWeights {
        let s = 1 / Float(hidden).squareRoot()  // PyTorch's init range
        return LSTMLayerWeights(inputSize: input, hiddenSize: hidden,
                                weightIH: rng.floats(4 * hidden * input, -s, s), weightHH: rng.floats(4 * hidden * hidden, -s, s),
                                biasIH: rng.floats(4 * hidden, -s, s), biasHH: rng.floats(4 * hidden, -s, s))
    }

    func testLayerFastMatchesReference() {
        for (i, (b, inp, hid, t)) in [(1, 3, 5, 7), (2, 7, 20, 33), (1, 16, 16, 1), (1, 40, 33, 300)].enumerated() {
            var rng = SeededRNG(seed: UInt64(i))
            let w = layer(inp, hid, &rng)
            let x = rng.floats(b * inp * t, -2, 2)
            let h0 = rng.floats(b * hid), c0 = rng.floats(b * hid, -2, 2)
            let shape = LSTMShape(batch: b, inputSize: inp, hiddenSize: hid, length: t)
            var y1 = [Float](repeating: 0, count: b * hid * t), y2 = y1
            var h1 = h0, c1 = c0, h2 = h0, c2 = c0
            lstmLayerForward(out: &y1, h: &h1, c: &c1, x: x, weights: w, shape: shape)
            lstmLayerForwardReference(out: &y2, h: &h2, c: &c2, x: x, weights: w, shape: shape)
            let tag = "B \(b) In \(inp) H \(hid) T \(t)"
            if let m = closeness(y1, y2, rtol: 1e-5, atol: 2e-6) { XCTFail("\(tag) output: \(m)") }
            if let m = closeness(h1, h2, rtol: 1e-5, atol: 2e-6) { XCTFail("\(tag) h: \(m)") }
            if let m = closeness(c1, c2, rtol: 1e-5, atol: 2e-6) { XCTFail("\(tag) c: \(m)") }
        }
    }

    func testStackFeedsLayersInOrder() {
        var rng = SeededRNG(seed: 11)
        let l0 = layer(6, 10, &rng), l1 = layer(10, 10, &rng)
        let lstm = LSTM(layers: [l0, l1])
        let x = Tensor(shape: [2, 6, 9], data: rng.floats(2 * 6 * 9))
        let (y, state) = lstm(x, state: nil)
        XCTAssertEqual(y.shape, [2, 10, 9])
        XCTAssertEqual(state.h.shape, [2, 2, 10])
        // Same thing by hand with the reference layer kernel.
        var mid = [Float](repeating: 0, count: 2 * 10 * 9), out = mid
        var h = [Float](repeating: 0, count: 2 * 10), c = h, h2 = h, c2 = h
        lstmLayerForwardReference(out: &mid, h: &h, c: &c, x: x.data, weights: l0, shape: LSTMShape(batch: 2, inputSize: 6, hiddenSize: 10, length: 9))
        lstmLayerForwardReference(out: &out, h: &h2, c: &c2, x: mid, weights: l1, shape: LSTMShape(batch: 2, inputSize: 10, hiddenSize: 10, length: 9))
        XCTAssertNil(closeness(y.data, out, rtol: 1e-5, atol: 2e-6))
        XCTAssertNil(closeness(Array(state.h.data[0..<20]), h, rtol: 1e-5, atol: 2e-6))
        XCTAssertNil(closeness(Array(state.c.data[20..<40]), c2, rtol: 1e-5, atol: 2e-6))
        // The final h of the top layer is the last output step.
        XCTAssertEqual(state.h.data[20 + 3], y[0, 3, 8])
    }

    func testCarriedStateEqualsOneCallBitForBit() {
        var rng = SeededRNG(seed: 12)
        let lstm = LSTM(layers: [layer(8, 24, &rng), layer(24, 24, &rng)])
        let t = 301
        let x = Tensor(shape: [1, 8, t], data: rng.floats(8 * t, -2, 2))
        let initial = LSTMState(h: Tensor(shape: [2, 1, 24], data: rng.floats(48)), c: Tensor(shape: [2, 1, 24], data: rng.floats(48)))
        let (whole, finalWhole) = lstm(x, state: initial)
        // Blocks of 1, 99, 200 and 1 steps (the last crosses the 256-step projection chunk).
        var state = initial
        var pieces: [Tensor] = []
        var t0 = 0
        for n in [1, 99, 200, 1] {
            let part = Tensor(shape: [1, 8, n], data: (0..<8).flatMap { c in x.data[(c * t + t0)..<(c * t + t0 + n)] })
            let (y, s) = lstm(part, state: state)
            pieces.append(y)
            state = s
            t0 += n
        }
        XCTAssertEqual(t0, t)
        let joined = (0..<24).flatMap { c in pieces.flatMap { p in p.data[(c * p.shape[2])..<((c + 1) * p.shape[2])] } }
        XCTAssertEqual(joined, whole.data)
        XCTAssertEqual(state, finalWhole)
        // Carrying state matters: starting the second half from zeros gives different outputs.
        let second = Tensor(shape: [1, 8, 200], data: (0..<8).flatMap { c in x.data[(c * t + 100)..<(c * t + 300)] })
        XCTAssertNotEqual(lstm(second).data, pieces[2].data)
    }

    func testThreadCountDoesNotChangeAnyBit() {
        var rng = SeededRNG(seed: 13)
        let lstm = LSTM(layers: [layer(64, 256, &rng)])
        let x = Tensor(shape: [1, 64, 40], data: rng.floats(64 * 40))
        let one = Parallel.withThreads(1) { lstm(x) }
        let two = Parallel.withThreads(2) { lstm(x) }
        XCTAssertEqual(one, two)
    }

    /// With 2+ threads a stack runs its layers as a wavefront over chunks of steps (layer l + 1 starts on
    /// chunk k while layer l runs chunk k + 1): outputs and final state must be the same bits as one layer
    /// after another on 1 thread, for ragged last chunks, batch > 1, 3 layers and a carried initial state.
    func testLayerWavefrontEqualsLayerByLayerBitForBit() {
        var rng = SeededRNG(seed: 14)
        for (layers, batch, t) in [(2, 1, 750), (3, 2, 401), (2, 1, 193)] {
            let lstm = LSTM(layers: [layer(24, 40, &rng)] + (1..<layers).map { _ in layer(40, 40, &rng) })
            let x = Tensor(shape: [batch, 24, t], data: rng.floats(batch * 24 * t, -2, 2))
            let initial = LSTMState(h: Tensor(shape: [layers, batch, 40], data: rng.floats(layers * batch * 40)),
                                    c: Tensor(shape: [layers, batch, 40], data: rng.floats(layers * batch * 40, -2, 2)))
            let one = Parallel.withThreads(1) { lstm(x, state: initial) }
            // Layer by layer by hand on 1 thread, through the public layer kernel.
            var input = x.data, h = initial.h.data, c = initial.c.data
            for (l, w) in lstm.layers.enumerated() {
                var y = [Float](repeating: 0, count: batch * 40 * t)
                h.withUnsafeMutableBufferPointer { hp in
                    c.withUnsafeMutableBufferPointer { cp in
                        Parallel.withThreads(1) {
                            lstmLayerForward(out: &y, h: hp.baseAddress! + l * batch * 40, c: cp.baseAddress! + l * batch * 40, x: input,
                                             weights: w, shape: LSTMShape(batch: batch, inputSize: w.inputSize, hiddenSize: 40, length: t))
                        }
                    }
                }
                input = y
            }
            XCTAssertEqual(one.output.data, input, "\(layers) layers, B \(batch), T \(t): 1 thread")
            XCTAssertEqual(one.state.h.data, h)
            XCTAssertEqual(one.state.c.data, c)
            for threads in [2, 3] {
                let many = Parallel.withThreads(threads) { lstm(x, state: initial) }
                XCTAssertEqual(many.output, one.output, "\(layers) layers, B \(batch), T \(t): \(threads) threads")
                XCTAssertEqual(many.state, one.state, "\(layers) layers, B \(batch), T \(t): \(threads) threads, final state")
            }
        }
    }

    /// torch.nn.LSTM (2 layers, with and without an initial state): outputs and final (h, c) within 1e-5
    /// relative plus 1e-6 absolute (values are in (−1, 1) for h; rounding differs only in summation order).
    func testMatchesPyTorchFixtures() throws {
        let (f, cases) = try NNFixtures.group("lstm")
        for c in cases {
            let layers = (c["weights"] as! [[String: String]]).map { w in
                LSTMLayerWeights(inputSize: f.tensor(w["weight_ih"]!).shape[1], hiddenSize: f.tensor(w["weight_hh"]!).shape[1],
                                 weightIH: f.tensor(w["weight_ih"]!).data, weightHH: f.tensor(w["weight_hh"]!).data,
                                 biasIH: f.tensor(w["bias_ih"]!).data, biasHH: f.tensor(w["bias_hh"]!).data)
            }
            let lstm = LSTM(layers: layers)
            let (y, state) = lstm(f.tensor(c, "x")!, state: LSTMState(h: f.tensor(c, "h0")!, c: f.tensor(c, "c0")!))
            let tag = c["y"] as! String
            if let m = closeness(y.data, f.tensor(c, "y")!.data, rtol: 1e-5, atol: 1e-6) { XCTFail("\(tag) output: \(m)") }
            if let m = closeness(state.h.data, f.tensor(c, "hn")!.data, rtol: 1e-5, atol: 1e-6) { XCTFail("\(tag) h_n: \(m)") }
            if let m = closeness(state.c.data, f.tensor(c, "cn")!.data, rtol: 1e-5, atol: 1e-6) { XCTFail("\(tag) c_n: \(m)") }
        }
    }
}
