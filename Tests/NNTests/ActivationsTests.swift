import XCTest
import Foundation
import NN
import TestSupport

/// The vectorized exp-based activations against Double references: ≤ 2 ulp (Float has 24-bit
/// significands; 2 ulp ≈ 2.4e-7 relative), far inside the 1e-5 relative tolerance the layers use.
final class ActivationsTests: XCTestCase {
    /// Inputs covering the ranges that matter: a dense grid, tiny magnitudes, signed zeros, extremes.
    func inputs() -> [Float] {
        var xs: [Float] = stride(from: -30.0, through: 30.0, by: 0.0137).map { Float($0) }
        for e in -40...2 { let v = Float(pow(2.0, Double(e))); xs += [v, -v, v * 1.3, -v * 1.7] }
        xs += [0, -0.0, 88, -88, 100, -100, -104, 1e-30, -1e-30, .leastNormalMagnitude]
        return xs  // count not a multiple of 8: exercises the tail
    }

    /// Distance in units of the last place of `ref` (with a floor at the smallest normal).
    func ulps(_ a: Float, _ ref: Double) -> Double {
        let r = Float(ref)
        let ulp = Double(max(abs(r), Float.leastNormalMagnitude).ulp)
        return abs(Double(a) - ref) / ulp
    }

    func check(_ name: String, _ f: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
               _ ref: (Double) -> Double, maxUlps: Double) {
        let xs = inputs()
        var ys = [Float](repeating: 0, count: xs.count)
        f(&ys, xs, xs.count)
        var worst = 0.0, at: Float = 0
        for i in 0..<xs.count {
            let u = ulps(ys[i], ref(Double(xs[i])))
            if u > worst { worst = u; at = xs[i] }
        }
        XCTAssertLessThanOrEqual(worst, maxUlps, "\(name): worst \(worst) ulp at x = \(at)")
    }

    func testELUWithinTwoUlp() {
        for alpha: Float in [1, 0.3] {
            check("elu(\(alpha))", { eluForward(out: $0, x: $1, count: $2, alpha: alpha) },
                  { $0 > 0 ? $0 : Double(alpha) * expm1($0) }, maxUlps: 2)
        }
    }

    func testSigmoidAndTanhWithinTwoUlp() {
        check("sigmoid", { sigmoidForward(out: $0, x: $1, count: $2) }, { 1 / (1 + exp(-$0)) }, maxUlps: 2)
        check("tanh", { tanhForward(out: $0, x: $1, count: $2) }, { tanh($0) }, maxUlps: 2)
    }

    func testReferencesAgreeWithFastPaths() {
        let xs = inputs()
        var a = [Float](repeating: 0, count: xs.count), b = a
        eluForward(out: &a, x: xs, count: xs.count, alpha: 0.7)
        eluForwardReference(out: &b, x: xs, count: xs.count, alpha: 0.7)
        XCTAssertNil(closeness(a, b, rtol: 3e-7, atol: 1e-30))
        sigmoidForward(out: &a, x: xs, count: xs.count)
        sigmoidForwardReference(out: &b, x: xs, count: xs.count)
        XCTAssertNil(closeness(a, b, rtol: 3e-7, atol: 1e-30))
        tanhForward(out: &a, x: xs, count: xs.count)
        tanhForwardReference(out: &b, x: xs, count: xs.count)
        XCTAssertNil(closeness(a, b, rtol: 3e-7, atol: 1e-30))
    }

    func testSpecialValues() {
        let xs: [Float] = [.nan, .infinity, -.infinity, -0.0, 0]
        var y = [Float](repeating: 0, count: xs.count)
        eluForward(out: &y, x: xs, count: xs.count)
        XCTAssertTrue(y[0].isNaN)
        XCTAssertEqual(y[1], .infinity)
        XCTAssertEqual(y[2], -1)
        XCTAssertEqual(y[3], 0)
        tanhForward(out: &y, x: xs, count: xs.count)
        XCTAssertTrue(y[0].isNaN)
        XCTAssertEqual(Array(y[1...4]), [1, -1, 0, 0])
        sigmoidForward(out: &y, x: xs, count: xs.count)
        XCTAssertTrue(y[0].isNaN)
        XCTAssertEqual(y[1], 1)
        XCTAssertEqual(y[2], 0, accuracy: 1e-37)
        XCTAssertEqual(y[4], 0.5)
    }

    func testInPlaceTensorAndThreadCounts() {
        var rng = SeededRNG(seed: 3)
        let x = Tensor(shape: [3, 5, 40001], data: rng.floats(3 * 5 * 40001, -6, 6))
        let one = Parallel.withThreads(1) { elu(x) }
        let two = Parallel.withThreads(2) { elu(x) }
        XCTAssertEqual(one, two)
        var inPlace = x.data
        inPlace.withUnsafeMutableBufferPointer { eluForward(out: $0.baseAddress!, x: $0.baseAddress!, count: $0.count) }
        XCTAssertEqual(inPlace, one.data)
        XCTAssertEqual(one.shape, x.shape)
        XCTAssertEqual(one.data[7], x.data[7] > 0 ? x.data[7] : expm1(x.data[7]), accuracy: 1e-6)
    }

    /// torch.nn.functional.elu on a grid over [−12, 6]: both compute expm1 to ~1 ulp, so 1e-6 relative.
    func testMatchesPyTorchELU() throws {
        let (f, cases) = try NNFixtures.group("elu")
        for c in cases {
            let y = elu(f.tensor(c, "x")!, alpha: Float(c["alpha"] as! Double))
            if let m = closeness(y.data, f.tensor(c, "y")!.data, rtol: 1e-6, atol: 0) { XCTFail("alpha \(c["alpha"]!): \(m)") }
        }
    }
}
