import XCTest
import Training

final class TrainingErrorTests: XCTestCase {
    func testDescriptionsNameTheCauseAndTheFix() {
        XCTAssertEqual("\(TrainingError.noTrainingAudio(directory: "data/"))", "data/: no readable audio file found for training")
        let n = "\(TrainingError.nonFinite(what: "loss", step: 12))"
        XCTAssert(n.contains("step 12") && n.contains("learning rate"), n)
        let c = "\(TrainingError.checkpoint(path: "run/ckpt.safetensors", reason: "width 32, model has 16"))"
        XCTAssert(c.hasPrefix("run/ckpt.safetensors: cannot resume") && c.contains("width 32"), c)
    }
}
