import XCTest
import AudioIO
import TestSupport

/// `codec tokenize`, `codec tokens` and `codec decode` of .npy tokens end to end, on the tiny 24 kHz
/// EnCodec fixture model and short synthetic clips.
final class TokenizeCommandTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    private func codec(_ args: String...) throws -> ProcessResult { try runProcess(RepoPaths.codecBinary, args) }
    private var model: String {
        RepoPaths.fixtures.appendingPathComponent("encodec/encodec_24khz_tiny/encodec_24khz_tiny.th").path
    }

    /// A corpus: three good clips (one stereo 16 kHz, converted by the tool) in a tree, one junk file.
    private func makeCorpus() throws -> String {
        let root = dir.path("corpus")
        try FileManager.default.createDirectory(atPath: root + "/spk1/deep", withIntermediateDirectories: true)
        var rng = SeededRNG(seed: 11)
        func clip(_ seconds: Double, rate: Int = 24000, channels: Int = 1) -> AudioBuffer {
            let n = Int(seconds * Double(rate))
            return AudioBuffer(sampleRate: rate, channelCount: channels, samples: (0..<(n * channels)).map { i in
                0.3 * sin(Float(i % n) * 0.05 * Float(1 + i / n)) + 0.05 * rng.uniform() })
        }
        _ = try AudioFile.write(clip(0.5), to: root + "/a.wav")
        _ = try AudioFile.write(clip(0.3), to: root + "/spk1/b.wav")
        _ = try AudioFile.write(clip(0.4, rate: 16000, channels: 2), to: root + "/spk1/deep/c.flac")
        try Data("not audio".utf8).write(to: URL(fileURLWithPath: root + "/spk1/bad.wav"))
        return root
    }

    private func manifestLines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// Rank-2 int16 `.npy` header shape, from the file (numpy's header dict).
    private func npyShape(_ path: String) throws -> String {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let header = String(decoding: d.prefix(128), as: UTF8.self)
        XCTAssertTrue(header.contains("'descr': '<i2'"), header)
        return String(header[header.range(of: "'shape': ")!.upperBound...].prefix { $0 != ")" }) + ")"
    }

    func testTokenizeResumeFailuresShardsAndMerge() throws {
        let corpus = try makeCorpus()
        let out = dir.path("out")
        var r = try codec("tokenize", corpus, "-o", out, "--model", model, "--bandwidth", "1.5")
        XCTAssertEqual(r.status, 1, "a failed input makes the exit status 1: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("tokenized 4 of 4 files"), r.stdout)
        XCTAssertTrue(r.stdout.contains("3 encoded"), r.stdout)
        XCTAssertTrue(r.stdout.contains("1 failed"), r.stdout)
        XCTAssertTrue(r.stderr.contains("bad.wav"), r.stderr)
        XCTAssertFalse(r.stderr.contains("\r"), "no progress bar when stderr is not a terminal")
        let lines = try manifestLines(out + "/manifest.jsonl")
        XCTAssertEqual(lines.map { $0["relative"] as! String }, ["a.wav", "spk1/b.wav", "spk1/bad.wav", "spk1/deep/c.flac"])
        XCTAssertEqual(lines.map { $0["status"] as! String }, ["ok", "ok", "failed", "ok"])
        XCTAssertTrue((lines[2]["error"] as! String).contains("not a readable audio file"), "\(lines[2])")
        // 24 kHz model, hop 320: 0.5 s → 38 frames (⌈12000/320⌉), 2 codebooks at 1.5 kbps.
        XCTAssertEqual(lines[0]["frames"] as? Int, 38)
        XCTAssertEqual(lines[0]["codebooks"] as? Int, 2)
        XCTAssertEqual(lines[0]["duration"] as? Double, 0.5)
        XCTAssertEqual(lines[3]["duration"] as? Double, 0.4)
        XCTAssertEqual((lines[0]["model_hash"] as? String)?.count, 16)
        XCTAssertEqual(try npyShape(out + "/a.npy"), "(2, 38)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/spk1/deep/c.npy"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/spk1/bad.npy"))

        // The tokens are the codes `codec encode` makes: decoding both gives the same audio.
        XCTAssertEqual(try codec("encode", corpus + "/a.wav", "-o", dir.path("a.ecdc"), "--model", model, "--bandwidth", "1.5").status, 0)
        XCTAssertEqual(try codec("decode", dir.path("a.ecdc"), "-o", dir.path("ecdc.wav"), "--model", model).status, 0)
        r = try codec("decode", out + "/a.npy", "-o", dir.path("npy.wav"), "--model", model)
        XCTAssertEqual(r.status, 0, r.stderr)
        let fromEcdc = try AudioFile.read(dir.path("ecdc.wav")), fromNpy = try AudioFile.read(dir.path("npy.wav"))
        XCTAssertEqual(fromNpy.frameCount, 38 * 320)
        XCTAssertEqual(Array(fromNpy.samples.prefix(fromEcdc.frameCount)), fromEcdc.samples)

        // Rerun: finished inputs are skipped (files untouched), the bad one is retried and fails again.
        let before = try FileManager.default.attributesOfItem(atPath: out + "/a.npy")[.modificationDate] as! Date
        r = try codec("tokenize", corpus, "-o", out, "--model", model, "--bandwidth", "1.5")
        XCTAssertTrue(r.stdout.contains("0 encoded") && r.stdout.contains("3 skipped") && r.stdout.contains("1 failed"), r.stdout)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: out + "/a.npy")[.modificationDate] as! Date, before)
        // Another bandwidth is other settings: everything is redone; a changed source is redone.
        _ = try AudioFile.write(AudioBuffer(sampleRate: 24000, channelCount: 1, samples: [Float](repeating: 0.1, count: 4800)), to: corpus + "/spk1/b.wav")
        r = try codec("tokenize", corpus, "-o", out, "--model", model, "--bandwidth", "1.5", "--jobs", "1")
        XCTAssertTrue(r.stdout.contains("1 encoded") && r.stdout.contains("2 skipped"), r.stdout)
        XCTAssertEqual(try npyShape(out + "/spk1/b.npy"), "(2, 15)")
        try FileManager.default.removeItem(atPath: corpus + "/spk1/bad.wav")
        r = try codec("tokenize", corpus, "-o", out, "--model", model, "--bandwidth", "3")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("3 encoded"), r.stdout)
        XCTAssertEqual(try npyShape(out + "/a.npy"), "(4, 38)")
        let single = try Data(contentsOf: URL(fileURLWithPath: out + "/manifest.jsonl"))
        // The old failed entry of the removed file stays (other inputs' entries are kept): 4 lines.
        XCTAssertEqual(try manifestLines(out + "/manifest.jsonl").count, 4)
        try FileManager.default.removeItem(atPath: out + "/manifest.jsonl")
        r = try codec("tokenize", corpus, "-o", out, "--model", model, "--bandwidth", "3")
        let clean = try Data(contentsOf: URL(fileURLWithPath: out + "/manifest.jsonl"))
        XCTAssertNotEqual(single, clean)

        // Shards: every input in exactly one shard; merged manifest equals the single-process one, and so
        // do the token files.
        let sharded = dir.path("sharded")
        var shardOf: [String: Int] = [:]
        for i in 0..<3 {
            r = try runProcess(RepoPaths.codecBinary, ["tokenize", corpus, "-o", sharded, "--model", model, "--bandwidth", "3"],
                               environment: ["SLURM_ARRAY_TASK_ID": "\(i)", "SLURM_ARRAY_TASK_COUNT": "3"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("(shard \(i)/3)"), r.stdout)
            for e in try manifestLines(sharded + "/manifest.shard-\(i)-of-3.jsonl") {
                XCTAssertNil(shardOf[e["relative"] as! String], "input in two shards")
                shardOf[e["relative"] as! String] = i
            }
        }
        XCTAssertEqual(shardOf.count, 3)
        r = try codec("tokenize", "--merge", "-o", sharded)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("merged 3 entries (3 ok, 0 failed"), r.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: sharded + "/manifest.jsonl")), clean)
        for rel in ["a.npy", "spk1/b.npy", "spk1/deep/c.npy"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: sharded + "/" + rel)),
                           try Data(contentsOf: URL(fileURLWithPath: out + "/" + rel)), rel)
        }
        // Merging with a shard missing fails, naming it.
        try FileManager.default.removeItem(atPath: sharded + "/manifest.shard-1-of-3.jsonl")
        r = try codec("tokenize", "--merge", "-o", sharded)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("missing shard(s) 1 of 3"), r.stderr)
    }

    func testFailFastManifestInputAndLoadTokensScript() throws {
        let corpus = try makeCorpus()
        try "spk1/deep/c.flac\nspk1/bad.wav\n".write(toFile: corpus + "/list.txt", atomically: true, encoding: .utf8)
        var r = try codec("tokenize", corpus + "/list.txt", "-o", dir.path("ff"), "--model", model, "--fail-fast", "--jobs", "1")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("bad.wav"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("ff/spk1/deep/c.npy")), "fail-fast stops before the next input")
        r = try codec("tokenize", corpus + "/list.txt", "-o", dir.path("ff"), "--model", model, "--shard", "3/2")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("invalid shard"), r.stderr)

        // Python side: scripts/load_tokens.py builds a batch from the output (skipped without numpy).
        let out = dir.path("out")
        XCTAssertEqual(try codec("tokenize", corpus + "/a.wav", corpus + "/spk1", "-o", out, "--model", model).status, 1)
        let env = URL(fileURLWithPath: "/usr/bin/env") // python3 from PATH
        guard (try? runProcess(env, ["python3", "-c", "import numpy"]).status) == 0 else {
            throw XCTSkip("python3 with numpy not found: load_tokens.py not tested")
        }
        r = try runProcess(env, ["python3", RepoPaths.root.appendingPathComponent("scripts/load_tokens.py").path, out, "--batch", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
        XCTAssertEqual(summary["ok"] as? Int, 3)
        XCTAssertEqual(summary["failed"] as? Int, 1)
        XCTAssertEqual(summary["batch_shape"] as? [Int], [3, 4, 38])
        XCTAssertEqual(summary["lengths"] as? [Int], [38, 23, 30])
    }

    func testLayoutUnlayoutDecodeAndEmbeddings() throws {
        let corpus = try makeCorpus()
        let out = dir.path("out")
        XCTAssertEqual(try codec("tokenize", corpus + "/a.wav", "-o", out, "--model", model, "--bandwidth", "3").status, 0)
        let codes = out + "/a.npy"
        XCTAssertEqual(try codec("decode", codes, "-o", dir.path("plain.wav"), "--model", model).status, 0)
        let plain = try AudioFile.read(dir.path("plain.wav"))
        for pattern in ["parallel", "delay", "flatten", "coarse-first"] {
            let seq = dir.path("\(pattern).npy"), back = dir.path("\(pattern)-back.npy")
            var r = try codec("tokens", "layout", codes, "--pattern", pattern, "--model", model, "-o", seq)
            XCTAssertEqual(r.status, 0, r.stderr)
            let expected = ["parallel": "[4, 39]", "delay": "[4, 42]", "flatten": "[152]", "coarse-first": "[4, 77]"][pattern]!
            XCTAssertTrue(r.stdout.contains(expected), "\(pattern): \(r.stdout)")
            var args = ["tokens", "unlayout", seq, "--pattern", pattern, "--bins", "1024", "-o", back]
            if pattern == "flatten" { args += ["--codebooks", "4"] }
            r = try runProcess(RepoPaths.codecBinary, args)
            XCTAssertEqual(r.status, 0, r.stderr)
            // Same codes, written as the same int16 file.
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: back)), try Data(contentsOf: URL(fileURLWithPath: codes)), pattern)
            // Decode straight from the laid-out sequence.
            args = ["decode", seq, "--pattern", pattern, "-o", dir.path("\(pattern).wav"), "--model", model]
            if pattern == "flatten" { args += ["--codebooks", "4"] }
            r = try runProcess(RepoPaths.codecBinary, args)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try AudioFile.read(dir.path("\(pattern).wav")).samples, plain.samples, pattern)
        }
        // A sequence decoded with the wrong pattern is refused with the position.
        var r = try codec("decode", dir.path("delay.npy"), "--pattern", "parallel", "-o", dir.path("x.wav"), "--model", model)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("delay.npy: invalid laid-out sequence"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("x.wav")))
        // Without --pattern a sequence is not codes.
        r = try codec("decode", dir.path("flatten.npy"), "-o", dir.path("x.wav"), "--model", model)
        XCTAssertTrue(r.stderr.contains("--pattern"), r.stderr)

        // Embeddings: safetensors with codebook.0 … codebook.3 (the fixture has 4), each [1024, D].
        r = try codec("tokens", "embeddings", "--model", model, "-o", dir.path("e.safetensors"))
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.path("e.safetensors")))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< 8 + n)) as! [String: Any]
        let names = header.keys.filter { $0.hasPrefix("codebook.") }.sorted()
        XCTAssertEqual(names, (0..<4).map { "codebook.\($0)" })
        let shape = (header["codebook.3"] as! [String: Any])["shape"] as! [Int]
        XCTAssertEqual(shape[0], 1024)
        XCTAssertEqual(data.count, 8 + n + 4 * 1024 * shape[1] * 4)
    }
}
