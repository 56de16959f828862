import XCTest
import Codec
import NN
import TestSupport
import Training

/// The coordinate check: after a few Adam steps, activation sizes stay near-flat across widths under µP and
/// grow with width under standard parameterization.
final class CoordinateCheckTests: XCTestCase {
    func testMuPKeepsActivationsFlatWhereSPDoesNot() throws {
        var rng = SeededRNG(seed: 5)
        let t = 1280
        let audio = Tensor(shape: [1, 1, t], data: (0..<t).map { i in 0.5 * sin(Float(i) * 0.05) + 0.1 * rng.uniform() })
        let config = CodecConfig.trainable24kHz(filters: 2, codebooks: 1, lstmLayers: 0)
        var spread: [Parameterization: Double] = [:]
        for p in [Parameterization.muP, .standard] {
            let rows = try coordinateCheck(config: config, widths: [2, 4, 8], scaling: WidthScaling(parameterization: p, baseFilters: 2),
                                           steps: 4, learningRate: 0.02, audio: audio, seed: 1)
            XCTAssertEqual(Set(rows.map(\.filters)), [2, 4, 8])
            let last = coordinateCheckSpread(rows).filter { $0.step == 4 }
            spread[p] = last.map(\.ratio).max()!
            print("coordinate check \(p.rawValue): worst width ratio of layer RMS at step 4 = \(spread[p]!)")
        }
        XCTAssertLessThan(spread[.muP]!, spread[.standard]!)
    }
}
