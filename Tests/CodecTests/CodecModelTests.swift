import XCTest
import Codec
import ModelFile
import TestSupport

/// Shape contracts and verification of model building, on small seeded random models.
final class CodecModelTests: XCTestCase {
    /// A small config of the given family (reduced widths, 4 codebooks).
    static func smallConfig(_ base: CodecConfig) -> CodecConfig {
        var c = base
        c.filters = 4; c.dimension = 8; c.codebooks = 4; c.bins = 16
        c.bandwidths = base.sampleRate == 24000 ? [0.6, 1.2] : [1.2, 2.4] // 4 bits × frame rate per codebook: 2 and 4 codebooks
        return c
    }

    static func randomTensors(_ config: CodecConfig, seed: UInt64 = 1) throws -> [String: TensorData] {
        var rng = SeededRNG(seed: seed)
        var out: [String: TensorData] = [:]
        for (name, shape) in try CodecModel.expectedShapes(for: config).sorted(by: { $0.key < $1.key }) {
            let n = shape.reduce(1, *)
            let fanIn = shape.count == 3 ? shape[1] * shape[2] : (shape.count == 2 ? shape[1] : 1)
            let scale = name.hasSuffix("norm.weight") ? 0 : 1 / Float(fanIn).squareRoot()
            out[name] = TensorData(shape: shape, values: (0..<n).map { _ in (name.hasSuffix("norm.weight") ? 1 : 0) + scale * rng.uniform(-1, 1) })
        }
        return out
    }

    func testExpectedShapesFollowTheEncodecStructure() throws {
        let shapes = try CodecModel.expectedShapes(for: .encodec24kHz)
        XCTAssertEqual(shapes["encoder.model.0.conv.conv.weight"], [32, 1, 7])
        XCTAssertEqual(shapes["encoder.model.1.block.1.conv.conv.weight"], [16, 32, 3])
        XCTAssertEqual(shapes["encoder.model.1.shortcut.conv.conv.weight"], [32, 32, 1])
        XCTAssertEqual(shapes["encoder.model.3.conv.conv.weight"], [64, 32, 4])   // ratio 2: kernel 4, stride 2
        XCTAssertEqual(shapes["encoder.model.12.conv.conv.weight"], [512, 256, 16]) // ratio 8
        XCTAssertEqual(shapes["encoder.model.13.lstm.weight_ih_l1"], [2048, 512])
        XCTAssertEqual(shapes["encoder.model.15.conv.conv.weight"], [128, 512, 7])
        XCTAssertEqual(shapes["decoder.model.3.convtr.convtr.weight"], [512, 256, 16])
        XCTAssertEqual(shapes["decoder.model.15.conv.conv.weight"], [1, 32, 7])
        XCTAssertEqual(shapes["quantizer.vq.layers.31._codebook.embed"], [1024, 128])
        XCTAssertNil(shapes["encoder.model.0.conv.norm.weight"])
        let s48 = try CodecModel.expectedShapes(for: .encodec48kHz)
        XCTAssertEqual(s48["encoder.model.0.conv.norm.weight"], [32])
        XCTAssertEqual(s48["decoder.model.3.convtr.norm.bias"], [256])
        XCTAssertEqual(s48["encoder.model.0.conv.conv.weight"], [32, 2, 7])
    }

    func testOneSecondIs75FramesAndDecodesToOneSecond() throws {
        let config = Self.smallConfig(.encodec24kHz)
        let model = try CodecModel(config: config, tensors: try Self.randomTensors(config), path: "random")
        var rng = SeededRNG(seed: 3)
        let audio = rng.floats(24000, -0.5, 0.5)
        let encoded = try model.encode(audio, channels: 1, bandwidth: 1.2)
        XCTAssertEqual(encoded.codebooks, 4)
        XCTAssertEqual(encoded.segments.count, 1)
        XCTAssertEqual(encoded.segments[0].frames, 75)
        XCTAssertTrue(encoded.segments[0].codes.allSatisfy { $0 >= 0 && $0 < 16 })
        XCTAssertEqual(try model.decode(encoded).count, 24000)
        // A length that is not a multiple of the hop: ⌈T/320⌉ frames, output trimmed to T.
        let odd = try model.encode(Array(audio.prefix(1000)), channels: 1, bandwidth: 0.6)
        XCTAssertEqual(odd.segments[0].frames, 4)
        XCTAssertEqual(odd.codebooks, 2)
        XCTAssertEqual(try model.decode(odd).count, 1000)
    }

