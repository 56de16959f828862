// Weight-norm folding against PyTorch: folded weights of real torch.nn.utils.weight_norm modules (Conv1d per
// output channel, ConvTranspose1d per input channel, the parametrization API), and against a Double reference.
import Foundation
import XCTest
import ModelFile
import TestSupport

private struct FoldExpected: Decodable {
    let folded: [String: ExpectedTensor]
    let cpu_capability: String
}

final class WeightNormTests: XCTestCase {
    /// Float tensors of the torch fixture.
    private func fixtureFloats() throws -> [String: TensorData] {
        try TorchCheckpoint.read(path: modelFixture("state_dict.th")).tensors.compactMapValues(\.floatData)
    }

    /// Bit-exact against torch when the fixture was made by PyTorch's AVX2 kernels (whose order we follow);
    /// otherwise within 2 ulp-scale relative error.
    private func assertFolded(_ w: TensorData, _ e: ExpectedTensor, exact: Bool, _ name: String) {
        XCTAssertEqual(w.shape, e.shape, name)
        if exact {
            XCTAssertEqual(w.values.map(\.bitPattern), e.bits!, "\(name): not bit-identical to torch")
        } else {
            XCTAssertNil(closeness(w.values, floats(e), rtol: 3e-7, atol: 0), name)
        }
    }

    func testFoldMatchesTorchPerPair() throws {
        let tensors = try fixtureFloats()
        let expected = try loadExpected("state_dict_expected.json", as: FoldExpected.self)
        let exact = expected.cpu_capability == "AVX2"
        for base in ["small.conv", "eight.conv", "conv.conv", "wide.conv", "convtr.convtr"] {
            let g = try XCTUnwrap(tensors["\(base).weight_g"]), v = try XCTUnwrap(tensors["\(base).weight_v"])
            XCTAssertEqual(g.shape, [v.shape[0], 1, 1])
            assertFolded(foldWeightNorm(g: g, v: v), expected.folded["\(base).weight"]!, exact: exact, base)
        }
        // ConvTranspose1d(5, 3, 6): weight [Cin 5, Cout 3, K 6], normalized per input channel (dim 0).
        XCTAssertEqual(tensors["convtr.convtr.weight_v"]?.shape, [5, 3, 6])
    }

    func testFoldWholeStateDict() throws {
        let tensors = try fixtureFloats()
        let expected = try loadExpected("state_dict_expected.json", as: FoldExpected.self)
        let path = modelFixture("state_dict.th")
        let folded = try foldWeightNorms(tensors, path: path)
        for (name, e) in expected.folded {
            assertFolded(try XCTUnwrap(folded[name], name), e, exact: expected.cpu_capability == "AVX2", name)
        }
        XCTAssertFalse(folded.keys.contains { $0.hasSuffix("weight_g") || $0.hasSuffix("weight_v") || $0.contains("parametrizations") })
        XCTAssertEqual(folded["conv.conv.bias"], tensors["conv.conv.bias"])
        XCTAssertEqual(folded["f32"], tensors["f32"])
        // Removed: 5 old-style pairs and 1 parametrization pair (12 tensors); added 6 weights.
        XCTAssertEqual(folded.count, tensors.count - 6)
    }

    func testAgainstDoubleReferenceOnRandomShapes() {
        var rng = SeededRNG(seed: 11)
        for shape in [[1, 1, 1], [3, 1, 5], [4, 2, 4], [2, 7, 3], [6, 17, 5], [2, 64, 3], [5, 3]] {
            let rows = shape[0], n = shape.reduce(1, *) / rows
            let v = TensorData(shape: shape, values: rng.floats(rows * n, -2, 2))
            let g = TensorData(shape: [rows] + Array(repeating: 1, count: shape.count - 1), values: rng.floats(rows, 0.1, 3))
            let w = foldWeightNorm(g: g, v: v)
            var reference = [Float](repeating: 0, count: v.count)
            for m in 0..<rows {
                let row = (0..<n).map { Double(v.values[m * n + $0]) }
                let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
                for j in 0..<n { reference[m * n + j] = Float(Double(g.values[m]) * row[j] / norm) }
            }
            XCTAssertEqual(w.shape, shape)
            XCTAssertNil(closeness(w.values, reference, rtol: 1e-6, atol: 1e-7), "\(shape)")
            // Each folded row has norm |g|: the definition of weight norm.
            for m in 0..<rows {
                let norm = (0..<n).map { Double(w.values[m * n + $0]) }.map { $0 * $0 }.reduce(0, +).squareRoot()
                XCTAssertEqual(norm, Double(g.values[m]), accuracy: 1e-5 * Double(g.values[m]))
            }
        }
    }

    func testBadPairs() {
        let path = "model.th"
        let v = TensorData(shape: [2, 1, 3], values: [1, 2, 3, 4, 5, 6])
        let g = TensorData(shape: [2, 1, 1], values: [1, 2])
        assertModelFileError(try foldWeightNorms(["a.weight_g": g], path: path), path: path, mentions: ["a.weight_v"]) {
            if case .missingTensor(_, "a.weight_v", _) = $0 { return true }; return false
        }
        assertModelFileError(try foldWeightNorms(["a.weight_v": v], path: path), path: path, mentions: ["a.weight_g"]) {
            if case .missingTensor(_, "a.weight_g", _) = $0 { return true }; return false
        }
        let badG = TensorData(shape: [3, 1, 1], values: [1, 2, 3])
        assertModelFileError(try foldWeightNorms(["a.weight_g": badG, "a.weight_v": v], path: path), path: path,
                             mentions: ["a.weight_g", "[3, 1, 1]", "[2, 1, 1]"]) {
            if case .shapeMismatch(_, "a.weight_g", [2, 1, 1], [3, 1, 1]) = $0 { return true }; return false
        }
        assertModelFileError(try foldWeightNorms(["a.weight_g": g, "a.weight_v": v, "a.weight": v], path: path), path: path,
                             mentions: ["a.weight"]) {
            if case .corruptTensor(_, "a.weight", _) = $0 { return true }; return false
        }
    }
}
