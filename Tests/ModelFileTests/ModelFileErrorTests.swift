import XCTest
import ModelFile

final class ModelFileErrorTests: XCTestCase {
    func testShapeMismatchNamesTensorAndBothShapes() {
        let e = ModelFileError.shapeMismatch(path: "m.safetensors", name: "encoder.model.0.conv.weight", expected: [32, 1, 7], found: [32, 2, 7])
        XCTAssertEqual(e.description, "m.safetensors: tensor 'encoder.model.0.conv.weight' has shape [32, 2, 7], expected [32, 1, 7]")
    }
}

final class ModelFileErrorMessageTests: XCTestCase {
    func testEveryCaseNamesItsFile() {
        let errors: [ModelFileError] = [
            .unreadable(path: "f", reason: "r"), .corrupt(path: "f", reason: "r"),
            .corruptTensor(path: "f", name: "t", reason: "r"), .missingTensor(path: "f", name: "t"),
            .missingTensor(path: "f", name: "t", expected: [1]), .unusedTensor(path: "f", name: "t"),
            .shapeMismatch(path: "f", name: "t", expected: [1], found: [2]), .unsupportedDType(path: "f", name: "t", dtype: "X"),
            .unsupportedArray(path: "f", reason: "r"), .valueOutOfRange(path: "f", name: "t", reason: "r"),
            .unsupportedVersion(path: "f", found: "9", supported: "1"), .unsupportedPickle(path: "f", reason: "r"),
            .unwritable(path: "f", reason: "r"),
        ]
        for e in errors {
            XCTAssertTrue(e.description.hasPrefix("f: "), e.description)
            XCTAssertEqual(e.path, "f")
        }
        XCTAssertEqual(ModelFileError.missingTensor(path: "m", name: "w", expected: [4, 1]).description,
                       "m: missing tensor 'w' (expected shape [4, 1])")
        XCTAssertEqual(ModelFileError.unusedTensor(path: "m", name: "w", found: [3]).description,
                       "m: unexpected tensor 'w' with shape [3] (not used by this model)")
    }
}
