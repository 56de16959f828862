import XCTest
import DSP

final class WindowTests: XCTestCase {
    func testPeriodicHannMatchesDefinition() {
        // ref: torch.hann_window(8, periodic=True) = [0, .1464, .5, .8536, 1, .8536, .5, .1464]
        let w = Window.hann(8)
        let expected: [Float] = [0, 0.14644661, 0.5, 0.85355339, 1, 0.85355339, 0.5, 0.14644661]
        for i in 0..<8 { XCTAssertEqual(w[i], expected[i], accuracy: 1e-6) }
        let s = Window.hann(5, periodic: false)
        XCTAssertEqual(s[0], 0, accuracy: 1e-7); XCTAssertEqual(s[2], 1, accuracy: 1e-7); XCTAssertEqual(s[4], 0, accuracy: 1e-7)
    }
}
