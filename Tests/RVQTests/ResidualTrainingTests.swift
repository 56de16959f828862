import XCTest
import NN
import RVQ
import TestSupport

final class ResidualTrainingTests: XCTestCase {
    func testStagesAndRefinementLowerTheError() throws {
        var rng = SeededRNG(seed: 51)
        let D = 8
        let (x, _) = gaussianBlobs(&rng, centers: 20, perCenter: 100, dimension: D, spread: 2, sigma: 0.7)
        var events: [String] = []
        let trainer = ResidualQuantizerTrainer(codebookSizes: [32, 16, 8, 8], kMeansIterations: 15, seed: 7,
                                               refinementPasses: 4)
        let r = try trainer.train(x, dimension: D) { events.append("\($0)") }
        XCTAssertEqual(r.quantizer.codebooks.map { $0.size }, [32, 16, 8, 8])
        XCTAssertEqual(r.stageObjectives.count, 4)
        XCTAssertEqual(events.filter { $0.hasPrefix("stage") }.count, 4)

        // The same training without refinement ends at the first (stage-wise) error.
        var plain = trainer
        plain.refinementPasses = 0
        let p = try plain.train(x, dimension: D)
        XCTAssertEqual(p.meanSquaredErrors, [r.meanSquaredErrors[0]])
        XCTAssertEqual(p.stageObjectives, r.stageObjectives)

        // Each stage lowers the error of the greedy encoding; stage k's k-means objective is (about) the
        // residual energy the encoding leaves after stage k.
        let stats = try p.quantizer.statistics(x)
        for k in 1..<4 { XCTAssertLessThan(stats[k].residualEnergy, stats[k - 1].residualEnergy) }
        for k in 0..<4 {
            XCTAssertEqual(p.stageObjectives[k] / Double(x.count / D), stats[k].residualEnergy,
                           accuracy: 1e-3 * stats[k].residualEnergy, "stage \(k)")
        }

        // Refinement: kept passes strictly lower the greedy MSE; the result's MSE is the last one.
        XCTAssertGreaterThanOrEqual(r.refinementPasses, 1)
        XCTAssertEqual(r.meanSquaredErrors.count, r.refinementPasses + 1)
        for i in 1..<r.meanSquaredErrors.count { XCTAssertLessThan(r.meanSquaredErrors[i], r.meanSquaredErrors[i - 1]) }
        let final = try meanSquaredError(x, r.quantizer.decode(r.quantizer.encode(x)))
        XCTAssertEqual(final, r.meanSquaredErrors.last!)
        let refinedStats = try r.quantizer.statistics(x)
        XCTAssertEqual(final * Double(D), refinedStats[3].residualEnergy, accuracy: 1e-9 * final * Double(D))
        XCTAssertLessThan(refinedStats[3].residualEnergy, stats[3].residualEnergy)
    }

    func testFirstStageIsKMeansOfTheData() throws {
        var rng = SeededRNG(seed: 52)
        let (x, _) = gaussianBlobs(&rng, centers: 5, perCenter: 80, dimension: 3, spread: 10, sigma: 0.1)
        let r = try ResidualQuantizerTrainer(codebookSizes: [5, 4], kMeansIterations: 20).train(x, dimension: 3)
        // Five tight, far-apart blobs: stage 0 must put one code on each (residuals are then tiny).
        let stats = try r.quantizer.statistics(x)
        XCTAssertEqual(stats[0].deadCodes, 0)
        XCTAssertLessThan(stats[0].residualEnergy, 3 * 0.1 * 0.1 * 1.5)
    }

    func testSameCodebooksForOneAndTwoThreads() throws {
        var rng = SeededRNG(seed: 53)
        let (x, _) = gaussianBlobs(&rng, centers: 16, perCenter: 80, dimension: 10, spread: 1, sigma: 1)
        let trainer = ResidualQuantizerTrainer(codebookSizes: [24, 12], kMeansIterations: 6, tolerance: 0, seed: 3,
                                               refinementPasses: 2)
        let one = try Parallel.withThreads(1) { try trainer.train(x, dimension: 10) }
        let two = try Parallel.withThreads(2) { try trainer.train(x, dimension: 10) }
        for k in 0..<2 {
            XCTAssertEqual(one.quantizer.codebooks[k].vectors.map { $0.bitPattern },
                           two.quantizer.codebooks[k].vectors.map { $0.bitPattern })
        }
        XCTAssertEqual(one.meanSquaredErrors, two.meanSquaredErrors)
    }

