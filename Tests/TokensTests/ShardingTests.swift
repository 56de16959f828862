import XCTest
import Foundation
import TestSupport
import Tokens

final class ShardingTests: XCTestCase {
    /// Every path lands in exactly one shard, for several N, and the shards are reasonably balanced.
    func testShardsPartitionTheCorpus() throws {
        let paths = (0..<2000).map { "spk\($0 % 37)/utt_\($0).wav" }
        for n in [1, 2, 3, 7, 16] {
            let shards = try (0..<n).map { try ShardSpec(index: $0, count: n) }
            var sizes = [Int](repeating: 0, count: n)
            for p in paths {
                let owners = shards.filter { $0.contains(p) }
                XCTAssertEqual(owners.count, 1, "\(p) with N=\(n)")
                XCTAssertEqual(owners.first?.index, ShardSpec.shard(of: p, count: n))
                sizes[owners[0].index] += 1
            }
            let mean = Double(paths.count) / Double(n)
            for s in sizes { XCTAssertLessThan(abs(Double(s) - mean), 0.2 * mean + 10, "N=\(n): \(sizes)") }
        }
    }

    /// The shard key is FNV-1a-64 of the relative path's UTF-8, as the Python reference computes it.
    func testHashMatchesReference() throws {
        struct H: Decodable { let path: String; let fnv1a64: String }
        struct F: Decodable { let fnv1a64: [H] }
        let f = try JSONDecoder().decode(F.self, from: Data(contentsOf: RepoPaths.fixtures.appendingPathComponent("tokens/layouts.json")))
        XCTAssertFalse(f.fnv1a64.isEmpty)
        for h in f.fnv1a64 {
            var x = FNV1a64(); x.add(h.path.utf8)
            XCTAssertEqual(x.hex, h.fnv1a64, h.path)
        }
    }

    func testParsingAndEnvironment() throws {
        XCTAssertEqual(try ShardSpec(parsing: "2/5"), try ShardSpec(index: 2, count: 5))
        for bad in ["5/5", "-1/3", "1", "a/b", "1/0"] { XCTAssertThrowsError(try ShardSpec(parsing: bad), bad) }
        XCTAssertNil(try ShardSpec.fromEnvironment([:]))
        XCTAssertEqual(try ShardSpec.fromEnvironment(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"]),
                       try ShardSpec(index: 3, count: 4))
        // --array=1-4: ids relative to the minimum.
        XCTAssertEqual(try ShardSpec.fromEnvironment(["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"]),
                       try ShardSpec(index: 3, count: 4))
        XCTAssertEqual(try ShardSpec.fromEnvironment(["JOB_COMPLETION_INDEX": "1", "NEURALCODEC_SHARD_COUNT": "3"]),
                       try ShardSpec(index: 1, count: 3))
        XCTAssertThrowsError(try ShardSpec.fromEnvironment(["SLURM_ARRAY_TASK_ID": "1"]))
        XCTAssertThrowsError(try ShardSpec.fromEnvironment(["JOB_COMPLETION_INDEX": "1"]))
        XCTAssertThrowsError(try ShardSpec.fromEnvironment(["JOB_COMPLETION_INDEX": "x", "NEURALCODEC_SHARD_COUNT": "3"]))
        XCTAssertEqual(try ShardSpec(index: 1, count: 4).manifestName, "manifest.shard-1-of-4.jsonl")
        XCTAssertEqual(ShardSpec.all.manifestName, "manifest.jsonl")
    }
}
