import XCTest
import NN
import TestSupport

/// Fast conv1d against the Double-accumulated scalar reference. Tolerance: both sum the same products;
/// the fast path rounds each fused multiply-add in Float, so over Cin·K ≤ 600 terms of size ≤ 1 the error
/// stays below ~1e-5 of the result's scale (atol 1e-5 covers results near zero).
final class Conv1dTests: XCTestCase {
    struct Case { let b, cin, cout, tin, k, s, d: Int }

    func run(_ c: Case, elu: Float?, accumulate: Bool, bias: Bool, threads: Int, seed: UInt64) -> (fast: [Float], ref: [Float]) {
        var rng = SeededRNG(seed: seed)
        let shape = Conv1dShape(batch: c.b, inChannels: c.cin, outChannels: c.cout, inLength: c.tin, kernelSize: c.k, stride: c.s, dilation: c.d)
        let x = rng.floats(shape.inputCount, -2, 2)
        let w = rng.floats(shape.weightCount, -0.5, 0.5)
        let bs = bias ? rng.floats(c.cout) : nil
        let start = rng.floats(shape.outputCount)
        var fast = start, ref = start
        Parallel.withThreads(threads) {
            conv1dForward(out: &fast, x: x, weight: w, bias: bs, shape: shape, inputELU: elu, accumulate: accumulate)
        }
        conv1dForwardReference(out: &ref, x: x, weight: w, bias: bs, shape: shape, inputELU: elu, accumulate: accumulate)
        return (fast, ref)
    }

    let cases: [Case] = [
        Case(b: 1, cin: 1, cout: 1, tin: 1, k: 1, s: 1, d: 1),
        Case(b: 1, cin: 3, cout: 5, tin: 30, k: 3, s: 1, d: 1),
        Case(b: 2, cin: 7, cout: 9, tin: 77, k: 3, s: 1, d: 3),
        Case(b: 1, cin: 5, cout: 13, tin: 101, k: 4, s: 2, d: 1),
        Case(b: 1, cin: 6, cout: 6, tin: 64, k: 5, s: 3, d: 2),
        Case(b: 1, cin: 4, cout: 7, tin: 123, k: 10, s: 5, d: 1),
        Case(b: 1, cin: 3, cout: 4, tin: 97, k: 16, s: 8, d: 1),
        Case(b: 2, cin: 11, cout: 3, tin: 250, k: 1, s: 1, d: 1),
        Case(b: 1, cin: 1, cout: 32, tin: 301, k: 7, s: 1, d: 1),
        Case(b: 1, cin: 33, cout: 17, tin: 555, k: 7, s: 1, d: 1),
        Case(b: 1, cin: 2, cout: 3, tin: 20, k: 3, s: 7, d: 4),
    ]

    func testFastMatchesReferenceOnOddShapes() {
        for (i, c) in cases.enumerated() {
            for (elu, acc, bias) in [(nil, false, true), (Float(1), false, true), (Float(0.7), true, false), (nil, true, true)] as [(Float?, Bool, Bool)] {
                let (fast, ref) = run(c, elu: elu, accumulate: acc, bias: bias, threads: 1, seed: UInt64(i))
                if let m = closeness(fast, ref, rtol: 1e-5, atol: 1e-5) {
                    XCTFail("\(c) elu \(String(describing: elu)) accumulate \(acc) bias \(bias): \(m)")
                }
            }
        }
    }