    func testStereoSegmentsWithOverlap() throws {
        let config = Self.smallConfig(.encodec48kHz)
        let model = try CodecModel(config: config, tensors: try Self.randomTensors(config, seed: 2), path: "random")
        var rng = SeededRNG(seed: 4)
        let length = 48000 + 12000
        let encoded = try model.encode(rng.floats(2 * length, -0.5, 0.5), channels: 2, bandwidth: 2.4)
        // Segments of 48000 every 47520 samples: offsets 0 and 47520.
        XCTAssertEqual(encoded.segments.count, 2)
        XCTAssertEqual(encoded.segments.map(\.frames), [150, 39]) // ⌈48000/320⌉, ⌈12480/320⌉
        XCTAssertTrue(encoded.segments.allSatisfy { $0.scale != nil })
        XCTAssertEqual(try model.decode(encoded).count, 2 * length)
    }

    func testBadBandwidthAndBadCodesAreErrors() throws {
        let config = Self.smallConfig(.encodec24kHz)
        let model = try CodecModel(config: config, tensors: try Self.randomTensors(config), path: "random")
        XCTAssertThrowsError(try model.encode([Float](repeating: 0.1, count: 640), channels: 1, bandwidth: 6)) {
            XCTAssertEqual($0 as? CodecError, .unsupportedBandwidth(requested: 6, available: [0.6, 1.2]))
        }
        var enc = try model.encode([Float](repeating: 0.1, count: 640), channels: 1, bandwidth: 1.2)
        enc.segments[0].codes[5] = 16
        XCTAssertThrowsError(try model.decode(enc)) {
            XCTAssertEqual($0 as? CodecError, .invalidCode(path: "codes", stage: 2, frame: 1, code: 16, bins: 16))
        }
    }

    func testMissingUnusedAndMisshapenTensorsNameTheTensor() throws {
        let config = Self.smallConfig(.encodec24kHz)
        var t = try Self.randomTensors(config)
        t["encoder.model.3.conv.conv.weight"] = TensorData(shape: [8, 4, 3], values: [Float](repeating: 0, count: 96))
        XCTAssertThrowsError(try CodecModel(config: config, tensors: t, path: "m.safetensors")) {
            XCTAssertEqual($0 as? ModelFileError, .shapeMismatch(path: "m.safetensors", name: "encoder.model.3.conv.conv.weight", expected: [8, 4, 4], found: [8, 4, 3]))
        }
        t = try Self.randomTensors(config)
        t["decoder.model.1.lstm.bias_hh_l1"] = nil
        XCTAssertThrowsError(try CodecModel(config: config, tensors: t, path: "m.safetensors")) {
            XCTAssertEqual($0 as? ModelFileError, .missingTensor(path: "m.safetensors", name: "decoder.model.1.lstm.bias_hh_l1"))
        }
        t = try Self.randomTensors(config)
        t["extra.weight"] = TensorData(shape: [1], values: [0])
        XCTAssertThrowsError(try CodecModel(config: config, tensors: t, path: "m.safetensors")) {
            XCTAssertEqual($0 as? ModelFileError, .unusedTensor(path: "m.safetensors", name: "extra.weight"))
        }
    }

