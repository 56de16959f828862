import XCTest
import DSP
import TestSupport

final class STFTAdjointTests: XCTestCase {
    /// ⟨STFT x, G⟩ = ⟨x, STFTᵀ G⟩ for random x and G (in Double), over the configurations that change the
    /// adjoint: reflect and constant centering (the fold), no centering, a window shorter than n_fft, odd
    /// n_fft (no Nyquist bin), normalization, hops that do and do not divide n.
    func testBackwardIsTheAdjointOfForward() throws {
        let configs: [STFTConfig] = [
            STFTConfig(fftSize: 16, hopLength: 4),
            STFTConfig(fftSize: 16, hopLength: 5, windowLength: 10, padMode: .constant),
            STFTConfig(fftSize: 15, hopLength: 3, center: false),
            STFTConfig(fftSize: 12, hopLength: 7, windowLength: 9, normalized: true),
            STFTConfig(fftSize: 64, hopLength: 16, windowLength: 40),
        ]
        var rng = SeededRNG(seed: 5)
        for cfg in configs {
            let stft = try STFT(cfg)
            let C = 2, T = 53
            let x = rng.floats(C * T)
            let X = try stft.forward(x, channels: C)
            let gr = rng.floats(X.real.count), gi = rng.floats(X.imag.count)
            var lhs = 0.0
            for i in 0..<X.real.count { lhs += Double(X.real[i]) * Double(gr[i]) + Double(X.imag[i]) * Double(gi[i]) }
            var gx = [Float](repeating: 0, count: C * T)
            try stft.backward(realGradient: gr, imagGradient: gi, channels: C, signalLength: T, gradient: &gx)
            var rhs = 0.0
            for i in 0..<x.count { rhs += Double(x[i]) * Double(gx[i]) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-5 * max(1, abs(lhs)), "\(cfg)")
        }
    }

    func testBackwardAccumulatesAndIsThreadCountIndependent() throws {
        let stft = try STFT(fftSize: 512, hopLength: 50, windowLength: 240)
        var rng = SeededRNG(seed: 6)
        let C = 3, T = 3001
        let N = try stft.frameCount(signalLength: T)
        let gr = rng.floats(C * 257 * N), gi = rng.floats(C * 257 * N)
        let start = rng.floats(C * T)
        var one = start, two = start
        try DSPThreads.withThreads(1) {
            try stft.backward(realGradient: gr, imagGradient: gi, channels: C, signalLength: T, gradient: &one)
        }
        try DSPThreads.withThreads(2) {
            try stft.backward(realGradient: gr, imagGradient: gi, channels: C, signalLength: T, gradient: &two)
        }
        XCTAssertEqual(one, two)
        var fresh = [Float](repeating: 0, count: C * T)
        try stft.backward(realGradient: gr, imagGradient: gi, channels: C, signalLength: T, gradient: &fresh)
        for i in stride(from: 0, to: C * T, by: 97) { XCTAssertEqual(one[i], start[i] + fresh[i], accuracy: 1e-5) }
        XCTAssertThrowsError(try stft.backward(realGradient: gr, imagGradient: [], channels: C, signalLength: T, gradient: &fresh))
    }
}