    /// With a beam, training is judged by the beam encoding: the recorded MSEs are those of
    /// `encode(_:beamWidth:)` (decreasing over kept passes), the codebooks differ from greedy training from
    /// stage 2 on (stage 2 is trained on beam residuals), and the result does not depend on the thread count.
    func testBeamTrainingUsesTheBeamEncoding() throws {
        var rng = SeededRNG(seed: 55)
        let D = 6
        let (x, _) = gaussianBlobs(&rng, centers: 12, perCenter: 60, dimension: D, spread: 1.5, sigma: 1)
        var trainer = ResidualQuantizerTrainer(codebookSizes: [16, 8, 8], kMeansIterations: 10, tolerance: 0, seed: 4,
                                               progressiveSteps: 0, refinementPasses: 3)
        let greedy = try trainer.train(x, dimension: D)
        trainer.beamWidth = 4
        let beam = try Parallel.withThreads(1) { try trainer.train(x, dimension: D) }
        let beamTwo = try Parallel.withThreads(2) { try trainer.train(x, dimension: D) }
        for k in 0..<3 {
            XCTAssertEqual(beam.quantizer.codebooks[k].vectors.map { $0.bitPattern },
                           beamTwo.quantizer.codebooks[k].vectors.map { $0.bitPattern })
        }
        let q = beam.quantizer
        XCTAssertEqual(beam.meanSquaredErrors.last!, try meanSquaredError(x, q.decode(q.encode(x, beamWidth: 4))))
        for i in 1..<beam.meanSquaredErrors.count { XCTAssertLessThan(beam.meanSquaredErrors[i], beam.meanSquaredErrors[i - 1]) }
        XCTAssertEqual(beam.stageObjectives[0], greedy.stageObjectives[0])
        XCTAssertEqual(beam.stageObjectives[1], greedy.stageObjectives[1])
        XCTAssertNotEqual(beam.stageObjectives[2], greedy.stageObjectives[2])
    }

    func testBadInputThrows() {
        var rng = SeededRNG(seed: 54)
        let x = rng.floats(40)
        XCTAssertThrowsError(try ResidualQuantizerTrainer(codebookSizes: []).train(x, dimension: 4))
        XCTAssertThrowsError(try ResidualQuantizerTrainer(codebookSizes: [4, 11]).train(x, dimension: 4)) {
            XCTAssertEqual($0 as? RVQError, .notEnoughVectors(vectors: 10, clusters: 11))
        }
        XCTAssertThrowsError(try ResidualQuantizerTrainer(stages: 2, codebookSize: 2).train(x, dimension: 3)) {
            XCTAssertEqual($0 as? RVQError, .notAMatrix(what: "training data", count: 40, dimension: 3))
        }
        var bad = x
        bad[13] = -.infinity
        XCTAssertThrowsError(try ResidualQuantizerTrainer(stages: 2, codebookSize: 2).train(bad, dimension: 4)) {
            guard case let .nonFiniteValue(_, row, column, _)? = $0 as? RVQError else { return XCTFail("\($0)") }
            XCTAssertEqual([row, column], [3, 1])
        }
        XCTAssertThrowsError(try ResidualQuantizerTrainer(codebookSizes: [4, 0]).train(x, dimension: 4)) {
            guard case .invalidParameter(let name, _, _)? = $0 as? RVQError else { return XCTFail("\($0)") }
            XCTAssertEqual(name, "codebookSizes[1]")
        }
        XCTAssertThrowsError(try ResidualQuantizerTrainer(codebookSizes: [4], beamWidth: 0).train(x, dimension: 4)) {
            guard case .invalidParameter(let name, _, _)? = $0 as? RVQError else { return XCTFail("\($0)") }
            XCTAssertEqual(name, "beamWidth")
        }
        XCTAssertThrowsError(try meanSquaredError([1, 2], [1]))
    }
}
