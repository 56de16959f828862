import XCTest
import DSP
import Metrics
import ModelFile
import NN
import TestSupport
import Training

/// Loads Tests/Fixtures/training/<name>.npy.
func trainingFixture(_ name: String) throws -> TensorData {
    try Npy.readFloat(path: RepoPaths.fixtures.appendingPathComponent("training/\(name).npy").path)
}

/// ‖a − b‖∞ / ‖b‖∞ (gradients: elements near zero are judged against the largest).
func relativeMaxError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var err = 0.0, scale = 0.0
    for i in 0..<a.count { err = max(err, abs(Double(a[i]) - Double(b[i]))); scale = max(scale, abs(Double(b[i]))) }
    return err / scale
}

/// ‖a − b‖₂ / ‖b‖₂.
func relativeL2Error(_ a: [Float], _ b: [Float]) -> Double {
    var e = 0.0, n = 0.0
    for i in 0..<a.count { let d = Double(a[i]) - Double(b[i]); e += d * d; n += Double(b[i]) * Double(b[i]) }
    return (e / n).squareRoot()
}

final class LossesTests: XCTestCase {
    // MARK: torch.autograd fixture (scripts/make-loss-fixtures.py)

    func testValuesAndGradientsMatchTorch() throws {
        let p = try trainingFixture("loss_prediction"), y = try trainingFixture("loss_target")
        let v = try trainingFixture("loss_values").values.map(Double.init)
        let pred = Tensor(shape: p.shape, data: p.values), target = Tensor(shape: y.shape, data: y.values)
        func close(_ a: Double, _ b: Double, _ what: String) { XCTAssertEqual(a, b, accuracy: 1e-4 * abs(b), what) }

        var g = Tensor.zeros(pred.shape)
        close(L1WaveformLoss().backward(prediction: pred, target: target, gradient: &g), v[0], "L1")
        XCTAssertLessThan(relativeMaxError(g.data, try trainingFixture("loss_grad_l1").values), 1e-6)

        let mr = try MRSTFTLoss()
        g = Tensor.zeros(pred.shape)
        let r = try mr.backward(prediction: pred, target: target, gradient: &g)
        close(r.loss, v[1], "MR-STFT")
        for i in 0..<3 { close(r.spectralConvergence[i], v[2 + i], "SC \(i)"); close(r.logMagnitude[i], v[5 + i], "LM \(i)") }
        // The log-magnitude term weighs each bin by 1/X: bins far below their frame's energy carry most of the
        // gradient and only float32's absolute precision. torch's own float32 gradient of this fixture is off
        // its float64 one by 2.3e-4 (max and L2, relative); ours must stay within that order.
        let ref = try trainingFixture("loss_grad_mrstft").values
        let eSTFT = relativeMaxError(g.data, ref), l2 = relativeL2Error(g.data, ref)
        print("MR-STFT gradient vs torch float64: max-relative \(eSTFT), L2-relative \(l2)")
        XCTAssertLessThan(eSTFT, 1e-3, "MR-STFT gradient")
        XCTAssertLessThan(l2, 1e-3, "MR-STFT gradient")  // float32 on low-energy bins: 4–5.4e-4 depending on the FFTW plan

        let mel = try MultiScaleMelLoss()
        g = Tensor.zeros(pred.shape)
        let m = try mel.backward(prediction: pred, target: target, gradient: &g)
        close(m.loss, v[8], "mel")
        for s in 0..<7 { close(m.perScale[s], v[9 + s], "mel scale \(s)") }
        let eMel = relativeMaxError(g.data, try trainingFixture("loss_grad_mel").values)
        print("mel gradient vs torch float64: max-relative \(eMel)")
        XCTAssertLessThan(eMel, 1e-4, "mel gradient")
    }

