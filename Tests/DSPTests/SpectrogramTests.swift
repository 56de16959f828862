import XCTest
import DSP

final class SpectrogramTests: XCTestCase {
    func testMagnitudePowerAndLogsFollowTheirFormulas() throws {
        let s = try ComplexSpectrogram(channels: 1, bins: 2, frames: 2, real: [3, 0, 1e-6, -1], imag: [4, 0, 0, 1])
        XCTAssertEqual(s.power().values, [25, 0, 1e-12, 2])
        XCTAssertEqual(s.magnitude().values[0], 5)
        XCTAssertEqual(s.magnitude().values[3], Float(2).squareRoot(), accuracy: 1e-7)
        // auraloss: √max(|X|², 1e-8) floors the zero bin at 1e-4.
        XCTAssertEqual(s.magnitude(powerFloor: 1e-8).values[1], 1e-4, accuracy: 1e-10)
        let m = s.magnitude()
        XCTAssertEqual(m.log10(.clamp(1e-5)).values[0], log10(5), accuracy: 1e-6)
        XCTAssertEqual(m.log10(.clamp(1e-5)).values[1], -5, accuracy: 1e-6)
        XCTAssertEqual(m.log10(.add(1e-5)).values[0], log10(5 + 1e-5), accuracy: 1e-6)
        XCTAssertEqual(m.naturalLog(.clamp(1e-5)).values[0], log(5), accuracy: 1e-6)
        XCTAssertEqual(s.power().powerToDecibels().values[1], -100, accuracy: 1e-4)
        XCTAssertEqual(s.power().powerToDecibels().values[0], 10 * log10(25), accuracy: 1e-5)
        XCTAssertThrowsError(try ComplexSpectrogram(channels: 1, bins: 2, frames: 2, real: [1], imag: [1]))
        XCTAssertThrowsError(try Spectrogram(channels: 2, rows: 2, frames: 2, values: [1, 2]))
    }
}
