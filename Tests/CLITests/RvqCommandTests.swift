import XCTest
import AudioIO
import TestSupport

/// `codec rvq train/encode/decode/stats`, `codec latents` and `codec model set-quantizer` end to end.
final class RvqCommandTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    private func codec(_ args: [String], threads: Int? = nil) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        if let threads { env["NEURALCODEC_THREADS"] = String(threads) }
        return try runProcess(RepoPaths.codecBinary, args, environment: env)
    }

    // MARK: .npy bytes (the test target does not link ModelFile)

    /// Writes a `.npy` file with the given dtype string, shape and raw data.
    private func writeNpy(_ name: String, descr: String, shape: [Int], body: Data) -> String {
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

    private func writeFloats(_ name: String, _ values: [Float], shape: [Int]) -> String {
        var body = Data()
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        return writeNpy(name, descr: "<f4", shape: shape, body: body)
    }

    /// Reads a version-1 `.npy` of dtype <f4, <i2 or <i4: (descr, shape, values as Double).
    private func readNpy(_ path: String) throws -> (descr: String, shape: [Int], values: [Double]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        let descr = String(header.split(separator: "'")[3])
        let shapeText = header[header.range(of: "(")!.upperBound..<header.range(of: ")")!.lowerBound]
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let body = data[(10 + headerLength)...]
        let n = shape.reduce(1, *)
        let values: [Double] = body.withUnsafeBytes { raw in
            (0..<n).map { i in
                switch descr {
                case "<f4": return Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                case "<i2": return Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case "<i4": return Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                default: return .nan
                }
            }
        }
        return (descr, shape, values)
    }

    /// Seeded clustered vectors `[n, d]`.
    private func vectors(_ n: Int, _ d: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        let centers = rng.floats(10 * d, -2, 2)
        return (0..<(n * d)).map { i in centers[((i / d) % 10) * d + i % d] + 0.5 * rng.normal() }
    }

    private func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    private func stages(_ report: [String: Any]) -> [[String: Any]] { report["stages"] as! [[String: Any]] }

    // MARK: tests

    func testTrainEncodeDecodeStatsRoundTrip() throws {
        let n = 500, d = 6
        let x = vectors(n, d, seed: 71)
        let input = writeFloats("x.npy", x, shape: [n, d])
        let rvq = dir.path("rvq.safetensors")
        var r = try codec(["rvq", "train", input, "--codebook-sizes", "16,8,8", "--seed", "5", "--iterations", "10", "-o", rvq], threads: 2)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("stages of 16/8/8 codes, D 6, on 500 vectors"), r.stdout)
        // Same seed, one thread: the same file, byte for byte.
        let rvq1 = dir.path("rvq1.safetensors")
        r = try codec(["rvq", "train", input, "--codebook-sizes", "16,8,8", "--seed", "5", "--iterations", "10", "-o", rvq1], threads: 1)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: rvq)), try Data(contentsOf: URL(fileURLWithPath: rvq1)))

        var mse: [Int: Double] = [:]
        for beam in [1, 4] {
            let codes = dir.path("codes\(beam).npy"), out = dir.path("y\(beam).npy")
            r = try codec(["rvq", "encode", input, "--codebooks", rvq, "-o", codes, "--beam", String(beam)])
            XCTAssertEqual(r.status, 0, r.stderr)
            let c = try readNpy(codes)
            XCTAssertEqual(c.descr, "<i2")
            XCTAssertEqual(c.shape, [n, 3])
            for (i, code) in c.values.enumerated() { XCTAssertTrue(code >= 0 && code < [16.0, 8, 8][i % 3]) }
            r = try codec(["rvq", "decode", codes, "--codebooks", rvq, "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let y = try readNpy(out)
            XCTAssertEqual(y.descr, "<f4")
            XCTAssertEqual(y.shape, [n, d])
            mse[beam] = zip(x, y.values).reduce(0.0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) } / Double(n * d)
            // stats on the code file: the last stage's residual energy is D × the decoded vectors' MSE.
            r = try codec(["rvq", "stats", input, "--codebooks", rvq, "--codes", codes, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let report = try json(r.stdout)
            XCTAssertEqual(report["vectors"] as? Int, n)
            let s = stages(report)
            XCTAssertEqual(s.count, 3)
            XCTAssertEqual(s.map { $0["codebookSize"] as! Int }, [16, 8, 8])
            XCTAssertEqual(s[2]["residualEnergy"] as! Double, Double(d) * mse[beam]!, accuracy: 1e-6 * Double(d) * mse[beam]!)
            let energies = s.map { $0["residualEnergy"] as! Double }
            XCTAssertTrue(energies[0] > energies[1] && energies[1] > energies[2], "\(energies)")
            for stage in s { XCTAssertLessThanOrEqual(stage["entropyBits"] as! Double, log2(Double(stage["codebookSize"] as! Int)) + 1e-9) }
        }
        XCTAssertLessThanOrEqual(mse[4]!, mse[1]!, "beam 4 is never worse than greedy")
        let variance = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n * d)
        XCTAssertLessThan(mse[1]!, 0.5 * variance)

        // Without --codes, stats encodes greedily: the same figures as for the greedy code file.
        let direct = try codec(["rvq", "stats", input, "--codebooks", rvq, "--json"])
        let fromFile = try codec(["rvq", "stats", input, "--codebooks", rvq, "--codes", dir.path("codes1.npy"), "--json"])
        XCTAssertEqual(direct.stdout, fromFile.stdout)
        // The text table has one row per stage.
        let table = try codec(["rvq", "stats", input, "--codebooks", rvq])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertEqual(table.stdout.split(separator: "\n").count, 2 + 3, table.stdout)
        // --dtype int32, first stage only.
        r = try codec(["rvq", "encode", input, "--codebooks", rvq, "-o", dir.path("c32.npy"), "--dtype", "int32", "--stages", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let c32 = try readNpy(dir.path("c32.npy"))
        XCTAssertEqual(c32.descr, "<i4"); XCTAssertEqual(c32.shape, [n, 1])
    }

    func testBadInputsFailWithTheFileNamed() throws {
        let n = 40, d = 3
        let x = vectors(n, d, seed: 72)
        let input = writeFloats("x.npy", x, shape: [n, d])
        let rvq = dir.path("rvq.safetensors")
        XCTAssertEqual(try codec(["rvq", "train", input, "--stages", "2", "--codebook-size", "4", "-o", rvq]).status, 0)

        // float64 big-endian is converted, not refused.
        var be = Data()
        for v in x { withUnsafeBytes(of: Double(v).bitPattern.bigEndian) { be.append(contentsOf: $0) } }
        let big = writeNpy("be.npy", descr: ">f8", shape: [n, d], body: be)
        let r = try codec(["rvq", "encode", big, "--codebooks", rvq, "-o", dir.path("be-codes.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try readNpy(dir.path("be-codes.npy")).values,
                       try { _ = try codec(["rvq", "encode", input, "--codebooks", rvq, "-o", dir.path("le-codes.npy")])
                             return try readNpy(dir.path("le-codes.npy")).values }())

        var nan = x
        nan[3 * d + 1] = .nan
        let nanPath = writeFloats("nan.npy", nan, shape: [n, d])
        var inf = x
        inf[5 * d + 2] = -.infinity
        let infPath = writeFloats("inf.npy", inf, shape: [n, d])
        var intBody = Data()
        for i in 0..<(n * d) { withUnsafeBytes(of: Int32(i).littleEndian) { intBody.append(contentsOf: $0) } }
        let ints = writeNpy("ints.npy", descr: "<i4", shape: [n, d], body: intBody)
        let strings = writeNpy("strings.npy", descr: "<U1", shape: [2], body: Data(count: 8))
        let rank1 = writeFloats("rank1.npy", x, shape: [n * d])
        let rank3 = writeFloats("rank3.npy", x, shape: [n, d, 1])
        let wide = writeFloats("wide.npy", vectors(n, 4, seed: 73), shape: [n, 4])
        let few = writeFloats("few.npy", Array(x.prefix(3 * d)), shape: [3, d])
        var codeBody = Data()
        for i in 0..<(n * 2) { withUnsafeBytes(of: Int16(i == 9 ? 4 : 0).littleEndian) { codeBody.append(contentsOf: $0) } }
        let badCodes = writeNpy("badcodes.npy", descr: "<i2", shape: [n, 2], body: codeBody)
        var manyBody = Data()
        for _ in 0..<(n * 3) { withUnsafeBytes(of: Int16(0).littleEndian) { manyBody.append(contentsOf: $0) } }
        let threeStages = writeNpy("three.npy", descr: "<i2", shape: [n, 3], body: manyBody)
        let halfCodes = writeNpy("half.npy", descr: "<i2", shape: [n / 2, 2], body: manyBody.prefix(n * 2))
        let notNpy = dir.path("junk.npy")
        FileManager.default.createFile(atPath: notNpy, contents: Data("hello".utf8))

        let out = dir.path("out.npy"), outRvq = dir.path("out.safetensors")
        let cases: [([String], String)] = [
            (["rvq", "train", nanPath, "--stages", "1", "--codebook-size", "2", "-o", outRvq], "nan.npy: tensor 'array': non-finite value nan at row 3, column 1"),
            (["rvq", "encode", infPath, "--codebooks", rvq, "-o", out], "inf.npy: tensor 'array': non-finite value -inf at row 5, column 2"),
            (["rvq", "train", ints, "--stages", "1", "--codebook-size", "2", "-o", outRvq], "ints.npy: tensor 'array' has unsupported dtype int32"),
            (["rvq", "train", strings, "--stages", "1", "--codebook-size", "2", "-o", outRvq], "strings.npy: unsupported array file: dtype '<U1' (strings)"),
            (["rvq", "train", rank1, "--stages", "1", "--codebook-size", "2", "-o", outRvq], "rank1.npy: unsupported array file: expected a rank-2 array"),
            (["rvq", "stats", rank3, "--codebooks", rvq], "rank3.npy: unsupported array file: expected a rank-2 array"),
            (["rvq", "train", few, "--stages", "2", "--codebook-size", "4", "-o", outRvq], "few.npy: 3 vectors, fewer than the 4 codes of stage 0"),
            (["rvq", "encode", wide, "--codebooks", rvq, "-o", out], "wide.npy: vectors of dimension 4, but the codebooks in \(rvq) have dimension 3"),
            (["rvq", "stats", wide, "--codebooks", rvq], "wide.npy: vectors of dimension 4"),
            (["rvq", "decode", badCodes, "--codebooks", rvq, "-o", out], "badcodes.npy: tensor 'codes': code 4 at row 4, stage 1 is outside 0..<4"),
            (["rvq", "decode", threeStages, "--codebooks", rvq, "-o", out], "three.npy: unsupported array file: codes of shape [40, 3] have 3 stages, the codebooks have 2"),
            (["rvq", "decode", input, "--codebooks", rvq, "-o", out], "x.npy: tensor 'array' has unsupported dtype floating point (expected integer data"),
            (["rvq", "stats", input, "--codebooks", rvq, "--codes", halfCodes], "half.npy: codes for 20 vectors, but \(input) holds 40"),
            (["rvq", "encode", notNpy, "--codebooks", rvq, "-o", out], "junk.npy: corrupt .npy file: not a .npy file"),
            (["rvq", "encode", input, "--codebooks", input, "-o", out], "x.npy"),
            (["rvq", "encode", dir.path("none.npy"), "--codebooks", rvq, "-o", out], "none.npy"),
        ]
        let before = Set(dir.contents())
        for (args, needle) in cases {
            let r = try codec(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertEqual(Set(dir.contents()), before, "no output left behind")
        // Option errors are usage errors.
        for args in [["rvq", "train", input, "--stages", "2", "-o", outRvq],
                     ["rvq", "train", input, "--codebook-sizes", "4,x", "-o", outRvq],
                     ["rvq", "encode", input, "--codebooks", rvq, "-o", out, "--beam", "0"]] {
            let r = try codec(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
    }

    /// Latents of audio through a model, codebooks trained on them, put into the model: the new model's
    /// quantizer is the trained one (same statistics on the latents), and it encodes and decodes audio.
    func testLatentsTrainAndSetQuantizer() throws {
        let root = RepoPaths.fixtures.appendingPathComponent("encodec/encodec_24khz_tiny")
        let th = root.appendingPathComponent("encodec_24khz_tiny.th").path
        guard FileManager.default.fileExists(atPath: th) else { throw XCTSkip("no 24 kHz tiny fixture") }
        // 15 s of seeded tones and noise at 24 kHz: 1125 latent frames of D = 8, for 4 codebooks of 1024.
        var rng = SeededRNG(seed: 74)
        let rate = 24000, length = 15 * rate
        let samples = (0..<length).map { i -> Float in
            let t = Float(i) / Float(rate)
            return 0.3 * sin(2 * .pi * (220 + 40 * t) * t) + 0.1 * sin(2 * .pi * 1375 * t) + 0.05 * rng.normal()
        }
        let wav = dir.path("tones.wav")
        try AudioFile.write(AudioBuffer(sampleRate: rate, channelCount: 1, samples: samples), to: wav)
        let latents = dir.path("latents.npy")
        var r = try codec(["latents", wav, "--model", th, "-o", latents])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("1125 latent vectors of dimension 8"), r.stdout)
        XCTAssertEqual(try readNpy(latents).shape, [1125, 8])

        let rvq = dir.path("rvq.safetensors"), model2 = dir.path("m2.safetensors")
        r = try codec(["rvq", "train", latents, "--stages", "4", "--codebook-size", "1024", "--iterations", "8", "--refine", "1", "-o", rvq])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try codec(["model", "set-quantizer", th, rvq, "-o", model2])
        XCTAssertEqual(r.status, 0, r.stderr)
        let statsNew = try codec(["rvq", "stats", latents, "--codebooks", model2, "--json"])
        let statsTrained = try codec(["rvq", "stats", latents, "--codebooks", rvq, "--json"])
        let statsOld = try codec(["rvq", "stats", latents, "--codebooks", th, "--json"])
        XCTAssertEqual(statsNew.status, 0, statsNew.stderr)
        XCTAssertEqual(statsNew.stdout, statsTrained.stdout)
        let newEnergy = stages(try json(statsNew.stdout))[3]["residualEnergy"] as! Double
        let oldEnergy = stages(try json(statsOld.stdout))[3]["residualEnergy"] as! Double
        XCTAssertLessThan(newEnergy, oldEnergy, "codebooks trained on the latents fit them better")
        r = try codec(["roundtrip", wav, "--model", model2, "-o", dir.path("rt.wav")])
        XCTAssertEqual(r.status, 0, r.stderr)

        // Codebooks that do not fit the model are refused, naming both files; nothing is written.
        let small = dir.path("small.safetensors")
        XCTAssertEqual(try codec(["rvq", "train", latents, "--stages", "3", "--codebook-size", "8", "--iterations", "2", "-o", small]).status, 0)
        r = try codec(["model", "set-quantizer", th, small, "-o", dir.path("m3.safetensors")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("small.safetensors: 3 stages, but \(th) has 4 codebooks"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("m3.safetensors")))
    }
}
