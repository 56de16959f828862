import XCTest
import DSP
import Metrics

final class MetricsErrorTests: XCTestCase {
    func testDescriptionsSayWhatToDo() {
        let m = "\(MetricsError.lengthMismatch(reference: 100, estimate: 90))"
        XCTAssert(m.contains("100") && m.contains("90") && m.contains("same length"), m)
        XCTAssertEqual("\(MetricsError.channelLayout(samples: 5, channels: 2))", "5 samples cannot be split into 2 equal channels")
        XCTAssertEqual("\(MetricsError.nonFinite(signal: "estimate"))", "the estimate contains NaN or infinite samples")
        let t = "\(MetricsError.transform(metric: "log-mel distance", .signalTooShort(length: 3, required: 513, reason: "r")))"
        XCTAssert(t.hasPrefix("log-mel distance: signal too short"), t)
    }

    func testMetricResultNeverPrintsNaN() {
        XCTAssertEqual(MetricResult.value(1.5).value, 1.5)
        XCTAssertNil(MetricResult.undefined(.silentEstimate).value)
        XCTAssertEqual("\(MetricResult.value(.infinity))", "+inf")
        XCTAssertEqual("\(MetricResult.value(-.infinity))", "-inf")
        XCTAssertEqual("\(MetricResult.undefined(.emptySignal))", "undefined (the signals are empty)")
    }
}
