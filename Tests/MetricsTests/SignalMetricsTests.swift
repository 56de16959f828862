import XCTest
import Metrics

final class SignalMetricsTests: XCTestCase {
    func testSNRAndSISDROnKnownSignals() {
        let ref: [Float] = (0..<1000).map { Float(sin(Double($0) * 0.05)) }
        let noisy = ref.enumerated().map { $0.element + ($0.offset % 2 == 0 ? 0.01 : -0.01) }
        let snr = SignalMetrics.snr(reference: ref, estimate: noisy)!
        var s = 0.0; for x in ref { s += Double(x * x) }
        XCTAssertEqual(snr, 10 * log10(s / (1000 * 1e-4)), accuracy: 1e-3)
        // SI-SDR is invariant to scaling the estimate.
        let a = SignalMetrics.siSDR(reference: ref, estimate: noisy)!
        let b = SignalMetrics.siSDR(reference: ref, estimate: noisy.map { $0 * 3 })!
        XCTAssertEqual(a, b, accuracy: 1e-6)
        XCTAssertNil(SignalMetrics.siSDR(reference: [Float](repeating: 0, count: 10), estimate: ref.prefix(10).map { $0 }))
    }
}