    func testSTFTLossValueEqualsMetrics() throws {
        var rng = SeededRNG(seed: 11)
        let B = 2, T = 2500
        let y = rng.floats(B * T), p = y.map { $0 * 0.7 + 0.01 }
        let ours = try MRSTFTLoss()(prediction: Tensor(shape: [B, 1, T], data: p), target: Tensor(shape: [B, 1, T], data: y))
        let metric = try Metrics.MultiResolutionSTFTLoss()(reference: y, estimate: p, channels: B)
        // Rows are summed separately, then added: equal up to the order of Double additions.
        XCTAssertEqual(ours.loss, metric.loss, accuracy: 1e-12 * metric.loss)
        for r in 0..<3 {
            XCTAssertEqual(ours.spectralConvergence[r], metric.spectralConvergence[r], accuracy: 1e-12)
            XCTAssertEqual(ours.logMagnitude[r], metric.logMagnitude[r], accuracy: 1e-12)
        }
        // One row: the same sums in the same order, bit for bit.
        let one = try MRSTFTLoss()(prediction: Tensor(shape: [1, T], data: Array(p[..<T])), target: Tensor(shape: [1, T], data: Array(y[..<T])))
        let oneMetric = try Metrics.MultiResolutionSTFTLoss()(reference: Array(y[..<T]), estimate: Array(p[..<T]))
        XCTAssertEqual(one.loss, oneMetric.loss)
        XCTAssertEqual(one.spectralConvergence, oneMetric.spectralConvergence)
        XCTAssertEqual(one.logMagnitude, oneMetric.logMagnitude)
    }

    func testLossesDoNotDependOnTheThreadCount() throws {
        var rng = SeededRNG(seed: 15)
        let shape = [3, 1, 2200]
        let y = Tensor(shape: shape, data: rng.floats(6600)), p = Tensor(shape: shape, data: rng.floats(6600))
        let mr = try MRSTFTLoss(), mel = try MultiScaleMelLoss()
        func run(_ n: Int) throws -> (Double, Double, [Float]) {
            try Parallel.withThreads(n) {
                try DSPThreads.withThreads(n) {
                    var g = Tensor.zeros(shape)
                    let a = try mr.backward(prediction: p, target: y, gradient: &g).loss
                    let b = try mel.backward(prediction: p, target: y, gradient: &g).loss
                    return (a, b, g.data)
                }
            }
        }
        let one = try run(1), two = try run(2)
        XCTAssertEqual(one.0, two.0); XCTAssertEqual(one.1, two.1); XCTAssertEqual(one.2, two.2)
    }

    // MARK: finite differences of Double references on small sizes

    /// STFT magnitudes in Double (direct DFT), [C, F, N].
    private func referenceMagnitudes(_ x: [Double], channels: Int, config: STFTConfig, floor: Double) throws -> [Double] {
        // referenceForward takes Float input; rescale so the Double perturbations survive: split x = hi + lo.
        let hi = x.map { Float($0) }, lo = zip(x, hi).map { Float($0 - Double($1)) }
        let a = try STFT.referenceForward(hi, channels: channels, config: config)
        let b = try STFT.referenceForward(lo, channels: channels, config: config)
        return (0..<a.real.count).map { i in
            let re = a.real[i] + b.real[i], im = a.imag[i] + b.imag[i]
            return max(re * re + im * im, floor).squareRoot()
        }
    }

    private func referenceSTFTLoss(_ p: [Double], _ y: [Double], channels: Int, resolutions: [MRSTFTLoss.Resolution]) throws -> Double {
        var total = 0.0
        for r in resolutions {
            let cfg = STFTConfig(fftSize: r.fftSize, hopLength: r.hopLength, windowLength: r.windowLength)
            let X = try referenceMagnitudes(p, channels: channels, config: cfg, floor: 1e-8)
            let Y = try referenceMagnitudes(y, channels: channels, config: cfg, floor: 1e-8)
            var d2 = 0.0, y2 = 0.0, l = 0.0
            for i in 0..<X.count { d2 += (Y[i] - X[i]) * (Y[i] - X[i]); y2 += Y[i] * Y[i]; l += abs(log(Y[i]) - log(X[i])) }
            total += (d2 / y2).squareRoot() + l / Double(X.count)
        }
        return total / Double(resolutions.count)
    }

    private func referenceMelLoss(_ p: [Double], _ y: [Double], channels: Int, scales: [MultiScaleMelLoss.Scale]) throws -> Double {
        var total = 0.0
        for s in scales {
            let cfg = STFTConfig(fftSize: s.windowLength, hopLength: s.windowLength / 4)
            let fb = try MelFilterbank.librosa(sampleRate: 24000, fftSize: s.windowLength, melCount: s.melCount)
            let X = try referenceMagnitudes(p, channels: channels, config: cfg, floor: 0)
            let Y = try referenceMagnitudes(y, channels: channels, config: cfg, floor: 0)
            let F = fb.binCount, N = X.count / (channels * F)
            var sum = 0.0
            for c in 0..<channels { for m in 0..<s.melCount { for t in 0..<N {
                var mx = 0.0, my = 0.0
                for k in 0..<F { let w = Double(fb.weights[m * F + k]); mx += w * X[(c * F + k) * N + t]; my += w * Y[(c * F + k) * N + t] }
                sum += abs(log10(max(mx, 1e-5)) - log10(max(my, 1e-5)))
            } } }
            total += sum / Double(channels * s.melCount * N)
        }
        return total
    }

