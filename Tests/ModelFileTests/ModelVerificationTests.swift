// Model verification: missing, unused and misshapen tensors and the format version, each naming the tensor
// and both shapes.
import XCTest
import ModelFile

final class ModelVerificationTests: XCTestCase {
    let expected: [String: [Int]] = ["enc.w": [4, 1, 7], "enc.b": [4], "dec.w": [1, 4, 7]]

    func testAgreementPasses() throws {
        try verifyTensors(found: expected, expected: expected, path: "m.safetensors")
        let tensors = expected.mapValues { TensorData(shape: $0, values: [Float](repeating: 0, count: $0.reduce(1, *))) }
        try verifyTensors(tensors, expected: expected, path: "m.safetensors")
    }

    func testEachProblemNamesTensorAndShapes() {
        var found = expected
        found["enc.b"] = nil
        found["enc.w"] = [4, 2, 7]
        found["extra.w"] = [3]
        let problems = tensorProblems(found: found, expected: expected, path: "m.safetensors")
        XCTAssertEqual(problems, [
            .missingTensor(path: "m.safetensors", name: "enc.b", expected: [4]),
            .shapeMismatch(path: "m.safetensors", name: "enc.w", expected: [4, 1, 7], found: [4, 2, 7]),
            .unusedTensor(path: "m.safetensors", name: "extra.w", found: [3]),
        ])
        XCTAssertEqual(problems.map(\.description), [
            "m.safetensors: missing tensor 'enc.b' (expected shape [4])",
            "m.safetensors: tensor 'enc.w' has shape [4, 2, 7], expected [4, 1, 7]",
            "m.safetensors: unexpected tensor 'extra.w' with shape [3] (not used by this model)",
        ])
        // verifyTensors throws the first: a missing tensor before a wrong shape before an unused one.
        XCTAssertThrowsError(try verifyTensors(found: found, expected: expected, path: "m.safetensors")) {
            XCTAssertEqual($0 as? ModelFileError, problems[0])
        }
        found["enc.b"] = [4]
        XCTAssertThrowsError(try verifyTensors(found: found, expected: expected, path: "m.safetensors")) {
            XCTAssertEqual($0 as? ModelFileError, problems[1])
        }
        found["enc.w"] = [4, 1, 7]
        XCTAssertThrowsError(try verifyTensors(found: found, expected: expected, path: "m.safetensors")) {
            XCTAssertEqual($0 as? ModelFileError, problems[2])
        }
    }

    func testFormatVersion() throws {
        XCTAssertEqual(try checkFormatVersion(["format_version": "2"], supported: 1...3, path: "m"), 2)
        for (metadata, found) in [([:], "missing"), (["format_version": "two"], "'two'"), (["format_version": "4"], "4")] {
            XCTAssertThrowsError(try checkFormatVersion(metadata, supported: 1...3, path: "m.safetensors")) { error in
                guard case .unsupportedVersion(let p, let f, let s)? = error as? ModelFileError else { return XCTFail("\(error)") }
                XCTAssertEqual(p, "m.safetensors")
                XCTAssertTrue(f.hasPrefix(found), f)
                XCTAssertEqual(s, "1...3")
            }
        }
        XCTAssertThrowsError(try checkFormatVersion(["v": "1"], supported: 2...2, path: "m", key: "v")) {
            XCTAssertEqual(($0 as? ModelFileError)?.description, "m: model file version 1 is not supported (supported: 2)")
        }
    }
}
