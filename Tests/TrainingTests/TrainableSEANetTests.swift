import XCTest
import Codec
import ModelFile
import NN
import TestSupport
import Training

/// The trainable SEANet: names and shapes are CodecModel's, gradients equal PyTorch autograd through encodec's
/// own SEANet, the export loads into CodecModel with the same forward output, results are thread-count free.
final class TrainableSEANetTests: XCTestCase {
    let sp = WidthScaling(parameterization: .standard, baseFilters: 2)

    func testParametersAreCodecModelTensors() throws {
        for lstm in [0, 2] {
            let config = CodecConfig.trainable24kHz(filters: 4, codebooks: 2, lstmLayers: lstm)
            let model = try TrainableSEANet(config: config, scaling: sp, seed: 1)
            var expected = try CodecModel.expectedShapes(for: config)
            expected = expected.filter { !$0.key.hasPrefix("quantizer.") }
            var got: [String: [Int]] = [:]
            for p in model.parameters { got[p.name] = p.shape }
            XCTAssertEqual(got, expected)
            XCTAssertEqual(model.parameters.first?.role, .input)
            XCTAssertEqual(model.parameters.first { $0.name == "decoder.model.0.conv.conv.weight" }?.role, .input)
            let lastEncoder = model.parameters.last { $0.name.hasPrefix("encoder.") && $0.name.hasSuffix("weight") }
            XCTAssertEqual(lastEncoder?.role, .output)
            XCTAssertEqual(lastEncoder?.shape[0], 128)
            XCTAssertEqual(model.parameters.last { $0.name.hasSuffix("weight") }?.role, .output)
        }
    }

    /// encodec's SEANetEncoder/Decoder (norm 'none', causal, reflect, 2-layer LSTM, ratios [4, 2]) on the
    /// committed fixture: latents, audio and every parameter gradient of sum(ry·y) + sum(rz·z).
    func testForwardAndGradientsMatchPyTorch() throws {
        let f = try FixtureBlob(directory: "training", file: "training.f32")
        let c = try XCTUnwrap(f.cases["seanet"]?.first)
        let config = CodecConfig(name: "fixture", sampleRate: 64, channels: 1, dimension: 8, filters: 2, ratios: [4, 2],
                                 lstmLayers: 2, causal: true, norm: .none, bins: 2, codebooks: 1, bandwidths: [1],
                                 normalize: false, segment: nil)
        let names = c["parameters"] as! [String]
        var tensors: [String: TensorData] = [:]
        for n in names { tensors[n] = TensorData(shape: f.shape("param." + n), values: f.values("param." + n)) }
        let model = try TrainableSEANet(config: config, tensors: tensors, path: "fixture")
        XCTAssertEqual(Set(model.parameters.map(\.name)), Set(names))
        let x = Tensor(shape: f.shape("seanet.x"), data: f.values("seanet.x"))
        let (z, encTape) = model.encoderForward(x)
        XCTAssertEqual(z.shape, f.shape("seanet.z"))
        if let m = closeness(z.data, f.values("seanet.z"), rtol: 1e-4, atol: 1e-5) { XCTFail("latents: \(m)") }
        let (y, decTape) = model.decoderForward(z)
        XCTAssertEqual(y.shape, f.shape("seanet.y"))
        if let m = closeness(y.data, f.values("seanet.y"), rtol: 1e-4, atol: 1e-5) { XCTFail("audio: \(m)") }
        model.zeroGradients()
        var dz = model.decoderBackward(decTape, dAudio: Tensor(shape: y.shape, data: f.values("seanet.ry")))
        let rz = f.values("seanet.rz")
        for i in 0..<dz.count { dz.data[i] += rz[i] }
        model.encoderBackward(encTape, dLatent: dz)
        for (i, p) in model.parameters.enumerated() {
            if let m = closeness(model.gradients[i], f.values("grad." + p.name), rtol: 1e-3, atol: 2e-5) { XCTFail("\(p.name): \(m)") }
        }
    }