    /// A model built with one half (what `codec encode` / `decode` load) gives the same codes / audio as
    /// the whole model, refuses the other half with an error (not a crash), and still checks the tensors
    /// of the half it builds while leaving the other half's alone.
    func testEncoderOnlyAndDecoderOnlyModels() throws {
        let config = Self.smallConfig(.encodec24kHz)
        let tensors = try Self.randomTensors(config)
        let full = try CodecModel(config: config, tensors: tensors, path: "m")
        let enc = try CodecModel(config: config, tensors: tensors, path: "m", parts: .encoder)
        let dec = try CodecModel(config: config, tensors: tensors, path: "m", parts: .decoder)
        XCTAssertEqual(enc.parts, .encoder)
        XCTAssertEqual(full.parts, .all)
        var rng = SeededRNG(seed: 4)
        let audio = rng.floats(9000, -0.5, 0.5)
        let codes = try full.encode(audio, channels: 1, bandwidth: 1.2)
        XCTAssertEqual(try enc.encode(audio, channels: 1, bandwidth: 1.2).segments, codes.segments)
        XCTAssertEqual(try dec.decode(codes), try full.decode(codes))
        XCTAssertThrowsError(try enc.decode(codes)) {
            XCTAssertEqual($0 as? CodecError, .invalidInput("the model was loaded encoder only; this needs the decoder"))
        }
        XCTAssertThrowsError(try dec.encode(audio, channels: 1, bandwidth: 1.2)) {
            XCTAssertEqual($0 as? CodecError, .invalidInput("the model was loaded decoder only; this needs the encoder"))
        }
        XCTAssertThrowsError(try CodecDecoderStream(model: enc))
        XCTAssertThrowsError(try CodecEncoderStream(model: dec, bandwidth: nil))
        // The skipped half is not read: a broken decoder tensor does not stop an encoder-only load …
        var t = tensors
        t["decoder.model.1.lstm.bias_hh_l1"] = nil
        XCTAssertNoThrow(try CodecModel(config: config, tensors: t, path: "m", parts: .encoder))
        XCTAssertThrowsError(try CodecModel(config: config, tensors: t, path: "m", parts: .decoder))
        // … but the built half and stray tensors are still checked.
        t = tensors
        t["encoder.model.0.conv.conv.bias"] = nil
        XCTAssertThrowsError(try CodecModel(config: config, tensors: t, path: "m", parts: .encoder)) {
            XCTAssertEqual($0 as? ModelFileError, .missingTensor(path: "m", name: "encoder.model.0.conv.conv.bias"))
        }
        t = tensors
        t["extra.weight"] = TensorData(shape: [1], values: [0])
        XCTAssertThrowsError(try CodecModel(config: config, tensors: t, path: "m", parts: .decoder)) {
            XCTAssertEqual($0 as? ModelFileError, .unusedTensor(path: "m", name: "extra.weight"))
        }
    }

    func testModelFileRoundTripAndConfigInference() throws {
        let dir = TemporaryDirectory()
        for base in [CodecConfig.encodec24kHz, .encodec48kHz] {
            let config = Self.smallConfig(base)
            let archive = ModelArchive(config: config, tensors: try Self.randomTensors(config), path: "mem")
            let path = dir.path("\(base.name).safetensors")
            try archive.write(to: path)
            let back = try ModelArchive.load(path: path)
            XCTAssertEqual(back.config, config)
            XCTAssertEqual(back.tensors, archive.tensors)
            // What the weights tell, inferred from shapes alone.
            let inferred = try inferEncodecConfig(archive.tensors, path: path)
            XCTAssertEqual(inferred.filters, 4); XCTAssertEqual(inferred.dimension, 8)
            XCTAssertEqual(inferred.codebooks, 4); XCTAssertEqual(inferred.bins, 16)
            XCTAssertEqual(inferred.ratios, [8, 5, 4, 2]); XCTAssertEqual(inferred.lstmLayers, 2)
            XCTAssertEqual(inferred.compress, 2); XCTAssertEqual(inferred.channels, base.channels)
            XCTAssertEqual(inferred.causal, base.causal); XCTAssertEqual(inferred.norm, base.norm)
        }
    }
}