    func testLargeShapesUseEveryPathAndMatch() {
        // Several column blocks, ragged channel tiles, several channel blocks (partial sums kept in the
        // output, or in the scratch when accumulating), strided staging, and the one-channel kernel.
        for (i, c) in [Case(b: 1, cin: 40, cout: 30, tin: 3000, k: 3, s: 1, d: 1),
                       Case(b: 1, cin: 24, cout: 10, tin: 3001, k: 8, s: 4, d: 1),
                       Case(b: 1, cin: 600, cout: 6, tin: 50, k: 1, s: 1, d: 1),
                       Case(b: 1, cin: 40, cout: 1, tin: 1500, k: 7, s: 1, d: 1),
                       Case(b: 1, cin: 90, cout: 5, tin: 403, k: 4, s: 2, d: 1)].enumerated() {
            for (elu, acc) in [(nil, false), (1, false), (nil, true)] as [(Float?, Bool)] {
                let (fast, ref) = run(c, elu: elu, accumulate: acc, bias: true, threads: 2, seed: 100 + UInt64(i))
                if let m = closeness(fast, ref, rtol: 1e-5, atol: 1e-5) { XCTFail("\(c) elu \(String(describing: elu)) accumulate \(acc): \(m)") }
            }
        }
    }

    func testOneInputChannelPathMatchesReferenceAndTheTiledCoreBitForBit() {
        // Cin = 1, stride 1 takes its own row kernel: against the reference over odd lengths (32-column
        // strips and 1024-column blocks with ragged ends), kernels, dilations, padding, ELU, accumulate and
        // batches; and bit for bit the tiled core's order, which a 2-channel conv whose second channel has
        // zero weights still takes (tap-major, then channel: the extra terms add exact zeros).
        var rng = SeededRNG(seed: 500)
        for (i, (b, cout, tin, k, d, l, r)) in [(1, 32, 2049, 7, 1, 6, 0), (2, 5, 33, 3, 2, 2, 2), (1, 1, 1, 1, 1, 0, 0),
                                                (1, 7, 1100, 16, 1, 15, 0), (1, 3, 40, 32, 1, 20, 11), (1, 9, 3000, 5, 3, 12, 0)].enumerated() {
            for (alpha, acc) in [(nil, false), (Float(1), false), (nil, true), (Float(0.5), true)] as [(Float?, Bool)] {
                for mode in [PadMode.reflect, .zero] {
                    let tag = "case \(i) K \(k) d \(d) elu \(String(describing: alpha)) accumulate \(acc) \(mode)"
                    let sh = Conv1dShape(batch: b, inChannels: 1, outChannels: cout, inLength: tin, kernelSize: k,
                                         dilation: d, padLeft: l, padRight: r)
                    let x = rng.floats(b * tin, -2, 2), w = rng.floats(cout * k, -0.5, 0.5), bias = rng.floats(cout)
                    let start = rng.floats(sh.outputCount)
                    var fast = start, ref = start, two = start
                    let packed = packConv1dWeights(w, bias: bias, outChannels: cout, inChannels: 1, kernelSize: k)
                    Parallel.withThreads(i % 2 + 1) {
                        conv1dForward(out: &fast, x: x, packed: packed, shape: sh, padMode: mode, inputELU: alpha, accumulate: acc)
                    }
                    conv1dForwardReference(out: &ref, x: x, weight: w, bias: bias, shape: sh, padMode: mode, inputELU: alpha, accumulate: acc)
                    if let m = closeness(fast, ref, rtol: 1e-5, atol: 1e-5) { XCTFail("\(tag): \(m)") }
                    // The same conv as 2 input channels, the second with zero weights and arbitrary input.
                    var sh2 = sh
                    sh2.inChannels = 2
                    var x2 = [Float](), w2 = [Float](repeating: 0, count: cout * 2 * k)
                    for bb in 0..<b { x2 += x[bb * tin ..< (bb + 1) * tin]; x2 += rng.floats(tin, -2, 2) }
                    for co in 0..<cout { for tap in 0..<k { w2[co * 2 * k + tap] = w[co * k + tap] } }
                    conv1dForward(out: &two, x: x2, weight: w2, bias: bias, shape: sh2, padMode: mode, inputELU: alpha, accumulate: acc)
                    XCTAssertEqual(fast, two, "\(tag): one-channel path vs the tiled core")
                }
            }
        }
    }

