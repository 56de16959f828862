import XCTest
import NN
import TestSupport

/// The F(2,2) paths for K = 2·s layers against the Double-accumulated scalar references, and their
/// streaming contract: a call split anywhere (pairs anchored on the absolute index) gives the same bits
/// as one call, for 1 and 2 threads. Tolerance: the transform adds roundings of the input differences
/// and of the summed weights (G0 + G1), so the error is a few ulp of Σ|w·x| rather than of |y|:
/// atol 5e-5 for these sizes (Σ|w·x| ≲ 100), where a wrong tap or pairing gives errors of order 1.
final class ConvWinogradTests: XCTestCase {
    struct Case { let b, cin, cout, tin, s, padLeft, padRight: Int }

    let cases: [Case] = [
        Case(b: 1, cin: 1, cout: 1, tin: 4, s: 2, padLeft: 0, padRight: 0),
        Case(b: 1, cin: 3, cout: 5, tin: 31, s: 2, padLeft: 2, padRight: 1),
        Case(b: 2, cin: 5, cout: 13, tin: 100, s: 2, padLeft: 1, padRight: 2),
        Case(b: 1, cin: 7, cout: 9, tin: 123, s: 4, padLeft: 4, padRight: 3),
        Case(b: 1, cin: 4, cout: 7, tin: 127, s: 5, padLeft: 5, padRight: 4),
        Case(b: 1, cin: 3, cout: 4, tin: 97, s: 8, padLeft: 8, padRight: 7),
        Case(b: 1, cin: 40, cout: 21, tin: 1203, s: 4, padLeft: 4, padRight: 0),
        Case(b: 1, cin: 70, cout: 35, tin: 2001, s: 5, padLeft: 5, padRight: 3),   // several channel blocks
        Case(b: 1, cin: 36, cout: 67, tin: 1606, s: 8, padLeft: 8, padRight: 5),   // several channel blocks
        Case(b: 1, cin: 33, cout: 17, tin: 9001, s: 2, padLeft: 2, padRight: 1),   // several chunks
        // ≥ 3 chunks per thread: whole chunks go to the threads.
        Case(b: 1, cin: 4, cout: 64, tin: 13003, s: 2, padLeft: 2, padRight: 1),
        Case(b: 2, cin: 3, cout: 70, tin: 6001, s: 2, padLeft: 1, padRight: 2),
    ]

    func shape(_ c: Case) -> Conv1dShape {
        Conv1dShape(batch: c.b, inChannels: c.cin, outChannels: c.cout, inLength: c.tin, kernelSize: 2 * c.s, stride: c.s,
                    padLeft: c.padLeft, padRight: c.padRight)
    }

    func testConvMatchesReference() {
        for (i, c) in cases.enumerated() {
            let sh = shape(c)
            var rng = SeededRNG(seed: 100 + UInt64(i))
            let x = rng.floats(sh.inputCount, -2, 2), w = rng.floats(sh.weightCount, -0.5, 0.5), bias = rng.floats(c.cout)
            let packed = packConv1dWinogradWeights(w, bias: bias, outChannels: c.cout, inChannels: c.cin, stride: c.s)
            let modes: [(PadMode, Float?, Bool)] = [(.constant(0), nil, false), (.reflect, 1, false), (.replicate, 0.5, true)]
            for (mode, elu, acc) in modes {
                let start = rng.floats(sh.outputCount)
                var ref = start
                conv1dForwardReference(out: &ref, x: x, weight: w, bias: bias, shape: sh, padMode: mode, inputELU: elu, accumulate: acc)
                var outs: [[Float]] = []
                for threads in [1, 2, 3] {
                    var fast = start
                    Parallel.withThreads(threads) {
                        conv1dWinogradForward(out: &fast, x: x, weights: packed, shape: sh, padMode: mode, inputELU: elu, accumulate: acc)
                    }
                    if let m = closeness(fast, ref, rtol: 1e-5, atol: 5e-5) { XCTFail("\(c) \(mode) elu \(String(describing: elu)) acc \(acc) threads \(threads): \(m)") }
                    outs.append(fast)
                }
                XCTAssertEqual(outs[0], outs[1], "\(c): 1 and 2 threads differ")
                XCTAssertEqual(outs[0], outs[2], "\(c): 1 and 3 threads differ")
            }
        }
    }

