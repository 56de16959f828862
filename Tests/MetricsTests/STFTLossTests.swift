import XCTest
import Metrics
import TestSupport

final class STFTLossTests: XCTestCase {
    func testMatchesAuralossMultiResolutionSTFTLoss() throws {
        let f = try MetricsFixture.load("metrics_pair")
        let ref = f.array("reference"), est = f.array("estimate")
        let loss = try MultiResolutionSTFTLoss()
        let r = try loss(reference: ref, estimate: est, channels: 2)
        // auraloss runs in float32; its sums over ~10⁵ bins carry ~1e-6 relative error.
        XCTAssertEqual(r.loss, f.scalars["mrstft"]!, accuracy: 1e-4 * f.scalars["mrstft"]!)
        for i in 0..<3 {
            XCTAssertEqual(r.spectralConvergence[i], f.scalars["mrstft_sc_\(i)"]!, accuracy: 1e-4 * f.scalars["mrstft_sc_\(i)"]!)
            XCTAssertEqual(r.logMagnitude[i], f.scalars["mrstft_logmag_\(i)"]!, accuracy: 1e-4 * f.scalars["mrstft_logmag_\(i)"]!)
        }
        let t = ref.count / 2
        let mono = try loss(reference: Array(ref[t...]), estimate: Array(est[t...]))
        XCTAssertEqual(mono.loss, f.scalars["mrstft_channel1"]!, accuracy: 1e-4 * f.scalars["mrstft_channel1"]!)
    }

    func testZeroForIdenticalAndFiniteForSilence() throws {
        var rng = SeededRNG(seed: 31)
        let x = rng.floats(3000)
        let loss = try MultiResolutionSTFTLoss()
        XCTAssertEqual(try loss(reference: x, estimate: x).loss, 0)
        let silent = [Float](repeating: 0, count: 3000)
        let r = try loss(reference: silent, estimate: x)
        XCTAssert(r.loss.isFinite && r.loss > 1, "\(r)")
        XCTAssertEqual(try loss(reference: silent, estimate: silent).loss, 0)
    }

    func testShortSignalsAndMismatchesThrow() throws {
        let loss = try MultiResolutionSTFTLoss()
        let short = [Float](repeating: 0.1, count: 1024)
        XCTAssertThrowsError(try loss(reference: short, estimate: short)) { XCTAssert("\($0)".contains("n_fft 2048"), "\($0)") }
        XCTAssertThrowsError(try loss(reference: short, estimate: short + [0]))
        XCTAssertThrowsError(try MultiResolutionSTFTLoss(resolutions: []))
        XCTAssertThrowsError(try MultiResolutionSTFTLoss(resolutions: [.init(fftSize: 64, hopLength: 16, windowLength: 65)]))
    }
}