    func testConcatConv1x1MatchesReferenceWindowsAndThreads() {
        // [ELU(a); b] through one 1×1 conv: against the reference (odd lengths, one and several channel
        // blocks, ragged row tiles, Ca = 0), the same bits on windows of longer rows and on 1 or 2 threads.
        var rng = SeededRNG(seed: 600)
        for (ca, cb, cout, n) in [(16, 32, 32, 1001), (1, 1, 1, 1), (3, 5, 7, 50), (128, 256, 256, 97), (0, 4, 6, 30), (33, 2, 9, 2500)] {
            for alpha: Float? in [1, nil] {
                let tag = "Ca \(ca) Cb \(cb) Cout \(cout) n \(n) elu \(String(describing: alpha))"
                let a = rng.floats(max(1, ca * n), -3, 2), b = rng.floats(cb * n, -2, 2)
                let wa = rng.floats(max(1, cout * ca), -0.3, 0.3), wb = rng.floats(cout * cb, -0.3, 0.3), bias = rng.floats(cout)
                let packed = packConcatConv1x1Weights(weightA: wa, channelsA: ca, weightB: wb, channelsB: cb, bias: bias, outChannels: cout)
                var fast = [Float](repeating: .nan, count: cout * n), ref = fast
                Parallel.withThreads(1) {
                    conv1x1ConcatForward(out: &fast, ldy: n, a: a, lda: n, inputELUOnA: alpha, b: b, ldb: n, channelsA: ca, packed: packed, length: n)
                }
                conv1x1ConcatForwardReference(out: &ref, a: a, inputELUOnA: alpha, b: b, weightA: wa, channelsA: ca, weightB: wb,
                                              channelsB: cb, bias: bias, outChannels: cout, length: n)
                if let m = closeness(fast, ref, rtol: 1e-5, atol: 1e-5) { XCTFail("\(tag): \(m)") }
                var two = [Float](repeating: .nan, count: cout * n)
                Parallel.withThreads(2) {
                    conv1x1ConcatForward(out: &two, ldy: n, a: a, lda: n, inputELUOnA: alpha, b: b, ldb: n, channelsA: ca, packed: packed, length: n)
                }
                XCTAssertEqual(fast, two, "\(tag): 1 vs 2 threads")
                // Columns lo ..< hi as windows of the full rows, written into rows of stride n + 5.
                let lo = n / 3, hi = max(lo + 1, n - n / 4), w = hi - lo, ldy = n + 5
                var win = [Float](repeating: -7, count: cout * ldy)
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        win.withUnsafeMutableBufferPointer { op in
                            conv1x1ConcatForward(out: op.baseAddress! + 2, ldy: ldy, a: ap.baseAddress! + lo, lda: n, inputELUOnA: alpha,
                                                 b: bp.baseAddress! + lo, ldb: n, channelsA: ca, packed: packed, length: w)
                        }
                    }
                }
                for co in 0..<cout {
                    XCTAssertEqual(Array(win[co * ldy + 2 ..< co * ldy + 2 + w]), Array(fast[co * n + lo ..< co * n + hi]), "\(tag) row \(co)")
                    XCTAssertEqual(win[co * ldy + 1], -7, "\(tag): written before the window")
                }
            }
        }
    }

    func testResidualUnitTilesMatchUntiledAndReference() {
        // EnCodec's residual unit in time tiles: the same bits as the whole-row kernels (conv1dForward then
        // conv1x1ConcatForward) for every tile length (tiles that start inside the left padding's reach, a
        // last tile that holds the right padding, one tile) and thread count; close to the Double reference.
        var rng = SeededRNG(seed: 700)
        let cases: [(dim: Int, hidden: Int, n: Int, k: Int, d: Int, left: Int, right: Int, mode: PadMode)] = [
            (8, 4, 1001, 3, 1, 2, 0, .reflect), (5, 3, 777, 3, 3, 6, 0, .reflect), (7, 2, 500, 3, 2, 2, 2, .reflect),
            (6, 3, 613, 5, 1, 2, 2, .replicate), (4, 4, 403, 3, 1, 2, 0, .constant(0)), (32, 16, 2999, 3, 1, 2, 0, .reflect),
            (3, 1, 9, 3, 1, 2, 0, .reflect), (9, 5, 3, 3, 2, 4, 0, .reflect)]
        for c in cases {
            let tag = "dim \(c.dim) hidden \(c.hidden) n \(c.n) k \(c.k) d \(c.d) pad \(c.left)/\(c.right) \(c.mode)"
            let shape = Conv1dShape(inChannels: c.dim, outChannels: c.hidden, inLength: c.n, kernelSize: c.k, dilation: c.d,
                                    padLeft: c.left, padRight: c.right)
            let x = rng.floats(c.dim * c.n, -2, 2)
            let w = rng.floats(shape.weightCount, -0.4, 0.4), b = rng.floats(c.hidden)
            let wl = rng.floats(c.dim * c.hidden, -0.3, 0.3), ws = rng.floats(c.dim * c.dim, -0.3, 0.3), bl = rng.floats(c.dim)
            let first = packConv1dWeights(w, bias: b, outChannels: c.hidden, inChannels: c.dim, kernelSize: c.k)
            let last = packConcatConv1x1Weights(weightA: wl, channelsA: c.hidden, weightB: ws, channelsB: c.dim, bias: bl, outChannels: c.dim)
            // Untiled: the path output for the whole row, then the fused 1×1 conv.
            var h = [Float](repeating: .nan, count: c.hidden * c.n), whole = [Float](repeating: .nan, count: c.dim * c.n)
            Parallel.withThreads(1) {
                conv1dForward(out: &h, x: x, packed: first, shape: shape, padMode: c.mode, inputELU: 1)
                conv1x1ConcatForward(out: &whole, ldy: c.n, a: h, lda: c.n, inputELUOnA: 1, b: x, ldb: c.n, channelsA: c.hidden,
                                     packed: last, length: c.n)
            }
            var ref = [Float](repeating: .nan, count: c.dim * c.n)
            residualUnitForwardReference(out: &ref, x: x, shape: shape, weight: w, bias: b, padMode: c.mode, inputELU: 1, hiddenELU: 1,
                                         lastWeight: wl, shortcutWeight: ws, lastBias: bl)
            if let m = closeness(whole, ref, rtol: 1e-5, atol: 1e-5) { XCTFail("\(tag): \(m)") }
            for (tile, threads) in [(1, 1), (7, 1), (50, 2), (128, 1), (333, 2), (480, 1), (100_000, 1)] {
                var out = [Float](repeating: .nan, count: c.dim * c.n)
                Parallel.withThreads(threads) {
                    residualUnitForward(out: &out, x: x, shape: shape, first: first, padMode: c.mode, inputELU: 1, hiddenELU: 1,
                                        last: last, tileLength: tile)
                }
                XCTAssertEqual(out, whole, "\(tag): tiles of \(tile), \(threads) threads vs untiled")
            }
        }
    }

    func testThreadCountDoesNotChangeAnyBit() {
        for (i, c) in [Case(b: 2, cin: 16, cout: 21, tin: 2000, k: 3, s: 1, d: 2),
                       Case(b: 1, cin: 8, cout: 64, tin: 1203, k: 4, s: 2, d: 1),
                       Case(b: 1, cin: 64, cout: 128, tin: 90, k: 7, s: 1, d: 1)].enumerated() {
            let one = run(c, elu: 1, accumulate: false, bias: true, threads: 1, seed: 200 + UInt64(i)).fast
            let two = run(c, elu: 1, accumulate: false, bias: true, threads: 2, seed: 200 + UInt64(i)).fast
            let three = run(c, elu: 1, accumulate: false, bias: true, threads: 3, seed: 200 + UInt64(i)).fast
            XCTAssertEqual(one, two, "\(c): 1 vs 2 threads")
            XCTAssertEqual(one, three, "\(c): 1 vs 3 threads")
        }
    }

    func testRowStridesReadAndWriteWindowsOfLongerBuffers() {
        var rng = SeededRNG(seed: 300)
        let shape = Conv1dShape(batch: 2, inChannels: 5, outChannels: 6, inLength: 70, kernelSize: 4, stride: 2)
        let x = rng.floats(shape.inputCount), w = rng.floats(shape.weightCount), bias = rng.floats(6)
        let packed = packConv1dWeights(w, bias: bias, outChannels: 6, inChannels: 5, kernelSize: 4)
        var dense = [Float](repeating: 0, count: shape.outputCount)
        conv1dForward(out: &dense, x: x, packed: packed, shape: shape, inputELU: 1)
        // The same input inside rows of 83, the output into rows of 40 starting at column 3.
        let ldx = 83, ldy = 40, tout = shape.outLength
        var wide = [Float](repeating: .nan, count: 2 * 5 * ldx)
        for r in 0..<10 { for t in 0..<70 { wide[r * ldx + t] = x[r * 70 + t] } }
        var outWide = [Float](repeating: -7, count: 2 * 6 * ldy)
        outWide.withUnsafeMutableBufferPointer { o in
            conv1dForward(out: o.baseAddress! + 3, x: wide, packed: packed, shape: shape, inputELU: 1, inputRowStride: ldx, outputRowStride: ldy)
        }
        for r in 0..<12 {
            XCTAssertEqual(Array(outWide[(r * ldy + 3)..<(r * ldy + 3 + tout)]), Array(dense[(r * tout)..<((r + 1) * tout)]), "row \(r)")
            XCTAssertEqual(outWide[r * ldy + 2], -7, "row \(r): written before its window")
            if 3 + tout < ldy { XCTAssertEqual(outWide[r * ldy + 3 + tout], -7, "row \(r): written past its window") }
        }
    }

    func testFusedPaddingEqualsPad1dThenConv() {
        // Every mode, strides and dilations, pads longer than the input (reflect's zero-extension rule),
        // and ELU: the fused kernel must give the bits of conv(pad1d(elu(x))) and match the reference.
        var rng = SeededRNG(seed: 400)
        for (cin, cout, tin, k, s, d, l, r) in [(3, 5, 40, 3, 1, 1, 2, 0), (4, 6, 33, 4, 2, 1, 2, 1), (2, 3, 5, 7, 1, 2, 9, 3),
                                                (3, 4, 2, 3, 1, 1, 3, 3), (5, 2, 700, 10, 5, 1, 5, 4), (2, 2, 0, 3, 1, 1, 1, 2),
                                                // Strides whose phases are split in registers (2, 4) or via a
                                                // buffer (3, 8), long enough for the vector interior.
                                                (3, 4, 301, 4, 2, 1, 2, 1), (2, 3, 250, 8, 4, 1, 4, 3), (2, 2, 517, 16, 8, 1, 8, 7),
                                                (3, 2, 100, 6, 3, 1, 3, 2), (2, 3, 37, 4, 2, 2, 6, 0)] {
            for mode in [PadMode.zero, .constant(0.75), .reflect, .replicate] {
                if case .replicate = mode, tin == 0 { continue }
                for alpha: Float? in [nil, 1] {
                    let conv = Conv1d(weight: rng.floats(cout * cin * k), bias: rng.floats(cout), inChannels: cin, outChannels: cout,
                                      kernelSize: k, stride: s, dilation: d)
                    let x = Tensor(shape: [2, cin, tin], data: rng.floats(2 * cin * tin, -2, 2))
                    let fused = conv.forward(x, padLeft: l, padRight: r, padMode: mode, inputELU: alpha)
                    let act = alpha == nil ? x : elu(x, alpha: alpha!)
                    let unfused = conv(pad1d(act, left: l, right: r, mode: mode))
                    let tag = "Cin \(cin) T \(tin) K \(k) s \(s) d \(d) pad (\(l), \(r)) \(mode) elu \(String(describing: alpha))"
                    XCTAssertEqual(fused, unfused, tag)
                    var ref = [Float](repeating: 0, count: fused.count)
                    let sh = Conv1dShape(batch: 2, inChannels: cin, outChannels: cout, inLength: tin, kernelSize: k, stride: s,
                                         dilation: d, padLeft: l, padRight: r)
                    XCTAssertEqual(sh.outLength, fused.shape[2])
                    let xs = x.data.isEmpty ? [0] : x.data
                    conv1dForwardReference(out: &ref, x: xs, weight: conv.weight, bias: conv.bias, shape: sh, padMode: mode, inputELU: alpha)
                    if let m = closeness(fused.data, ref, rtol: 1e-5, atol: 1e-5) { XCTFail("\(tag): \(m)") }
                }
            }
        }
    }

    func testShapeArithmetic() {
        let s = Conv1dShape(inChannels: 2, outChannels: 3, inLength: 100, kernelSize: 4, stride: 3, dilation: 2)
        XCTAssertEqual(s.receptiveField, 7)
        XCTAssertEqual(s.outLength, (100 - 2 * 3 - 1) / 3 + 1)
        XCTAssertEqual(Conv1dShape(inChannels: 1, outChannels: 1, inLength: 7, kernelSize: 7).outLength, 1)
    }

    func testLayerMatchesFreeFunctionAndHandComputedValues() {
        // w = [1, 2] on one channel, bias 0.5, stride 2: y[t] = x[2t] + 2·x[2t+1] + 0.5.
        let conv = Conv1d(weight: Tensor(shape: [1, 1, 2], data: [1, 2]), bias: Tensor(shape: [1], data: [0.5]), stride: 2)
        let y = conv(Tensor(shape: [1, 1, 5], data: [1, 2, 3, 4, 5]))
        XCTAssertEqual(y.shape, [1, 1, 2])
        XCTAssertEqual(y.data, [1 + 4 + 0.5, 3 + 8 + 0.5])
        XCTAssertEqual(conv.outLength(5), 2)
        // ELU on the input: ELU(-1) = e^-1 − 1.
        let z = Conv1d(weight: [1], bias: nil, inChannels: 1, outChannels: 1, kernelSize: 1)(Tensor(shape: [1, 1, 2], data: [-1, 2]), inputELU: 1)
        XCTAssertEqual(z.data[0], Float(exp(-1.0) - 1), accuracy: 1e-7)
        XCTAssertEqual(z.data[1], 2)
        // Fused residual add: the same bits as adding afterwards.
        var rng = SeededRNG(seed: 5)
        let big = Conv1d(weight: rng.floats(6 * 300 * 3), bias: rng.floats(6), inChannels: 300, outChannels: 6, kernelSize: 3)
        let x = Tensor(shape: [1, 300, 40], data: rng.floats(300 * 40))
        let res = Tensor(shape: [1, 6, 38], data: rng.floats(6 * 38))
        let plain = big(x, inputELU: 1)
        XCTAssertEqual(big(x, inputELU: 1, adding: res).data, zip(plain.data, res.data).map { $0 + $1 })
    }

    /// PyTorch F.conv1d (on F.elu(x) where the case says so); torch sums in another order (oneDNN), so
    /// 1e-5 relative plus 1e-6 absolute for outputs near zero from cancellation.
    func testMatchesPyTorchFixtures() throws {
        let (f, cases) = try NNFixtures.group("conv1d")
        for c in cases {
            let w = f.tensor(c, "weight")!
            let conv = Conv1d(weight: w, bias: f.tensor(c, "bias"), stride: c["stride"] as! Int, dilation: c["dilation"] as! Int)
            let y = conv(f.tensor(c, "x")!, inputELU: (c["elu"] as! Bool) ? 1 : nil)
            let want = f.tensor(c, "y")!
            XCTAssertEqual(y.shape, want.shape)
            if let m = closeness(y.data, want.data, rtol: 1e-5, atol: 1e-6) { XCTFail("\(c["y"]!): \(m)") }
        }
    }
}
