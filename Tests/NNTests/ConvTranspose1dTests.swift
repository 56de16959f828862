import XCTest
import NN
import TestSupport

/// Fast transposed conv against the Double-accumulated scalar reference (tolerance as in Conv1dTests:
/// Float FMA chains over ≤ Cin·⌈K/s⌉ terms).
final class ConvTranspose1dTests: XCTestCase {
    struct Case { let b, cin, cout, t, k, s: Int }

    func run(_ c: Case, elu: Float?, accumulate: Bool, bias: Bool, threads: Int, seed: UInt64, reference: Bool = true) -> (fast: [Float], ref: [Float]) {
        var rng = SeededRNG(seed: seed)
        let shape = ConvTranspose1dShape(batch: c.b, inChannels: c.cin, outChannels: c.cout, inLength: c.t, kernelSize: c.k, stride: c.s)
        let x = rng.floats(shape.inputCount, -2, 2)
        let w = rng.floats(shape.weightCount, -0.5, 0.5)
        let bs = bias ? rng.floats(c.cout) : nil
        let start = rng.floats(shape.outputCount)
        var fast = start, ref = start
        Parallel.withThreads(threads) {
            convTranspose1dForward(out: &fast, x: x, weight: w, bias: bs, shape: shape, inputELU: elu, accumulate: accumulate)
        }
        if reference {
            convTranspose1dForwardReference(out: &ref, x: x, weight: w, bias: bs, shape: shape, inputELU: elu, accumulate: accumulate)
        }
        return (fast, ref)
    }

    func testFastMatchesReferenceOnOddShapes() {
        let cases = [
            Case(b: 1, cin: 1, cout: 1, t: 1, k: 1, s: 1),
            Case(b: 1, cin: 3, cout: 2, t: 5, k: 4, s: 2),
            Case(b: 2, cin: 5, cout: 7, t: 31, k: 10, s: 5),
            Case(b: 1, cin: 4, cout: 3, t: 29, k: 16, s: 8),
            Case(b: 1, cin: 6, cout: 5, t: 17, k: 3, s: 2),    // K not a multiple of s
            Case(b: 1, cin: 2, cout: 3, t: 9, k: 2, s: 5),     // K < s: gaps between kernel footprints
            Case(b: 1, cin: 9, cout: 6, t: 40, k: 7, s: 1),
            Case(b: 1, cin: 3, cout: 1, t: 57, k: 8, s: 4),
        ]
        for (i, c) in cases.enumerated() {
            for (elu, acc, bias) in [(nil, false, true), (Float(1), false, true), (Float(0.5), true, false)] as [(Float?, Bool, Bool)] {
                let (fast, ref) = run(c, elu: elu, accumulate: acc, bias: bias, threads: 1, seed: UInt64(i))
                if let m = closeness(fast, ref, rtol: 1e-5, atol: 1e-5) {
                    XCTFail("\(c) elu \(String(describing: elu)) accumulate \(acc) bias \(bias): \(m)")
                }
            }
        }
    }

    func testLargeShapesMatch() {
        // Full tiles of stride 2 and 4 (interleaved in registers), stride 5, several channel blocks (scratch).
        for (i, c) in [Case(b: 1, cin: 40, cout: 21, t: 700, k: 8, s: 4), Case(b: 1, cin: 140, cout: 3, t: 300, k: 4, s: 2),
                       Case(b: 2, cin: 16, cout: 8, t: 500, k: 4, s: 2), Case(b: 1, cin: 12, cout: 9, t: 260, k: 10, s: 5)].enumerated() {
            for (elu, acc) in [(nil, false), (1, false), (nil, true)] as [(Float?, Bool)] {
                let (fast, ref) = run(c, elu: elu, accumulate: acc, bias: true, threads: 2, seed: 50 + UInt64(i))
                if let m = closeness(fast, ref, rtol: 1e-5, atol: 1e-5) { XCTFail("\(c) elu \(String(describing: elu)) accumulate \(acc): \(m)") }
            }
        }
    }

    func testThreadCountDoesNotChangeAnyBit() {
        for (i, c) in [Case(b: 1, cin: 32, cout: 16, t: 3000, k: 4, s: 2), Case(b: 1, cin: 64, cout: 128, t: 75, k: 16, s: 8)].enumerated() {
            let one = run(c, elu: 1, accumulate: false, bias: true, threads: 1, seed: 70 + UInt64(i), reference: false).fast
            let two = run(c, elu: 1, accumulate: false, bias: true, threads: 2, seed: 70 + UInt64(i), reference: false).fast
            XCTAssertEqual(one, two, "\(c)")
        }
    }

