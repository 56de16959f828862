import Foundation
import XCTest
import Metrics
import TestSupport

final class SignalMetricsTests: XCTestCase {
    private func channel(_ x: [Float], _ c: Int, of channels: Int) -> [Float] {
        let t = x.count / channels
        return Array(x[c * t..<(c + 1) * t])
    }

    func testMatchNumpyReference() throws {
        let f = try MetricsFixture.load("metrics_pair")
        let ref = f.array("reference"), est = f.array("estimate")
        for c in 0..<2 {
            let r = channel(ref, c, of: 2), e = channel(est, c, of: 2)
            let snr = try XCTUnwrap(SignalMetrics.snr(reference: r, estimate: e).value)
            XCTAssertEqual(snr, f.scalars["snr_\(c)"]!, accuracy: 1e-4 * abs(f.scalars["snr_\(c)"]!))
            let si = try XCTUnwrap(SignalMetrics.siSDR(reference: r, estimate: e).value)
            XCTAssertEqual(si, f.scalars["si_sdr_\(c)"]!, accuracy: 1e-4 * abs(f.scalars["si_sdr_\(c)"]!))
            let raw = try XCTUnwrap(SignalMetrics.siSDR(reference: r, estimate: e, zeroMean: false).value)
            XCTAssertEqual(raw, f.scalars["si_sdr_nozeromean_\(c)"]!, accuracy: 1e-4 * abs(f.scalars["si_sdr_nozeromean_\(c)"]!))
        }
    }

    func testKnownValuesAndInvariances() throws {
        let ref: [Float] = (0..<1000).map { Float(sin(Double($0) * 0.05)) }
        let noisy = ref.enumerated().map { $0.element + ($0.offset % 2 == 0 ? 0.01 : -0.01) }
        var s = 0.0; for x in ref { s += Double(x) * Double(x) }
        XCTAssertEqual(try SignalMetrics.snr(reference: ref, estimate: noisy).value!, 10 * log10(s / (1000 * 1e-4)), accuracy: 1e-3)
        // SI-SDR ignores the estimate's scale and (zero-mean) offset; SNR does not.
        let a = try SignalMetrics.siSDR(reference: ref, estimate: noisy).value!
        XCTAssertEqual(try SignalMetrics.siSDR(reference: ref, estimate: noisy.map { 3 * $0 + 0.5 }).value!, a, accuracy: 1e-6)
        XCTAssertNotEqual(try SignalMetrics.snr(reference: ref, estimate: noisy.map { 3 * $0 }).value!, a, accuracy: 1)
        // Exact estimates: +∞, not NaN; an orthogonal estimate: −∞.
        XCTAssertEqual(try SignalMetrics.snr(reference: ref, estimate: ref), .value(.infinity))
        XCTAssertEqual(try SignalMetrics.siSDR(reference: [1, -1, 1, -1], estimate: [2, -2, 2, -2]), .value(.infinity))
        XCTAssertEqual(try SignalMetrics.siSDR(reference: [1, -1, 1, -1], estimate: [1, 1, -1, -1]), .value(-.infinity))
    }

    func testUndefinedCasesSaySoInsteadOfNaN() throws {
        let silence = [Float](repeating: 0, count: 100)
        let tone: [Float] = (0..<100).map { Float(sin(Double($0))) }
        XCTAssertEqual(try SignalMetrics.snr(reference: silence, estimate: tone), .undefined(.silentReference))
        XCTAssertEqual(try SignalMetrics.siSDR(reference: silence, estimate: tone), .undefined(.silentReference))
        XCTAssertEqual(try SignalMetrics.siSDR(reference: tone, estimate: silence), .undefined(.silentEstimate))
        // A constant (DC-only) estimate is silent after mean removal.
        XCTAssertEqual(try SignalMetrics.siSDR(reference: tone, estimate: [Float](repeating: 0.3, count: 100)), .undefined(.silentEstimate))
        XCTAssertEqual(try SignalMetrics.snr(reference: [], estimate: []), .undefined(.emptySignal))
        // Silent estimate of a real reference: SNR is defined (0 dB: the error is the reference).
        XCTAssertEqual(try SignalMetrics.snr(reference: tone, estimate: silence).value!, 0, accuracy: 1e-12)
        XCTAssertEqual("\(MetricResult.undefined(.silentReference))", "undefined (the reference is silent)")
    }

    func testBadInputThrows() {
        XCTAssertThrowsError(try SignalMetrics.snr(reference: [1, 2], estimate: [1])) {
            XCTAssertEqual($0 as? MetricsError, .lengthMismatch(reference: 2, estimate: 1))
        }
        XCTAssertThrowsError(try SignalMetrics.siSDR(reference: [1, .nan], estimate: [1, 2])) {
            XCTAssertEqual($0 as? MetricsError, .nonFinite(signal: "reference"))
        }
        XCTAssertThrowsError(try SignalMetrics.snr(reference: [1, 2], estimate: [1, .infinity]))
    }
}
