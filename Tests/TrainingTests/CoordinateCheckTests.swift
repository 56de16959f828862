import XCTest
import Codec
import NN
import TestSupport
import Training

/// The coordinate check: after a few Adam steps at widths 2, 4, 8 (× 16 channels at the bottleneck), the
/// change of each layer's output since init stays about flat across widths under µP and grows about ∝ width
/// under standard parameterization.
final class CoordinateCheckTests: XCTestCase {
    func testMuPKeepsActivationUpdatesFlatWhereSPDoesNot() throws {
        var rng = SeededRNG(seed: 5)
        let t = 1280
        let audio = Tensor(shape: [1, 1, t], data: (0..<t).map { i in 0.5 * sin(Float(i) * 0.05) + 0.1 * rng.uniform() })
        let config = CodecConfig.trainable24kHz(filters: 2, codebooks: 1, lstmLayers: 0)
        var growth: [Parameterization: Double] = [:]
        for p in [Parameterization.muP, .standard] {
            let rows = try coordinateCheck(config: config, widths: [2, 4, 8], scaling: WidthScaling(parameterization: p, baseFilters: 2),
                                           steps: 4, learningRate: 0.01, audio: audio, seed: 1)
            XCTAssertEqual(rows.count, 3 * 5 * 20)  // widths × (steps + 1) × layers
            XCTAssertTrue(rows.allSatisfy { $0.rms.isFinite && $0.changeRMS.isFinite })
            // Per layer at the last step: change at width 8 / change at width 2; the median over layers.
            let last = rows.filter { $0.step == 4 }
            var ratios: [Double] = []
            for layer in Set(last.map(\.layer)) {
                let wide = last.first { $0.layer == layer && $0.filters == 8 }!.changeRMS
                let narrow = last.first { $0.layer == layer && $0.filters == 2 }!.changeRMS
                ratios.append(wide / narrow)
            }
            ratios.sort()
            growth[p] = ratios[ratios.count / 2]
            print("coordinate check \(p.rawValue): median over layers of Δ(width 8) / Δ(width 2) = \(growth[p]!)")
        }
        XCTAssertLessThan(growth[.muP]!, 2)
        XCTAssertGreaterThan(growth[.standard]!, 2 * growth[.muP]!)
    }

    func testSpreadOfIdenticalWidthsIsOne() {
        let rows = [CoordinateCheckRow(filters: 2, step: 0, layer: "a", rms: 2, changeRMS: 0),
                    CoordinateCheckRow(filters: 4, step: 0, layer: "a", rms: 3, changeRMS: 0),
                    CoordinateCheckRow(filters: 2, step: 1, layer: "a", rms: 1, changeRMS: 0.5),
                    CoordinateCheckRow(filters: 4, step: 1, layer: "a", rms: 1, changeRMS: 2)]
        let s = coordinateCheckSpread(rows)
        XCTAssertEqual(s.map { $0.ratio }, [1.5, 1])
        XCTAssertEqual(coordinateCheckSpread(rows, change: true).last?.ratio, 4)
    }
}
