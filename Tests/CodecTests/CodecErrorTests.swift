import XCTest
import Codec

final class CodecErrorTests: XCTestCase {
    func testInvalidCodeNamesFileStageAndRange() {
        let e = CodecError.invalidCode(path: "x.ecdc", stage: 2, frame: 10, code: 1024, bins: 1024)
        XCTAssertTrue(e.description.contains("x.ecdc"))
        XCTAssertTrue(e.description.contains("1024 codes"))
    }
}
