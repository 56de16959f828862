import XCTest
import ModelFile
import NN
import RVQ
import TestSupport
import Training

final class QuantizerTests: XCTestCase {
    /// [F, D] frame-major vectors → latents [1, D, F].
    private func latents(_ x: ArraySlice<Float>, D: Int) -> Tensor {
        let F = x.count / D, base = x.startIndex
        var t = Tensor.zeros([1, D, F])
        for f in 0..<F { for d in 0..<D { t.data[d * F + f] = x[base + f * D + d] } }
        return t
    }

    private func randomLatents(_ rng: inout SeededRNG, _ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() * scale })
    }

    // MARK: references

    func testEMAUpdatesMatchEnCodecEuclideanCodebook() throws {
        let D = 8, N = 16, F = 64
        var cfg = QuantizerTrainingConfig(stages: 1, codebookSize: N, dimension: D)
        cfg.decay = 0.9; cfg.deadCodeFraction = 0; cfg.dropoutFraction = 0
        let q = try QuantizerTraining(cfg)
        let p = QuantizerTraining.stagePrefix(0)
        try q.load(state: [
            p + ".embed": .float(try trainingFixture("quantizer_ema_embed0")),
            p + ".cluster_size": .float(try trainingFixture("quantizer_ema_size0")),
            p + ".embed_avg": .float(try trainingFixture("quantizer_ema_avg0")),
            p + ".inited": .float(TensorData(shape: [1], values: [1])),
            "quantizer.training.rng": .integer(IntTensorData(shape: [1], values: [0])),
            "quantizer.training.replaced": .integer(IntTensorData(shape: [1], values: [0])),
        ])
        let x = try trainingFixture("quantizer_ema_x").values
        let codes = try Npy.readIntegers(path: RepoPaths.fixtures.appendingPathComponent("training/quantizer_ema_codes.npy").path).values
        let embed = try trainingFixture("quantizer_ema_embed").values, size = try trainingFixture("quantizer_ema_size").values
        let avg = try trainingFixture("quantizer_ema_avg").values
        for step in 0..<3 {
            let out = try q.forward(latents(x[step * F * D ..< (step + 1) * F * D], D: D))
            XCTAssertEqual(out.codes!.values.map(Int64.init), Array(codes[step * F ..< (step + 1) * F]), "codes, step \(step)")
            XCTAssertNil(closeness(q.clusterSizes[0], Array(size[step * N ..< (step + 1) * N]), rtol: 1e-5, atol: 1e-6))
            XCTAssertNil(closeness(q.embeddingSums[0], Array(avg[step * N * D ..< (step + 1) * N * D]), rtol: 1e-5, atol: 1e-5))
            XCTAssertNil(closeness(q.embeddings[0], Array(embed[step * N * D ..< (step + 1) * N * D]), rtol: 1e-5, atol: 1e-5),
                         "embed, step \(step)")
        }
    }

    func testStraightThroughAndCommitmentGradientsMatchTorch() throws {
        let books = try trainingFixture("quantizer_ste_books").values   // [3, 8, 6]
        let x = try trainingFixture("quantizer_ste_x"), dq = try trainingFixture("quantizer_ste_dq")
        let w = try trainingFixture("quantizer_ste_weights").values
        var cfg = QuantizerTrainingConfig(stages: 3, codebookSize: 8, dimension: 6)
        cfg.dropoutFraction = 0
        let q = try QuantizerTraining(cfg)
        try q.setCodebooks((0..<3).map { Array(books[$0 * 48 ..< ($0 + 1) * 48]) }, clusterSize: 1)
        let out = try q.forward(Tensor(shape: x.shape, data: x.values), update: false)
        let codes = try Npy.readIntegers(path: RepoPaths.fixtures.appendingPathComponent("training/quantizer_ste_codes.npy").path)
        XCTAssertEqual(out.codes!.values.map(Int64.init), codes.values)
        XCTAssertNil(closeness(out.quantized.data, try trainingFixture("quantizer_ste_quantized").values, rtol: 1e-5, atol: 1e-6))
        var g = Tensor.zeros(x.shape)
        q.backward(out, quantizedGradient: Tensor(shape: dq.shape, data: dq.values), commitmentWeights: w, latentGradient: &g)
        XCTAssertNil(closeness(g.data, try trainingFixture("quantizer_ste_grad").values, rtol: 1e-5, atol: 1e-6))
        // EnCodec's formulation (issue #25) loses the terms of stages 1 and 2: the gradients must differ.
        let bug = try trainingFixture("quantizer_ste_grad_encodec").values
        XCTAssertGreaterThan(maxAbsDiff(g.data, bug), 1e-3)
    }

    // MARK: gradients

    /// Each stage's commitment term alone (one-hot weights) has a nonzero gradient that matches central
    /// differences of L_k (exact for a quadratic while no code changes).
    func testEveryStageCommitmentTermHasItsGradient() throws {
        var rng = SeededRNG(seed: 21)
        let K = 4, N = 6, D = 3, B = 2, T = 5
        var cfg = QuantizerTrainingConfig(stages: K, codebookSize: N, dimension: D)
        cfg.dropoutFraction = 0
        let q = try QuantizerTraining(cfg)
        try q.setCodebooks((0..<K).map { k in (0..<N * D).map { _ in rng.normal() * pow(0.5, Float(k)) } }, clusterSize: 1)
        let x = randomLatents(&rng, [B, D, T])
        let out = try q.forward(x, update: false)
        for k in 0..<K {
            var weights = [Float](repeating: 0, count: K); weights[k] = 1
            var g = Tensor.zeros([B, D, T])
            q.backward(out, quantizedGradient: Tensor.zeros([B, D, T]), commitmentWeights: weights, latentGradient: &g)
            XCTAssertGreaterThan(g.data.map(abs).max()!, 1e-4, "stage \(k) term has no gradient")
            let h: Float = 1e-3
            for i in [0, 7, 13, B * D * T - 1] {
                var a = x, b = x
                a.data[i] += h; b.data[i] -= h
                let oa = try q.forward(a, update: false), ob = try q.forward(b, update: false)
                guard oa.codes == out.codes, ob.codes == out.codes else { continue }
                let fd = (oa.commitmentLosses[k] - ob.commitmentLosses[k]) / (2 * Double(h))
                XCTAssertEqual(Double(g.data[i]), fd, accuracy: 1e-3 * max(1e-3, abs(fd)), "stage \(k), element \(i)")
            }
        }
    }

    func testDropoutUsesRandomStagePrefixesForHalfTheBatch() throws {
        var rng = SeededRNG(seed: 22)
        let K = 5, N = 8, D = 4, B = 8, T = 6
        let cfg = QuantizerTrainingConfig(stages: K, codebookSize: N, dimension: D)
        let books = (0..<K).map { _ in (0..<N * D).map { _ in rng.normal() } }
        let q1 = try QuantizerTraining(cfg), q2 = try QuantizerTraining(cfg)
        try q1.setCodebooks(books, clusterSize: 1); try q2.setCodebooks(books, clusterSize: 1)
        var sawShort = false
        for _ in 0..<6 {
            let x = randomLatents(&rng, [B, D, T])
            let o = try q1.forward(x, update: false)
            XCTAssertEqual(o.stagesPerItem, try q2.forward(x, update: false).stagesPerItem, "seeded")
            XCTAssertGreaterThanOrEqual(o.stagesPerItem.filter { $0 == K }.count, B / 2)
            XCTAssert(o.stagesPerItem.allSatisfy { (1...K).contains($0) })
            sawShort = sawShort || o.stagesPerItem.contains { $0 < K }
            // Item b's output is the sum of its first n_b code vectors.
            let codes = o.codes!
            for b in 0..<B { for t in 0..<T { for d in 0..<D {
                var s: Float = 0
                for k in 0..<o.stagesPerItem[b] { s += books[k][Int(codes[stage: k, position: b * T + t]) * D + d] }
                XCTAssertEqual(o.quantized[b, d, t], s, accuracy: 1e-5)
            } } }
        }
        XCTAssert(sawShort)
        let all = try q1.forward(randomLatents(&rng, [B, D, T]), dropout: false)
        XCTAssertEqual(all.stagesPerItem, Array(repeating: K, count: B))
        XCTAssertEqual(try q1.forward(randomLatents(&rng, [B, D, T]), stages: 2).stagesPerItem, Array(repeating: 2, count: B))
    }

    // MARK: codebook maintenance

    func testDeadCodesAreReplacedByBatchVectors() throws {
        var rng = SeededRNG(seed: 23)
        let N = 16, D = 4, F = 64
        var cfg = QuantizerTrainingConfig(stages: 1, codebookSize: N, dimension: D)
        cfg.decay = 0.5; cfg.deadCodeFraction = 0.5; cfg.dropoutFraction = 0
        let q = try QuantizerTraining(cfg)
        // Codes 8…15 sit far from the data: never chosen.
        var book = (0..<N * D).map { _ in rng.normal() }
        for i in 8 * D ..< N * D { book[i] += 100 }
        try q.setCodebooks([book], clusterSize: 1)
        let x = randomLatents(&rng, [1, D, F])
        let out = try q.forward(x)
        let threshold = q.deadCodeThreshold(framesPerBatch: F)
        XCTAssertEqual(threshold, 0.5 * 64 / 16)
        var counts = [Int](repeating: 0, count: N)
        for c in out.codes!.values { counts[Int(c)] += 1 }
        let dead = (0..<N).filter { 0.5 + 0.5 * Float(counts[$0]) < threshold }
        XCTAssert(Set(8..<N).isSubset(of: Set(dead)))
        XCTAssertEqual(q.replacedCodes, [dead.count])
        var vectors = Set<[Float]>()
        for f in 0..<F { vectors.insert((0..<D).map { x[0, $0, f] }) }
        for n in 0..<N {
            let e = Array(q.embeddings[0][n * D ..< (n + 1) * D])
            if dead.contains(n) {
                XCTAssertEqual(q.clusterSizes[0][n], threshold)
                // e = m / smoothed(s) with m = threshold·vector: the vector up to the Laplace factor.
                let total = q.clusterSizes[0].reduce(0, +)
                let smoothed = (threshold + 1e-5) / (total + Float(N) * 1e-5) * total
                let v = e.map { $0 * smoothed / threshold }
                XCTAssert(vectors.contains { zip($0, v).allSatisfy { abs($0 - $1) < 1e-4 } }, "code \(n) is not a batch vector")
            } else {
                XCTAssertLessThan(e.map(abs).max()!, 50)
            }
        }
        XCTAssertEqual(Set(dead).count, Set(dead.map { Array(q.embeddings[0][$0 * D ..< ($0 + 1) * D]) }).count, "distinct vectors")
    }

    func testKMeansInitialisationAfterBufferingTwentyCodebooks() throws {
        var rng = SeededRNG(seed: 24)
        let N = 8, D = 4, B = 2, T = 20, K = 2
        var cfg = QuantizerTrainingConfig(stages: K, codebookSize: N, dimension: D)
        cfg.dropoutFraction = 0
        let q = try QuantizerTraining(cfg)
        // 160 frames needed = 4 batches of 40.
        for step in 0..<4 {
            let x = randomLatents(&rng, [B, D, T], scale: 2)
            let o = try q.forward(x)
            if step < 3 {
                XCTAssertFalse(o.initialized); XCTAssertEqual(o.quantized, x); XCTAssertNil(o.codes)
                XCTAssertEqual(q.initBuffer.count, (step + 1) * B * T * D)
            } else {
                XCTAssert(o.initialized && q.isInitialized); XCTAssert(q.initBuffer.isEmpty)
                for k in 0..<K {
                    XCTAssertEqual(q.clusterSizes[k].reduce(0, +), Float(B * T), accuracy: 1e-3, "s scaled to one batch")
                    XCTAssertGreaterThan(q.embeddings[k].map(abs).max()!, 0)
                }
                // Stage 1 removes most of the energy (k-means on data of variance 4 per dimension).
                XCTAssertLessThan(o.commitmentLosses[0], 4 * 0.7)
                XCTAssertLessThan(o.commitmentLosses[1], o.commitmentLosses[0])
            }
        }
        XCTAssertNoThrow(try q.residualVectorQuantizer())
    }

    // MARK: determinism and resume

    private func run(_ q: QuantizerTraining, seed: UInt64, steps: Int) throws -> [QuantizerOutput] {
        var rng = SeededRNG(seed: seed)
        return try (0..<steps).map { _ in try q.forward(randomLatents(&rng, [4, 4, 10])) }
    }

    func testStateRoundTripResumesExactlyAndThreadsDoNotMatter() throws {
        var cfg = QuantizerTrainingConfig(stages: 3, codebookSize: 8, dimension: 4)
        cfg.deadCodeFraction = 0.5; cfg.seed = 9
        // 160 frames to buffer = 4 steps of 40: save once while buffering (after 2) and once after (after 6).
        for saveAfter in [2, 6] {
            let a = try QuantizerTraining(cfg)
            _ = try run(a, seed: 1, steps: saveAfter)
            let saved = a.state()
            let b = try QuantizerTraining(cfg)
            try b.load(state: saved)
            let oa = try run(a, seed: 2, steps: 5), ob = try run(b, seed: 2, steps: 5)
            for (x, y) in zip(oa, ob) {
                XCTAssertEqual(x.quantized, y.quantized); XCTAssertEqual(x.codes, y.codes)
                XCTAssertEqual(x.stagesPerItem, y.stagesPerItem); XCTAssertEqual(x.commitmentLosses, y.commitmentLosses)
            }
            XCTAssertEqual(a.state(), b.state())
        }
        let one = try Parallel.withThreads(1) { () -> [String: StoredTensor] in
            let q = try QuantizerTraining(cfg); _ = try run(q, seed: 3, steps: 7); return q.state()
        }
        let two = try Parallel.withThreads(2) { () -> [String: StoredTensor] in
            let q = try QuantizerTraining(cfg); _ = try run(q, seed: 3, steps: 7); return q.state()
        }
        XCTAssertEqual(one, two)
        let q = try QuantizerTraining(cfg)
        var broken = one
        broken[QuantizerTraining.stagePrefix(1) + ".embed"] = .float(TensorData(shape: [8, 5], values: [Float](repeating: 0, count: 40)))
        XCTAssertThrowsError(try q.load(state: broken, path: "ck.safetensors")) {
            XCTAssert("\($0)".contains("layers.1._codebook.embed") && "\($0)".contains("ck.safetensors"), "\($0)")
        }
        XCTAssertThrowsError(try q.forward(Tensor.zeros([1, 3, 4])))
    }
}
