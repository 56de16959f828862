import XCTest
import DSP

final class DSPErrorTests: XCTestCase {
    func testDescriptionsNameTheValuesAndTheRule() {
        XCTAssertEqual("\(DSPError.invalidParameter(name: "hop length", value: "0", reason: "must be at least 1"))",
                       "invalid hop length 0: must be at least 1")
        let short = "\(DSPError.signalTooShort(length: 10, required: 513, reason: "reflect padding"))"
        XCTAssert(short.contains("10 samples") && short.contains("513") && short.contains("reflect"), short)
        let nola = "\(DSPError.windowEnvelopeVanishes(sample: 64, value: 0))"
        XCTAssert(nola.contains("sample 64") && nola.contains("NOLA"), nola)
        XCTAssert("\(DSPError.planCreationFailed(size: 7, howMany: 1, kind: "r2c"))".contains("r2c plan of size 7"))
        XCTAssert("\(DSPError.shapeMismatch(what: "STFT input", expected: "a", actual: "b"))".hasPrefix("STFT input"))
    }
}
