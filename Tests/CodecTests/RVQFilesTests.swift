import XCTest
import Codec
import ModelFile
import NN
import RVQ
import TestSupport

/// Codebook, vector and code files of `codec rvq`, a model's quantizer inputs, and replacing its codebooks.
final class RVQFilesTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    func quantizer(_ rng: inout SeededRNG, dimension D: Int, sizes: [Int]) throws -> ResidualVectorQuantizer {
        try ResidualVectorQuantizer(codebooks: sizes.map { Codebook(size: $0, dimension: D, vectors: rng.floats($0 * D)) })
    }

    /// A `.npy` file written byte by byte: `descr` and shape in the header, `body` as the data.
    func writeNpy(_ name: String, descr: String, shape: [Int], body: Data) -> String {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(body)
        let path = dir.path(name)
        FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    func testCodebookFileRoundTripAndModelFiles() throws {
        var rng = SeededRNG(seed: 61)
        let q = try quantizer(&rng, dimension: 5, sizes: [16, 8, 4])
        let path = dir.path("rvq.safetensors")
        try RVQFiles.writeQuantizer(q, to: path, metadata: ["seed": "3"])
        let back = try RVQFiles.readQuantizer(path: path)
        XCTAssertEqual(back.codebooks.map(\.size), [16, 8, 4])
        for k in 0..<3 { XCTAssertEqual(back.codebooks[k].vectors.map(\.bitPattern), q.codebooks[k].vectors.map(\.bitPattern)) }
        let file = try SafeTensors.read(path: path)
        XCTAssertEqual(file.metadata["format"], "neuralcodec-rvq")
        XCTAssertEqual(file.metadata["codebook_sizes"], "16,8,4")
        XCTAssertEqual(file.metadata["seed"], "3")

        // Our model files hold their quantizer under the same names.
        let config = CodecModelTests.smallConfig(.encodec24kHz)
        let archive = ModelArchive(config: config, tensors: try CodecModelTests.randomTensors(config), path: "mem")
        let modelPath = dir.path("model.safetensors")
        try archive.write(to: modelPath)
        let fromModel = try RVQFiles.readQuantizer(path: modelPath)
        XCTAssertEqual(fromModel.codebooks.map(\.vectors), try CodecModel(archive).quantizer.codebooks.map(\.vectors))
    }

    func testBadCodebookFilesNameTheFileAndTensor() throws {
        var rng = SeededRNG(seed: 62)
        let good: [String: TensorData] = [
            RVQFiles.codebookName(0): TensorData(shape: [4, 3], values: rng.floats(12)),
            RVQFiles.codebookName(1): TensorData(shape: [2, 3], values: rng.floats(6)),
        ]
        let meta = ["format": "neuralcodec-rvq", "format_version": "1"]
        func check(_ tensors: [String: TensorData], _ metadata: [String: String] = meta, _ expected: ModelFileError) throws {
            let path = dir.path("bad.safetensors")
            try SafeTensors.write(tensors, metadata: metadata, to: path)
            XCTAssertThrowsError(try RVQFiles.readQuantizer(path: path)) {
                XCTAssertEqual($0 as? ModelFileError, expected)
                XCTAssertTrue("\($0)".contains(path), "\($0)")
            }
        }
        let path = dir.path("bad.safetensors")
        var t = good
        t[RVQFiles.codebookName(1)] = TensorData(shape: [2, 2], values: rng.floats(4))
        try check(t, meta, .shapeMismatch(path: path, name: RVQFiles.codebookName(1), expected: [2, 3], found: [2, 2]))
        t = good
        t[RVQFiles.codebookName(0)]!.values[7] = .nan
        try check(t, meta, .valueOutOfRange(path: path, name: RVQFiles.codebookName(0), reason: "non-finite value nan at code 2, component 1"))
        t = good
        t["extra"] = TensorData(shape: [1], values: [0])
        try check(t, meta, .unusedTensor(path: path, name: "extra", found: [1]))
        t = good
        t[RVQFiles.codebookName(3)] = TensorData(shape: [2, 3], values: rng.floats(6)) // stage 2 missing
        try check(t, meta, .unusedTensor(path: path, name: RVQFiles.codebookName(3), found: [2, 3]))
        try check([:], meta, .missingTensor(path: path, name: RVQFiles.codebookName(0), expected: nil))
        try check(good, ["format": "neuralcodec-rvq", "format_version": "7"],
                  .unsupportedVersion(path: path, found: "7", supported: "1"))
    }

    func testVectorFilesConvertWhatIsSafeAndRefuseTheRest() throws {
        // float64, big-endian: read as the nearest Float32 values.
        let values: [Double] = [1.5, -2.25, 0.1, 3, 1e-3, -7]
        var be = Data()
        for v in values { withUnsafeBytes(of: v.bitPattern.bigEndian) { be.append(contentsOf: $0) } }
        let v = try RVQFiles.readVectors(path: writeNpy("be.npy", descr: ">f8", shape: [3, 2], body: be))
        XCTAssertEqual(v.count, 3); XCTAssertEqual(v.dimension, 2)
        XCTAssertEqual(v.values, values.map { Float($0) })

        var le = Data()
        for x: Float in [1, 2, .infinity, 4] { withUnsafeBytes(of: x.bitPattern.littleEndian) { le.append(contentsOf: $0) } }
        let inf = writeNpy("inf.npy", descr: "<f4", shape: [2, 2], body: le)
        XCTAssertThrowsError(try RVQFiles.readVectors(path: inf)) {
            XCTAssertEqual($0 as? ModelFileError, .valueOutOfRange(path: inf, name: "array", reason: "non-finite value inf at row 1, column 0"))
        }
        let rank1 = writeNpy("r1.npy", descr: "<f4", shape: [4], body: le)
        XCTAssertThrowsError(try RVQFiles.readVectors(path: rank1)) { XCTAssertTrue("\($0)".contains("rank-2"), "\($0)") }
        let ints = writeNpy("i.npy", descr: "<i4", shape: [2, 2], body: le)
        XCTAssertThrowsError(try RVQFiles.readVectors(path: ints)) {
            XCTAssertTrue("\($0)".contains(ints) && "\($0)".contains("int32"), "\($0)")
        }
        let complex = writeNpy("c.npy", descr: "<c8", shape: [1, 2], body: le)
        XCTAssertThrowsError(try RVQFiles.readVectors(path: complex)) {
            XCTAssertTrue("\($0)".contains(complex) && "\($0)".contains("complex"), "\($0)")
        }
        let empty = writeNpy("e.npy", descr: "<f4", shape: [0, 3], body: Data())
        XCTAssertThrowsError(try RVQFiles.readVectors(path: empty)) {
            XCTAssertEqual($0 as? ModelFileError, .unsupportedArray(path: empty, reason: "no vectors: shape [0, 3]"))
        }
        // Dimension and size checks against codebooks and training sizes.
        var rng = SeededRNG(seed: 63)
        let q = try quantizer(&rng, dimension: 3, sizes: [4])
        XCTAssertThrowsError(try RVQFiles.checkDimension(v, q, codebooksPath: "q.safetensors")) {
            XCTAssertTrue("\($0)".contains("be.npy: vectors of dimension 2, but the codebooks in q.safetensors have dimension 3"), "\($0)")
        }
        XCTAssertThrowsError(try RVQFiles.checkEnoughVectors(v, codebookSizes: [2, 4])) {
            XCTAssertTrue("\($0)".contains("3 vectors, fewer than the 4 codes of stage 1"), "\($0)")
        }
        XCTAssertNoThrow(try RVQFiles.checkEnoughVectors(v, codebookSizes: [3, 3]))
    }

    func testCodeFilesRoundTripAndAreCheckedAgainstTheCodebooks() throws {
        var rng = SeededRNG(seed: 64)
        let q = try quantizer(&rng, dimension: 4, sizes: [16, 8])
        let x = rng.floats(30 * 4)
        let codes = try q.encode(x)
        XCTAssertEqual(RVQFiles.codeElementType(for: q), .int16)
        let path = dir.path("codes.npy")
        try RVQFiles.writeCodes(codes, elementType: .int16, to: path)
        let stored = try Npy.readIntegers(path: path)
        XCTAssertEqual(stored.elementType, .int16)
        XCTAssertEqual(stored.shape, [30, 2])
        XCTAssertEqual(stored.values[2 * 7 + 1], Int64(codes[stage: 1, position: 7])) // row t = vector t
        XCTAssertEqual(try RVQFiles.readCodes(path: path, for: q), codes)

        var bad = stored
        bad.values[2 * 5 + 1] = 8
        try Npy.write(bad, to: path)
        XCTAssertThrowsError(try RVQFiles.readCodes(path: path, for: q)) {
            XCTAssertEqual($0 as? ModelFileError, .valueOutOfRange(path: path, name: "codes", reason: "code 8 at row 5, stage 1 is outside 0..<8"))
        }
        try Npy.write(IntTensorData(shape: [2, 3], values: [0, 0, 0, 0, 0, 0], elementType: .int32), to: path)
        XCTAssertThrowsError(try RVQFiles.readCodes(path: path, for: q)) { XCTAssertTrue("\($0)".contains("3 stages, the codebooks have 2"), "\($0)") }
        try Npy.write(TensorData(shape: [2, 2], values: [0, 0, 0, 0]), to: path)
        XCTAssertThrowsError(try RVQFiles.readCodes(path: path, for: q)) { XCTAssertTrue("\($0)".contains("expected integer data"), "\($0)") }
    }

    /// The quantizer inputs are what `encode` quantizes: segment by segment (48 kHz: normalized, overlapping
    /// segments), greedy channel-major encoding of each gives the model's codes.
    func testQuantizerInputsAreWhatEncodeQuantizes() throws {
        for (base, seconds) in [(CodecConfig.encodec24kHz, 0.5), (.encodec48kHz, 1.2)] {
            let config = CodecModelTests.smallConfig(base)
            let model = try CodecModel(config: config, tensors: try CodecModelTests.randomTensors(config, seed: 5), path: "m")
            var rng = SeededRNG(seed: 65)
            let audio = rng.floats(config.channels * Int(seconds * Double(config.sampleRate)), -0.5, 0.5)
            let encoded = try model.encode(audio, channels: config.channels, bandwidth: nil)
            let inputs = try model.quantizerInputs(audio, channels: config.channels)
            XCTAssertEqual(inputs.count, encoded.segments.count)
            for (z, segment) in zip(inputs, encoded.segments) {
                XCTAssertEqual(z.shape, [1, config.dimension, segment.frames])
                XCTAssertEqual(try model.quantizer.encode(channelMajor: z.data).values, segment.codes, "\(base.name)")
            }
        }
    }

    /// Codebooks trained on a model's latents replace its own: the new model encodes with them (its codes are
    /// the new quantizer's codes of the latents, not the old ones); mismatches are refused with both files named.
    func testReplacingTheQuantizer() throws {
        let config = CodecModelTests.smallConfig(.encodec24kHz) // D 8, 4 codebooks of 16
        let archive = ModelArchive(config: config, tensors: try CodecModelTests.randomTensors(config, seed: 6), path: "m.safetensors")
        let model = try CodecModel(archive)
        var rng = SeededRNG(seed: 66)
        let audio = rng.floats(24000, -0.5, 0.5)
        let z = try model.quantizerInputs(audio, channels: 1)[0] // [1, 8, 75]
        var rows = [Float](repeating: 0, count: 75 * 8)
        for d in 0..<8 { for t in 0..<75 { rows[t * 8 + d] = z.data[d * 75 + t] } }
        let trained = try ResidualQuantizerTrainer(stages: 4, codebookSize: 16, kMeansIterations: 10, seed: 1)
            .train(rows, dimension: 8).quantizer
        let updated = try archive.replacingQuantizer(trained, source: "rvq.safetensors")
        let path = dir.path("m2.safetensors")
        try updated.write(to: path)
        let newModel = try CodecModel.load(path: path)
        XCTAssertEqual(newModel.quantizer.codebooks.map(\.vectors), trained.codebooks.map(\.vectors))
        let newCodes = try newModel.encode(audio, channels: 1, bandwidth: nil).segments[0].codes
        XCTAssertEqual(newCodes, try trained.encode(channelMajor: z.data).values)
        XCTAssertNotEqual(newCodes, try model.encode(audio, channels: 1, bandwidth: nil).segments[0].codes)
        // The codebooks fit the latents better than the random ones.
        let oldStats = try model.quantizer.statistics(rows), newStats = try trained.statistics(rows)
        XCTAssertLessThan(newStats[3].residualEnergy, oldStats[3].residualEnergy)

        for (sizes, D, needle) in [([16, 16, 16, 16], 6, "rvq.safetensors: codebooks of dimension 6, but m.safetensors has latents of dimension 8"),
                                   ([16, 16, 16], 8, "rvq.safetensors: 3 stages, but m.safetensors has 4 codebooks (train with --stages 4)"),
                                   ([16, 16, 8, 16], 8, "rvq.safetensors: stage 2 has 8 codes, but m.safetensors uses 16 per codebook")] {
            let q = try quantizer(&rng, dimension: D, sizes: sizes)
            XCTAssertThrowsError(try archive.replacingQuantizer(q, source: "rvq.safetensors")) {
                XCTAssertTrue("\($0)".contains(needle), "\($0)")
            }
        }
    }
}