    func testRowStridesReadAndWriteWindowsOfLongerBuffers() {
        var rng = SeededRNG(seed: 301)
        let shape = ConvTranspose1dShape(batch: 2, inChannels: 3, outChannels: 4, inLength: 21, kernelSize: 6, stride: 3)
        let x = rng.floats(shape.inputCount), w = rng.floats(shape.weightCount)
        let packed = packConvTranspose1dWeights(w, bias: nil, inChannels: 3, outChannels: 4, kernelSize: 6, stride: 3)
        var dense = [Float](repeating: 0, count: shape.outputCount)
        convTranspose1dForward(out: &dense, x: x, packed: packed, shape: shape)
        let ldx = 30, ldy = 80, tout = shape.outLength
        var wide = [Float](repeating: .nan, count: 2 * 3 * ldx)
        for r in 0..<6 { for t in 0..<21 { wide[r * ldx + t] = x[r * 21 + t] } }
        var outWide = [Float](repeating: -7, count: 2 * 4 * ldy)
        convTranspose1dForward(out: &outWide, x: wide, packed: packed, shape: shape, inputRowStride: ldx, outputRowStride: ldy)
        for r in 0..<8 {
            XCTAssertEqual(Array(outWide[(r * ldy)..<(r * ldy + tout)]), Array(dense[(r * tout)..<((r + 1) * tout)]), "row \(r)")
            XCTAssertEqual(outWide[r * ldy + tout], -7, "row \(r): written past its window")
        }
    }

    func testFusedTrimEqualsUnpad() {
        var rng = SeededRNG(seed: 500)
        for (cin, cout, t, k, s, l, r) in [(3, 4, 30, 4, 2, 1, 1), (5, 3, 200, 8, 4, 0, 4), (2, 6, 17, 10, 5, 3, 2), (4, 2, 9, 3, 2, 2, 0),
                                           (6, 8, 150, 4, 2, 2, 0)] {
            let layer = ConvTranspose1d(weight: rng.floats(cin * cout * k), bias: rng.floats(cout), inChannels: cin, outChannels: cout,
                                        kernelSize: k, stride: s)
            let x = Tensor(shape: [2, cin, t], data: rng.floats(2 * cin * t, -2, 2))
            for alpha: Float? in [nil, 1] {
                let fused = layer.forward(x, trimLeft: l, trimRight: r, inputELU: alpha)
                XCTAssertEqual(fused.shape[2], layer.outLength(t, trimLeft: l, trimRight: r))
                XCTAssertEqual(fused, unpad1d(layer(x, inputELU: alpha), left: l, right: r), "K \(k) s \(s) trim (\(l), \(r))")
                let res = Tensor(shape: fused.shape, data: rng.floats(fused.count))
                XCTAssertEqual(layer.forward(x, trimLeft: l, trimRight: r, inputELU: alpha, adding: res).data,
                               zip(fused.data, res.data).map { $0 + $1 })
                var ref = [Float](repeating: 0, count: fused.count)
                let sh = ConvTranspose1dShape(batch: 2, inChannels: cin, outChannels: cout, inLength: t, kernelSize: k, stride: s,
                                              trimLeft: l, trimRight: r)
                convTranspose1dForwardReference(out: &ref, x: x.data, weight: layer.weight, bias: layer.bias, shape: sh, inputELU: alpha)
                if let m = closeness(fused.data, ref, rtol: 1e-5, atol: 1e-5) { XCTFail("K \(k) s \(s) trim (\(l), \(r)): \(m)") }
            }
        }
    }

    func testLayerHandComputed() {
        // Cin 1, Cout 1, K 3, stride 2, w = [1, 10, 100]: y[2t + k] += x[t]·w[k].
        let layer = ConvTranspose1d(weight: Tensor(shape: [1, 1, 3], data: [1, 10, 100]), bias: nil, stride: 2)
        let y = layer(Tensor(shape: [1, 1, 2], data: [1, 2]))
        XCTAssertEqual(y.shape, [1, 1, 5])
        XCTAssertEqual(y.data, [1, 10, 100 + 2, 20, 200])
        XCTAssertEqual(layer.outLength(2), 5)
        XCTAssertEqual(layer(Tensor(shape: [1, 1, 2], data: [1, 2]), inputELU: nil, adding: Tensor(shape: [1, 1, 5], data: [1, 1, 1, 1, 1])).data,
                       [2, 11, 103, 21, 201])
    }

    /// PyTorch F.conv_transpose1d (padding 0: the full length); tolerance as for conv1d.
    func testMatchesPyTorchFixtures() throws {
        let (f, cases) = try NNFixtures.group("convTranspose1d")
        for c in cases {
            let layer = ConvTranspose1d(weight: f.tensor(c, "weight")!, bias: f.tensor(c, "bias"), stride: c["stride"] as! Int)
            let y = layer(f.tensor(c, "x")!, inputELU: (c["elu"] as! Bool) ? 1 : nil)
            let want = f.tensor(c, "y")!
            XCTAssertEqual(y.shape, want.shape)
            if let m = closeness(y.data, want.data, rtol: 1e-5, atol: 1e-6) { XCTFail("\(c["y"]!): \(m)") }
        }
    }
}