    /// Outputs [0, t1) in one call and [t1, Tout) in another (the input window of the second starting at
    /// t1·s, padded coordinates, `firstOutputIndex: t1`), as the streaming stage calls it: the bits of one call.
    func testConvSplitCallsEqualOneCall() {
        for (i, c) in cases.enumerated() where c.b == 1 {
            // Pre-padded input: the streaming stage's padded buffer.
            let whole = Conv1dShape(inChannels: c.cin, outChannels: c.cout, inLength: c.tin + c.padLeft + c.padRight,
                                    kernelSize: 2 * c.s, stride: c.s)
            var rng = SeededRNG(seed: 200 + UInt64(i))
            let x = rng.floats(whole.inputCount, -2, 2), w = rng.floats(whole.weightCount, -0.5, 0.5), bias = rng.floats(c.cout)
            let packed = packConv1dWinogradWeights(w, bias: bias, outChannels: c.cout, inChannels: c.cin, stride: c.s)
            let tout = whole.outLength, tin = whole.inLength
            var one = [Float](repeating: 0, count: c.cout * tout)
            conv1dWinogradForward(out: &one, x: x, weights: packed, shape: whole, inputELU: 1)
            let splits = Set([1, 2, 25, tout / 2, tout / 2 + 1, tout - 1].filter { $0 > 0 && $0 < tout })
            for t1 in splits.sorted() {
                for threads in [1, 2, 3] {
                    var parts = [Float](repeating: .nan, count: c.cout * tout)
                    Parallel.withThreads(threads) {
                        x.withUnsafeBufferPointer { xp in
                            parts.withUnsafeMutableBufferPointer { yp in
                                let a = Conv1dShape(inChannels: c.cin, outChannels: c.cout, inLength: (t1 + 1) * c.s, kernelSize: 2 * c.s, stride: c.s)
                                conv1dWinogradForward(out: yp.baseAddress!, x: xp.baseAddress!, weights: packed, shape: a, inputELU: 1,
                                                      inputRowStride: tin, outputRowStride: tout, firstOutputIndex: 0)
                                let b = Conv1dShape(inChannels: c.cin, outChannels: c.cout, inLength: tin - t1 * c.s, kernelSize: 2 * c.s, stride: c.s)
                                XCTAssertEqual(b.outLength, tout - t1)
                                conv1dWinogradForward(out: yp.baseAddress! + t1, x: xp.baseAddress! + t1 * c.s, weights: packed, shape: b,
                                                      inputELU: 1, inputRowStride: tin, outputRowStride: tout, firstOutputIndex: t1)
                            }
                        }
                    }
                    XCTAssertEqual(parts, one, "\(c): split at \(t1) (\(t1 % 2 == 0 ? "even" : "odd")), \(threads) threads")
                }
            }
            // An absolute start index of the same parity gives the same bits (only the parity matters).
            var shifted = [Float](repeating: 0, count: c.cout * tout)
            conv1dWinogradForward(out: &shifted, x: x, weights: packed, shape: whole, inputELU: 1, firstOutputIndex: 10)
            XCTAssertEqual(shifted, one)
        }
    }

    struct TCase { let cin, cout, t, s, trimLeft, trimRight: Int }

    let tcases: [TCase] = [
        TCase(cin: 1, cout: 1, t: 1, s: 2, trimLeft: 0, trimRight: 0),
        TCase(cin: 3, cout: 2, t: 6, s: 2, trimLeft: 0, trimRight: 2),
        TCase(cin: 5, cout: 7, t: 31, s: 5, trimLeft: 2, trimRight: 3),
        TCase(cin: 4, cout: 3, t: 30, s: 8, trimLeft: 0, trimRight: 8),
        TCase(cin: 9, cout: 13, t: 57, s: 4, trimLeft: 3, trimRight: 1),
        TCase(cin: 40, cout: 21, t: 700, s: 4, trimLeft: 0, trimRight: 4),
        TCase(cin: 140, cout: 3, t: 301, s: 2, trimLeft: 1, trimRight: 1),      // several channel blocks
        TCase(cin: 300, cout: 9, t: 261, s: 5, trimLeft: 0, trimRight: 5),      // several channel blocks
        TCase(cin: 17, cout: 33, t: 1999, s: 8, trimLeft: 0, trimRight: 8),     // several chunks
        TCase(cin: 3, cout: 40, t: 7001, s: 2, trimLeft: 1, trimRight: 1),      // ≥ 3 chunks per thread
    ]

    func tshape(_ c: TCase, batch: Int = 1) -> ConvTranspose1dShape {
        ConvTranspose1dShape(batch: batch, inChannels: c.cin, outChannels: c.cout, inLength: c.t, kernelSize: 2 * c.s, stride: c.s,
                             trimLeft: c.trimLeft, trimRight: c.trimRight)
    }

