import XCTest
import ModelFile

final class ModelFileErrorTests: XCTestCase {
    func testShapeMismatchNamesTensorAndBothShapes() {
        let e = ModelFileError.shapeMismatch(path: "m.safetensors", name: "encoder.model.0.conv.weight", expected: [32, 1, 7], found: [32, 2, 7])
        XCTAssertEqual(e.description, "m.safetensors: tensor 'encoder.model.0.conv.weight' has shape [32, 2, 7], expected [32, 1, 7]")
    }
}
