import XCTest
import Codec
import ModelFile
import TestSupport
import Training

/// Adam against torch.optim.Adam, µP multipliers and init per role, schedule, clipping, exact resume.
final class AdamTests: XCTestCase {
    func testMatchesTorchAdam() throws {
        let f = try FixtureBlob(directory: "training", file: "training.f32")
        let adam = Adam(names: ["a", "b"], counts: [12, 5], multipliers: [1, 1])
        var values = [f.values("adam.a0"), f.values("adam.b0")]
        for step in 0..<3 {
            adam.update(values: &values, gradients: [f.values("adam.ga\(step)"), f.values("adam.gb\(step)")], lr: 1e-2)
        }
        if let m = closeness(values[0], f.values("adam.a3"), rtol: 1e-6, atol: 1e-7) { XCTFail("a: \(m)") }
        if let m = closeness(values[1], f.values("adam.b3"), rtol: 1e-6, atol: 1e-7) { XCTFail("b: \(m)") }
        if let m = closeness(adam.firstMoment[0], f.values("adam.a3.exp_avg"), rtol: 1e-6, atol: 1e-8) { XCTFail("m: \(m)") }
        if let m = closeness(adam.secondMoment[0], f.values("adam.a3.exp_avg_sq"), rtol: 1e-6, atol: 1e-10) { XCTFail("v: \(m)") }
        XCTAssertEqual(adam.step, 3)
    }

    func testMuPMultipliersAndInitPerRole() throws {
        let mup = WidthScaling(parameterization: .muP, baseFilters: 2)
        let sp = WidthScaling(parameterization: .standard, baseFilters: 2)
        let config = CodecConfig.trainable24kHz(filters: 8, codebooks: 1, lstmLayers: 1)  // m = 4
        let model = try TrainableSEANet(config: config, scaling: mup, seed: 2)
        let adamMuP = Adam(model: model, scaling: mup), adamSP = Adam(model: model, scaling: sp)
        var seen = Set<ParameterRole>()
        for (i, p) in model.parameters.enumerated() {
            seen.insert(p.role)
            let expected: Double = (p.role == .hidden || p.role == .output) ? 0.25 : 1
            XCTAssertEqual(adamMuP.multipliers[i], expected, accuracy: 1e-12, p.name)
            XCTAssertEqual(adamSP.multipliers[i], 1, p.name)
            let bound = mup.initBound(p, filters: 8)
            let maxAbs = Double(model.values[i].map(abs).max() ?? 0)
            switch p.role {
            case .bias: XCTAssertEqual(maxAbs, 0, p.name)
            case .input, .hidden:
                XCTAssertEqual(bound, (3 / Double(p.fanIn)).squareRoot(), accuracy: 1e-12)
                XCTAssertLessThanOrEqual(maxAbs, bound, p.name)
                if p.count >= 64 { XCTAssertGreaterThan(maxAbs, 0.8 * bound, p.name) }
            case .output:
                XCTAssertEqual(bound, (3 / (Double(p.fanIn) * 4)).squareRoot(), accuracy: 1e-12, "µP output init shrinks by 1/√m")
                XCTAssertEqual(sp.initBound(p, filters: 8), (3 / Double(p.fanIn)).squareRoot(), accuracy: 1e-12)
                XCTAssertLessThanOrEqual(maxAbs, bound, p.name)
            }
        }
        XCTAssertEqual(seen, [.input, .hidden, .output, .bias])
        // fan-in = Cin·K for convs, Cin·K/s for transposed convs.
        XCTAssertEqual(model.parameters.first { $0.name == "encoder.model.1.block.1.conv.conv.weight" }?.fanIn, 8 * 3)
        XCTAssertEqual(model.parameters.first { $0.name == "decoder.model.3.convtr.convtr.weight" }?.fanIn, 128 * 2)
        // At the base width µP equals SP.
        let base = try TrainableSEANet(config: .trainable24kHz(filters: 2, codebooks: 1), scaling: mup, seed: 2)
        let baseSP = try TrainableSEANet(config: .trainable24kHz(filters: 2, codebooks: 1), scaling: sp, seed: 2)
        XCTAssertEqual(base.values, baseSP.values)
        XCTAssertEqual(Adam(model: base, scaling: mup).multipliers, Adam(model: base, scaling: sp).multipliers)
    }

    func testScheduleWarmupAndDecay() {
        let cos = LearningRateSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110, decay: .cosine, finalRatio: 0.1)
        XCTAssertEqual(cos.learningRate(at: 0), 1e-4, accuracy: 1e-15)
        XCTAssertEqual(cos.learningRate(at: 9), 1e-3, accuracy: 1e-15)
        XCTAssertEqual(cos.learningRate(at: 60), 0.55e-3, accuracy: 1e-12)  // halfway: (peak + low) / 2
        XCTAssertEqual(cos.learningRate(at: 110), 1e-4, accuracy: 1e-15)
        XCTAssertEqual(cos.learningRate(at: 500), 1e-4, accuracy: 1e-15)
        let lin = LearningRateSchedule(peak: 1, warmupSteps: 0, totalSteps: 100, decay: .linear, finalRatio: 0)
        XCTAssertEqual(lin.learningRate(at: 25), 0.75, accuracy: 1e-12)
    }

    func testClipGradientNorm() {
        var g: [[Float]] = [[3, 0], [0, 4]]
        XCTAssertEqual(clipGradientNorm(&g, maxNorm: 10), 5, accuracy: 1e-9)
        XCTAssertEqual(g, [[3, 0], [0, 4]])
        XCTAssertEqual(clipGradientNorm(&g, maxNorm: 1), 5, accuracy: 1e-9)
        XCTAssertEqual(Double(g[0][0]), 0.6, accuracy: 1e-6)
        XCTAssertEqual(Double(g[1][1]), 0.8, accuracy: 1e-6)
    }

    /// 4 steps straight equal 2 steps, save to a file, load into a fresh optimizer, 2 more steps: bit for bit.
    func testStateRoundTripResumesExactly() throws {
        var rng = SeededRNG(seed: 1)
        let start: [[Float]] = [rng.floats(30), rng.floats(7)]
        let grads = (0..<4).map { _ in [rng.floats(30), rng.floats(7)] }
        let settings = AdamSettings(weightDecay: 0.01)
        let a = Adam(names: ["w", "b"], counts: [30, 7], multipliers: [0.5, 1], settings: settings)
        var va = start
        for g in grads { a.update(values: &va, gradients: g, lr: 1e-2) }
        let b = Adam(names: ["w", "b"], counts: [30, 7], multipliers: [0.5, 1], settings: settings)
        var vb = start
        for g in grads.prefix(2) { b.update(values: &vb, gradients: g, lr: 1e-2) }
        let dir = TemporaryDirectory()
        try SafeTensors.write(b.namedTensors(), to: dir.path("opt.safetensors"))
        let restored = try SafeTensors.read(path: dir.path("opt.safetensors")).floatTensors()
        let c = Adam(names: ["w", "b"], counts: [30, 7], multipliers: [0.5, 1], settings: settings)
        try c.load(restored, path: "opt.safetensors")
        XCTAssertEqual(c.step, 2)
        for g in grads.suffix(2) { c.update(values: &vb, gradients: g, lr: 1e-2) }
        XCTAssertEqual(va, vb)
        var broken = restored
        broken["adam.exp_avg_sq.b"] = nil
        XCTAssertThrowsError(try c.load(broken, path: "opt.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("adam.exp_avg_sq.b"), "\(e)")
        }
    }
}