    func testTransposedMatchesReference() {
        for (i, c) in tcases.enumerated() {
            let sh = tshape(c, batch: i % 2 + 1)
            var rng = SeededRNG(seed: 300 + UInt64(i))
            let x = rng.floats(sh.inputCount, -2, 2), w = rng.floats(sh.weightCount, -0.5, 0.5), bias = rng.floats(c.cout)
            let packed = packConvTranspose1dWinogradWeights(w, bias: bias, inChannels: c.cin, outChannels: c.cout, stride: c.s)
            for (elu, acc) in [(nil, false), (1, false), (0.5, true)] as [(Float?, Bool)] {
                let start = rng.floats(sh.outputCount)
                var ref = start
                convTranspose1dForwardReference(out: &ref, x: x, weight: w, bias: bias, shape: sh, inputELU: elu, accumulate: acc)
                var outs: [[Float]] = []
                for threads in [1, 2, 3] {
                    var fast = start
                    Parallel.withThreads(threads) {
                        convTranspose1dWinogradForward(out: &fast, x: x, weights: packed, shape: sh, inputELU: elu, accumulate: acc)
                    }
                    if let m = closeness(fast, ref, rtol: 1e-5, atol: 5e-5) { XCTFail("\(c) elu \(String(describing: elu)) acc \(acc) threads \(threads): \(m)") }
                    outs.append(fast)
                }
                XCTAssertEqual(outs[0], outs[1], "\(c): 1 and 2 threads differ")
                XCTAssertEqual(outs[0], outs[2], "\(c): 1 and 3 threads differ")
            }
        }
    }

    /// Full positions [trimLeft, P) from the inputs they need, then [P, end) from inputs u0 = ⌊P/s⌋ − 1 on
    /// (`firstInputIndex: u0`), as the streaming stage calls it: the bits of one call, for u0 odd and even.
    func testTransposedSplitCallsEqualOneCall() {
        for (i, c) in tcases.enumerated() {
            let sh = tshape(c)
            var rng = SeededRNG(seed: 400 + UInt64(i))
            let x = rng.floats(sh.inputCount, -2, 2), w = rng.floats(sh.weightCount, -0.5, 0.5), bias = rng.floats(c.cout)
            let packed = packConvTranspose1dWinogradWeights(w, bias: bias, inChannels: c.cin, outChannels: c.cout, stride: c.s)
            let s = c.s, full = sh.fullLength, end = full - c.trimRight, outLen = sh.outLength
            var one = [Float](repeating: 0, count: c.cout * outLen)
            convTranspose1dWinogradForward(out: &one, x: x, weights: packed, shape: sh, inputELU: 1)
            let candidates = [c.trimLeft + 1, 2 * s, 3 * s, 3 * s + 1, 4 * s + 2, end / 2, end / 2 + s, end - 1]
            for p in Set(candidates.filter { $0 > c.trimLeft && $0 < end }).sorted() {
                for threads in [1, 2, 3] {
                    var parts = [Float](repeating: .nan, count: c.cout * outLen)
                    let u0 = max(0, p / s - 1)
                    Parallel.withThreads(threads) {
                        x.withUnsafeBufferPointer { xp in
                            parts.withUnsafeMutableBufferPointer { yp in
                                let n1 = min(c.t, (p - 1) / s + 1)
                                let a = ConvTranspose1dShape(inChannels: c.cin, outChannels: c.cout, inLength: n1, kernelSize: 2 * s, stride: s,
                                                             trimLeft: c.trimLeft, trimRight: (n1 + 1) * s - p)
                                convTranspose1dWinogradForward(out: yp.baseAddress!, x: xp.baseAddress!, weights: packed, shape: a, inputELU: 1,
                                                               inputRowStride: c.t, outputRowStride: outLen, firstInputIndex: 0)
                                let n2 = c.t - u0
                                let b = ConvTranspose1dShape(inChannels: c.cin, outChannels: c.cout, inLength: n2, kernelSize: 2 * s, stride: s,
                                                             trimLeft: p - u0 * s, trimRight: c.trimRight)
                                convTranspose1dWinogradForward(out: yp.baseAddress! + (p - c.trimLeft), x: xp.baseAddress! + u0, weights: packed,
                                                               shape: b, inputELU: 1, inputRowStride: c.t, outputRowStride: outLen,
                                                               firstInputIndex: u0)
                            }
                        }
                    }
                    XCTAssertEqual(parts, one, "\(c): split at position \(p) (u0 \(u0)), \(threads) threads")
                }
            }
        }
    }

    func testAppliesOnlyToTwoTapLayers() {
        XCTAssertTrue(WinogradConvWeights.applies(kernelSize: 16, stride: 8))
        XCTAssertTrue(WinogradConvWeights.applies(kernelSize: 4, stride: 2))
        XCTAssertFalse(WinogradConvWeights.applies(kernelSize: 2, stride: 1))
        XCTAssertFalse(WinogradConvWeights.applies(kernelSize: 7, stride: 1))
        XCTAssertFalse(WinogradConvWeights.applies(kernelSize: 8, stride: 4, dilation: 2))
        XCTAssertFalse(WinogradConvWeights.applies(kernelSize: 3, stride: 2))
    }
}
