import XCTest
import NN

final class ParallelTests: XCTestCase {
    func testCoversEveryIndexOnceForAnyThreadCount() {
        for threads in [1, 2, 3, 7] {
            for count in [0, 1, 2, 5, 64, 1001] {
                let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
                hits.initialize(repeating: 0)
                defer { hits.deallocate() }
                Parallel.withThreads(threads) {
                    parallelFor(count) { r in for i in r { hits[i] += 1 } }
                }
                XCTAssertEqual(Array(hits.prefix(count)), [Int](repeating: 1, count: count), "threads \(threads), count \(count)")
            }
        }
    }

    func testMinChunkKeepsSmallJobsOnOneRange() {
        var ranges = 0
        let lock = NSLock()
        Parallel.withThreads(4) {
            parallelFor(10, minChunk: 100) { _ in lock.lock(); ranges += 1; lock.unlock() }
        }
        XCTAssertEqual(ranges, 1)
    }
}