    func testGradientsDoNotDependOnThreadCount() throws {
        let config = CodecConfig.trainable24kHz(filters: 2, codebooks: 1, lstmLayers: 1)
        let model = try TrainableSEANet(config: config, scaling: sp, seed: 3)
        var rng = SeededRNG(seed: 4)
        let x = Tensor(shape: [2, 1, 1280], data: rng.floats(2560, -0.5, 0.5))
        func grads() -> [[Float]] {
            model.zeroGradients()
            let (z, et) = model.encoderForward(x)
            let (y, dt) = model.decoderForward(z)
            let dz = model.decoderBackward(dt, dAudio: y)
            model.encoderBackward(et, dLatent: dz)
            return model.gradients
        }
        let a = Parallel.withThreads(1) { grads() }
        let b = Parallel.withThreads(3) { grads() }
        XCTAssertEqual(a, b)
        XCTAssertTrue(a.allSatisfy { g in g.contains { $0 != 0 } }, "every parameter gets a gradient")
    }

    /// Train-side export → model file → CodecModel: the encoder latents and the decoded audio equal the
    /// training forward's.
    func testExportLoadsIntoCodecModelWithSameOutput() throws {
        let config = CodecConfig.trainable24kHz(filters: 2, codebooks: 2, lstmLayers: 2)
        let model = try TrainableSEANet(config: config, scaling: sp, seed: 7)
        var rng = SeededRNG(seed: 8)
        let books = (0..<2).map { _ in rng.floats(config.bins * config.dimension, -0.3, 0.3) }
        let dir = TemporaryDirectory()
        let path = dir.path("trained.safetensors")
        try model.archive(codebooks: books).write(to: path)
        let codec = try CodecModel.load(path: path)
        XCTAssertEqual(codec.config, config)
        let audio = rng.floats(3200, -0.5, 0.5)  // 10 frames
        let (z, _) = model.encoderForward(Tensor(shape: [1, 1, 3200], data: audio))
        let zInference = codec.latents(audio, channels: 1)
        XCTAssertEqual(z.shape, [1, 128, 10])
        if let m = closeness(zInference.data, z.data, rtol: 1e-5, atol: 1e-6) { XCTFail("latents: \(m)") }
        // Decode the codes both ways: CodecModel.decode vs the training decoder on Σ_k codebook_k[code].
        let encoded = try codec.encode(audio, channels: 1, bandwidth: 1.5)
        let seg = encoded.segments[0]
        XCTAssertEqual(seg.codebooks, 2)
        var zq = Tensor.zeros([1, 128, seg.frames])
        for k in 0..<seg.codebooks {
            for t in 0..<seg.frames {
                let code = Int(seg.codes[k * seg.frames + t])
                for d in 0..<128 { zq.data[d * seg.frames + t] += books[k][code * 128 + d] }
            }
        }
        let (y, _) = model.decoderForward(zq)
        let decoded = try codec.decode(encoded)
        XCTAssertEqual(decoded.count, 3200)
        if let m = closeness(decoded, Array(y.data.prefix(3200)), rtol: 1e-5, atol: 1e-6) { XCTFail("audio: \(m)") }
        XCTAssertGreaterThan(decoded.map(abs).max() ?? 0, 1e-4, "a non-trivial output")
    }

    func testLoadingRejectsMissingAndMisshapenTensors() throws {
        let config = CodecConfig.trainable24kHz(filters: 2, codebooks: 1, lstmLayers: 0)
        let model = try TrainableSEANet(config: config, scaling: sp, seed: 1)
        var t = model.namedTensors()
        t["decoder.model.0.conv.conv.bias"] = nil
        XCTAssertThrowsError(try TrainableSEANet(config: config, tensors: t, path: "m.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("decoder.model.0.conv.conv.bias"), "\(e)")
        }
        t = model.namedTensors()
        t["encoder.model.0.conv.conv.weight"] = TensorData(shape: [2, 1, 5], values: [Float](repeating: 0, count: 10))
        XCTAssertThrowsError(try TrainableSEANet(config: config, tensors: t, path: "m.safetensors"))
        let loaded = try TrainableSEANet(config: config, tensors: model.namedTensors(), path: "m")
        XCTAssertEqual(loaded.values, model.values)
        XCTAssertThrowsError(try model.archive(codebooks: []))
    }
}
