// Loader for the PyTorch reference fixtures written by scripts/make-nn-fixtures.py (test helper, not a test):
// Tests/Fixtures/nn/index.json names each tensor's shape and element offset into nn.f32 (little-endian float32).
import Foundation
import XCTest
import NN
import TestSupport

struct NNFixtures {
    let tensors: [String: (shape: [Int], offset: Int)]
    let cases: [String: [[String: Any]]]
    let blob: [Float]

    static func load() throws -> NNFixtures {
        let dir = RepoPaths.fixtures.appendingPathComponent("nn")
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("index.json"))) as! [String: Any]
        var tensors: [String: (shape: [Int], offset: Int)] = [:]
        for (name, v) in index["tensors"] as! [String: [String: Any]] {
            tensors[name] = (v["shape"] as! [Int], v["offset"] as! Int)
        }
        let data = try Data(contentsOf: dir.appendingPathComponent("nn.f32"))
        let blob = data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        return NNFixtures(tensors: tensors, cases: index["cases"] as! [String: [[String: Any]]], blob: blob)
    }

    /// The tensor called `name` (as stored: [B, C, T] activations, PyTorch-layout weights).
    func tensor(_ name: String) -> Tensor {
        guard let (shape, offset) = tensors[name] else { fatalError("fixture tensor \(name) missing from index.json") }
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: Array(blob[offset..<(offset + n)]))
    }

    /// The tensor named by `key` in a case, or nil when the case stores null there.
    func tensor(_ c: [String: Any], _ key: String) -> Tensor? {
        (c[key] as? String).map(tensor)
    }

    /// The cases of one fixture group, failing the test when the group is missing.
    static func group(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> (NNFixtures, [[String: Any]]) {
        let f = try load()
        let g = try XCTUnwrap(f.cases[name], "fixture group \(name) missing", file: file, line: line)
        XCTAssertFalse(g.isEmpty, "fixture group \(name) is empty", file: file, line: line)
        return (f, g)
    }
}