    /// Central differences (h = 1e-6) of a Double loss at a few samples, including both ends (the
    /// reflect-padding fold) and the middle.
    private func finiteDifferences(_ p: [Float], T: Int, _ loss: ([Double]) throws -> Double) throws -> [(Int, Double)] {
        let base = p.map(Double.init)
        var out = [(Int, Double)]()
        for i in [0, 1, 2, 7, T / 2, T - 2, T - 1, T, T + 3, 2 * T - 1] {
            var a = base, b = base
            a[i] += 1e-6; b[i] -= 1e-6
            out.append((i, (try loss(a) - loss(b)) / 2e-6))
        }
        return out
    }

    func testSTFTLossGradientMatchesFiniteDifferences() throws {
        var rng = SeededRNG(seed: 12)
        let T = 90
        let y = rng.floats(2 * T), p = zip(y, rng.floats(2 * T, -0.3, 0.3)).map { $0 + $1 }
        let res = [MRSTFTLoss.Resolution(fftSize: 32, hopLength: 8, windowLength: 20),
                   MRSTFTLoss.Resolution(fftSize: 16, hopLength: 5, windowLength: 16)]
        let loss = try MRSTFTLoss(resolutions: res)
        var g = Tensor.zeros([2, T])
        _ = try loss.backward(prediction: Tensor(shape: [2, T], data: p), target: Tensor(shape: [2, T], data: y), gradient: &g)
        let yd = y.map(Double.init)
        let scale = g.data.map { abs(Double($0)) }.max()!
        for (i, fd) in try finiteDifferences(p, T: T, { try self.referenceSTFTLoss($0, yd, channels: 2, resolutions: res) }) {
            XCTAssertEqual(Double(g.data[i]), fd, accuracy: 1e-4 * scale, "sample \(i)")
        }
    }

    func testMelLossGradientMatchesFiniteDifferences() throws {
        var rng = SeededRNG(seed: 13)
        let T = 120
        let y = rng.floats(2 * T), p = zip(y, rng.floats(2 * T, -0.3, 0.3)).map { $0 + $1 }
        let scales = [MultiScaleMelLoss.Scale(windowLength: 32, melCount: 5), .init(windowLength: 64, melCount: 10)]
        let loss = try MultiScaleMelLoss(scales: scales)
        var g = Tensor.zeros([2, T])
        _ = try loss.backward(prediction: Tensor(shape: [2, T], data: p), target: Tensor(shape: [2, T], data: y), gradient: &g)
        let yd = y.map(Double.init)
        let scale = g.data.map { abs(Double($0)) }.max()!
        for (i, fd) in try finiteDifferences(p, T: T, { try self.referenceMelLoss($0, yd, channels: 2, scales: scales) }) {
            XCTAssertEqual(Double(g.data[i]), fd, accuracy: 1e-4 * scale, "sample \(i)")
        }
    }

    func testBackwardAccumulatesWithScale() throws {
        var rng = SeededRNG(seed: 14)
        let shape = [2, 1, 1500]
        let y = Tensor(shape: shape, data: rng.floats(3000)), p = Tensor(shape: shape, data: rng.floats(3000))
        let start = Tensor(shape: shape, data: rng.floats(3000))
        let mel = try MultiScaleMelLoss(scales: [.init(windowLength: 256, melCount: 40)])
        var fresh = Tensor.zeros(shape), acc = start
        let v1 = try mel.backward(prediction: p, target: y, gradient: &fresh)
        let v2 = try mel.backward(prediction: p, target: y, gradient: &acc, scale: 0.5)
        XCTAssertEqual(v1, v2)
        XCTAssertEqual(v1.loss, try mel(prediction: p, target: y).loss)
        for i in 0..<3000 { XCTAssertEqual(acc.data[i], start.data[i] + 0.5 * fresh.data[i], accuracy: 1e-6) }
        XCTAssertGreaterThan(fresh.data.map(abs).max()!, 0)
        XCTAssertEqual(try MRSTFTLoss()(prediction: y, target: y).loss, 0)
        XCTAssertThrowsError(try MRSTFTLoss(resolutions: []))
    }
}
