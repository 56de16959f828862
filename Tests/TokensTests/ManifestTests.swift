import XCTest
import Foundation
import TestSupport
import Tokens

/// Resume decisions, kill-tolerant reading, merging of shard manifests, and corpus input collection.
final class ManifestTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    let settings = TokenizeSettings(model: "m", modelHash: "00000000000000aa", bandwidth: 1.5, codebooks: 2)

    func entry(_ rel: String, status: ManifestEntry.Status = .ok, bytes: Int? = 10) -> ManifestEntry {
        ManifestEntry(source: "/c/\(rel)", relative: rel, output: (rel as NSString).deletingPathExtension + ".npy",
                      size: 100, mtime: 1234.5, duration: 1, frames: 75, codebooks: 2, bytes: bytes, model: "m",
                      modelHash: "00000000000000aa", bandwidth: 1.5, status: status, error: status == .ok ? nil : "bad")
    }

    func testFinishedOnlyWithSameSourceModelSettingsAndOutput() throws {
        let e = entry("a.wav")
        let stamp = SourceStamp(size: 100, mtime: 1234.5)
        // Output missing → not finished.
        XCTAssertFalse(Manifest.isFinished(e, source: stamp, settings: settings, outputDirectory: dir.url.path))
        XCTAssertTrue(FileManager.default.createFile(atPath: dir.path("a.npy"), contents: Data(count: 10)))
        XCTAssertTrue(Manifest.isFinished(e, source: stamp, settings: settings, outputDirectory: dir.url.path))
        // Each difference makes it unfinished.
        XCTAssertFalse(Manifest.isFinished(e, source: SourceStamp(size: 101, mtime: 1234.5), settings: settings, outputDirectory: dir.url.path))
        XCTAssertFalse(Manifest.isFinished(e, source: SourceStamp(size: 100, mtime: 1234.6), settings: settings, outputDirectory: dir.url.path))
        var s = settings; s.modelHash = "00000000000000ab"
        XCTAssertFalse(Manifest.isFinished(e, source: stamp, settings: s, outputDirectory: dir.url.path))
        s = settings; s.bandwidth = 3; s.codebooks = 4
        XCTAssertFalse(Manifest.isFinished(e, source: stamp, settings: s, outputDirectory: dir.url.path))
        XCTAssertFalse(Manifest.isFinished(entry("a.wav", status: .failed), source: stamp, settings: settings, outputDirectory: dir.url.path))
        // A partial output (wrong size) is redone.
        XCTAssertTrue(FileManager.default.createFile(atPath: dir.path("a.npy"), contents: Data(count: 7)))
        XCTAssertFalse(Manifest.isFinished(e, source: stamp, settings: settings, outputDirectory: dir.url.path))
    }

    func testReadToleratesOnlyACutLastLineAndAppenderDropsIt() throws {
        let path = dir.path("manifest.jsonl")
        let good = Manifest.line(entry("a.wav")) + "\n" + Manifest.line(entry("b.wav")) + "\n"
        try Data((good + String(Manifest.line(entry("c.wav")).prefix(40))).utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try Manifest.read(path: path).map(\.relative), ["a.wav", "b.wav"])
        let appender = try ManifestAppender(path: path)
        try appender.append(entry("c.wav"))
        appender.close()
        XCTAssertEqual(try Manifest.read(path: path).map(\.relative), ["a.wav", "b.wav", "c.wav"])
        // A bad line in the middle is an error naming the line.
        try Data(("{}\n" + good).utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Manifest.read(path: path)) { XCTAssertTrue("\($0)".contains("manifest.jsonl:1"), "\($0)") }
        // Later entries win.
        XCTAssertEqual(Manifest.latest([entry("a.wav", status: .failed), entry("a.wav")])["a.wav"]?.status, .ok)
    }

    func testMergeJoinsAllShardsAndRefusesGapsAndOverlaps() throws {
        let paths = (0..<40).map { "d\($0 % 3)/f\($0).wav" }
        let n = 3
        for i in 0..<n {
            let shard = try ShardSpec(index: i, count: n)
            try Manifest.write(paths.filter(shard.contains).map { entry($0) }, to: dir.path(shard.manifestName))
        }
        let merged = try Manifest.merge(directory: dir.url.path)
        XCTAssertEqual(merged.map(\.relative), paths.sorted())
        let single = dir.path("single.jsonl")
        try Manifest.write(paths.map { entry($0) }, to: single)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("manifest.jsonl"))),
                       try Data(contentsOf: URL(fileURLWithPath: single)), "merged equals single-process manifest")
        // An input in two shards.
        try Manifest.write([entry(paths[0]), entry(paths[1])].filter { ShardSpec.shard(of: $0.relative, count: n) != 2 } + [entry(paths[0])],
                           to: dir.path("manifest.shard-2-of-3.jsonl"))
        XCTAssertThrowsError(try Manifest.merge(directory: dir.url.path)) { XCTAssertTrue("\($0)".contains("in both"), "\($0)") }
        // A missing shard.
        try FileManager.default.removeItem(atPath: dir.path("manifest.shard-1-of-3.jsonl"))
        XCTAssertThrowsError(try Manifest.merge(directory: dir.url.path)) { XCTAssertTrue("\($0)".contains("missing shard(s) 1 of 3"), "\($0)") }
    }

    func testCorpusCollectsDirectoriesManifestsAndFiles() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.path("c/x/y"), withIntermediateDirectories: true)
        for p in ["c/a.wav", "c/x/b.FLAC", "c/x/y/c.ogg", "c/notes.txt", "c/.hidden.wav", "solo.wav"] {
            XCTAssertTrue(fm.createFile(atPath: dir.path(p), contents: Data()))
        }
        var inputs = try Corpus.collect([dir.path("c")])
        XCTAssertEqual(inputs.map(\.relative), ["a.wav", "x/b.FLAC", "x/y/c.ogg"])
        XCTAssertEqual(inputs.map(\.output), ["a.npy", "x/b.npy", "x/y/c.npy"])
        XCTAssertEqual(inputs[0].source, dir.path("c/a.wav"))
        try "c/a.wav\n# comment\n\nc/x/b.FLAC\n".write(toFile: dir.path("list.txt"), atomically: true, encoding: .utf8)
        try "{\"path\": \"c/x/y/c.ogg\", \"text\": \"hi\"}\n\"solo.wav\"\n{\"audio_filepath\": \"\(dir.path("c/a.wav"))\"}\n"
            .write(toFile: dir.path("m.jsonl"), atomically: true, encoding: .utf8)
        inputs = try Corpus.collect([dir.path("list.txt")])
        XCTAssertEqual(inputs.map(\.relative), ["c/a.wav", "c/x/b.FLAC"])
        // The JSONL names c/a.wav by an absolute path inside its directory: the same relative path.
        XCTAssertThrowsError(try Corpus.collect([dir.path("m.jsonl"), dir.path("list.txt")])) {
            XCTAssertTrue("\($0)".contains("c/a.npy would also be written"), "\($0)")
        }
        inputs = try Corpus.collect([dir.path("m.jsonl")])
        XCTAssertEqual(inputs.map(\.relative), ["c/a.wav", "c/x/y/c.ogg", "solo.wav"])
        XCTAssertEqual(try Corpus.collect([dir.path("solo.wav")]).map(\.relative), ["solo.wav"])
        XCTAssertThrowsError(try Corpus.collect([dir.path("none")])) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
        try "{\"x\": 1}\n".write(toFile: dir.path("bad.jsonl"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Corpus.collect([dir.path("bad.jsonl")])) { XCTAssertTrue("\($0)".contains("bad.jsonl:1"), "\($0)") }
    }
}
