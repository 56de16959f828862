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

    func testRangesAreContiguousAndAtLeastMinChunk() {
        for threads in [2, 3] {
            for (count, minChunk) in [(1000, 1), (1000, 7), (37, 5), (8, 3)] {
                var ranges: [Range<Int>] = []
                let lock = NSLock()
                Parallel.withThreads(threads) {
                    parallelFor(count, minChunk: minChunk) { r in lock.lock(); ranges.append(r); lock.unlock() }
                }
                ranges.sort { $0.lowerBound < $1.lowerBound }
                XCTAssertEqual(ranges.first?.lowerBound, 0)
                XCTAssertEqual(ranges.last?.upperBound, count)
                for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
                XCTAssertTrue(ranges.allSatisfy { $0.count >= minChunk }, "threads \(threads), count \(count), minChunk \(minChunk): \(ranges)")
                XCTAssertGreaterThan(ranges.count, 1, "work of \(count) items was not split")
            }
        }
    }
}
