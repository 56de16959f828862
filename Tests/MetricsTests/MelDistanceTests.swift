import XCTest
import Metrics
import TestSupport

final class MelDistanceTests: XCTestCase {
    func testMatchesTorchLibrosaReference() throws {
        let f = try MetricsFixture.load("metrics_pair")
        let ref = f.array("reference"), est = f.array("estimate")
        let clamp = try LogMelDistance()(reference: ref, estimate: est, channels: 2)
        XCTAssertEqual(clamp, f.scalars["logmel_clamp"]!, accuracy: 1e-4 * f.scalars["logmel_clamp"]!)
        let add = try LogMelDistance(floor: .add)(reference: ref, estimate: est, channels: 2)
        XCTAssertEqual(add, f.scalars["logmel_add"]!, accuracy: 1e-4 * f.scalars["logmel_add"]!)
    }

    func testSymmetricZeroOnIdenticalAndFiniteOnSilence() throws {
        var rng = SeededRNG(seed: 41)
        let a = rng.floats(4000), b = rng.floats(4000)
        let d = try LogMelDistance()
        XCTAssertEqual(try d(reference: a, estimate: a), 0)
        XCTAssertEqual(try d(reference: a, estimate: b), try d(reference: b, estimate: a), accuracy: 1e-12)
        let silent = [Float](repeating: 0, count: 4000)
        XCTAssertEqual(try d(reference: silent, estimate: silent), 0)
        let toSilence = try d(reference: a, estimate: silent)
        XCTAssert(toSilence.isFinite && toSilence > 1, "\(toSilence)")
    }

    func testBadInputThrows() throws {
        let d = try LogMelDistance()
        XCTAssertThrowsError(try d(reference: [Float](repeating: 0, count: 400), estimate: [Float](repeating: 0, count: 400))) {
            XCTAssert("\($0)".contains("log-mel"), "\($0)")
        }
        XCTAssertThrowsError(try d(reference: [1, 2, 3], estimate: [1, 2, 3], channels: 2))
        XCTAssertThrowsError(try LogMelDistance(epsilon: 0))
    }
}
