import XCTest
import DSP

final class DSPParallelTests: XCTestCase {
    func testThreadCountIsAtLeastOneAndRestored() {
        let before = DSPThreads.threadCount
        XCTAssertGreaterThanOrEqual(before, 1)
        DSPThreads.withThreads(0) { XCTAssertEqual(DSPThreads.threadCount, 1) }
        DSPThreads.withThreads(3) { XCTAssertEqual(DSPThreads.threadCount, 3) }
        XCTAssertEqual(DSPThreads.threadCount, before)
    }
}
