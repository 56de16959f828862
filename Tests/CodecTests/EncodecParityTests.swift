import XCTest
import Codec
import ModelFile
import NN
import TestSupport

/// Token-exact parity with the reference EnCodec (PyPI `encodec` 0.1.1) on seeded models of the 24 kHz and
/// 48 kHz architectures, made by scripts/make-encodec-fixtures.py. Codes must be identical; decoded audio
/// within 1e-4 of the reference relative to its peak.
///
/// Set NEURALCODEC_ENCODEC_FIXTURES to another directory (e.g. the script's `--full` output) to run the same
/// checks at full width.
final class EncodecParityTests: XCTestCase {
    static var root: URL {
        if let dir = ProcessInfo.processInfo.environment["NEURALCODEC_ENCODEC_FIXTURES"] { return URL(fileURLWithPath: dir) }
        return RepoPaths.fixtures.appendingPathComponent("encodec")
    }

    /// Model directories: each holds one `.th`, `hf/model.safetensors` and `cases.safetensors`.
    static func modelDirectories() throws -> [URL] {
        let fm = FileManager.default
        let dirs = try fm.contentsOfDirectory(at: root, includingPropertiesForKeys: nil)
            .filter { fm.fileExists(atPath: $0.appendingPathComponent("cases.safetensors").path) }
            .sorted { $0.path < $1.path }
        return dirs
    }

    static func checkpoint(in dir: URL) throws -> String {
        let th = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".th") }
        XCTAssertEqual(th.count, 1, "one .th in \(dir.path)")
        return dir.appendingPathComponent(th[0]).path
    }

    /// "<case>/bw<b>/seg<s>/codes" → (case, b, s).
    struct CodesKey: Hashable { var name: String; var bandwidth: String; var segment: Int }

    func testBothArchitecturesExist() throws {
        let names = try Self.modelDirectories().map { $0.lastPathComponent }
        XCTAssertEqual(names.count, 2, "expected a 24 kHz and a 48 kHz fixture, found \(names)")
    }

    func testCodesLatentsAndAudioMatchTheReference() throws {
        for dir in try Self.modelDirectories() {
            let model = try CodecModel.load(path: try Self.checkpoint(in: dir))
            try checkCases(model, dir: dir, label: "\(dir.lastPathComponent) (.th)")
        }
    }

    func testHuggingFaceNamingGivesTheSameModel() throws {
        for dir in try Self.modelDirectories() {
            let th = try ModelArchive.load(path: try Self.checkpoint(in: dir)).withoutTrainingBuffers()
            let hf = try ModelArchive.load(path: dir.appendingPathComponent("hf/model.safetensors").path).withoutTrainingBuffers()
            XCTAssertEqual(Set(hf.tensors.keys), Set(th.tensors.keys), dir.lastPathComponent)
            for (name, t) in th.tensors {
                XCTAssertEqual(hf.tensors[name]?.shape, t.shape, name)
                if let h = hf.tensors[name] {
                    XCTAssertLessThanOrEqual(maxAbsDiff(h.values, t.values), 1e-6 * max(1, t.values.map(abs).max() ?? 1), name)
                }
            }
            XCTAssertEqual(hf.config, th.config)
            try checkCases(try CodecModel(hf), dir: dir, label: "\(dir.lastPathComponent) (HF)", bandwidthLimit: 1)
        }
    }

    func testImportedModelFileRoundTrips() throws {
        let tmp = TemporaryDirectory()
        for dir in try Self.modelDirectories() {
            let archive = try ModelArchive.load(path: try Self.checkpoint(in: dir)).withoutTrainingBuffers()
            let out = tmp.path("\(dir.lastPathComponent).safetensors")
            try archive.write(to: out)
            let back = try ModelArchive.load(path: out)
            XCTAssertEqual(back.config, archive.config)
            XCTAssertEqual(back.tensors, archive.tensors)
        }
    }

    /// Encodes every case at every recorded bandwidth and compares codes (exact), latents and audio.
    func checkCases(_ model: CodecModel, dir: URL, label: String, bandwidthLimit: Int = .max) throws {
        let ref = try SafeTensors.read(path: dir.appendingPathComponent("cases.safetensors").path)
        var codeKeys: [CodesKey] = []
        for name in ref.tensors.keys where name.hasSuffix("/codes") {
            let p = name.split(separator: "/").map(String.init) // case, bwB, segS, codes
            guard p.count == 4, p[1].hasPrefix("bw"), p[2].hasPrefix("seg"), let s = Int(p[2].dropFirst(3)) else { continue }
            codeKeys.append(CodesKey(name: p[0], bandwidth: String(p[1].dropFirst(2)), segment: s))
        }
        let cases = Set(codeKeys.map(\.name)).sorted()
        XCTAssertGreaterThanOrEqual(cases.count, 4, "\(label): cases")
        var compared = 0
        for name in cases {
            let input = try ref.float("\(name)/input")
            let channels = input.shape[0]
            let bandwidths = Set(codeKeys.filter { $0.name == name }.map(\.bandwidth))
                .sorted { Double($0)! < Double($1)! }.prefix(bandwidthLimit)
            for bw in bandwidths {
                let encoded = try model.encode(input.values, channels: channels, bandwidth: Double(bw)!)
                let segs = codeKeys.filter { $0.name == name && $0.bandwidth == bw }.count
                XCTAssertEqual(encoded.segments.count, segs, "\(label) \(name) bw \(bw): segments")
                for (s, seg) in encoded.segments.enumerated() where s < segs {
                    let expected = try ref.integer("\(name)/bw\(bw)/seg\(s)/codes")
                    XCTAssertEqual(expected.shape, [seg.codebooks, seg.frames], "\(label) \(name) bw \(bw) seg \(s): shape")
                    let mismatches = zip(seg.codes, expected.values).filter { Int64($0) != $1 }.count
                    XCTAssertEqual(mismatches, 0, "\(label) \(name) bw \(bw) seg \(s): \(mismatches) codes differ")
                    if let scale = ref.tensors["\(name)/seg\(s)/scale"] != nil ? try ref.float("\(name)/seg\(s)/scale").values[0] : nil {
                        // Bit-exact on every committed case but `short` (250 samples), where torch's float
                        // sum order for that length is not yet reproduced: 1 ulp apart there (codes still equal).
                        let ulps = abs(Int64(seg.scale?.bitPattern ?? 0) - Int64(scale.bitPattern))
                        XCTAssertLessThanOrEqual(ulps, name == "short" ? 1 : 0, "\(label) \(name) seg \(s): scale \(seg.scale ?? .nan) vs \(scale)")
                    }
                    compared += seg.codes.count
                }
                if ref.tensors["\(name)/bw\(bw)/decoded"] != nil {
                    let expected = try ref.float("\(name)/bw\(bw)/decoded")
                    let length = input.shape[1], refLength = expected.shape[1]
                    let decoded = try model.decode(encoded)
                    var worst: Float = 0, peak: Float = 0
                    for c in 0..<channels {
                        for i in 0..<length {
                            let r = expected.values[c * refLength + i]
                            peak = max(peak, abs(r))
                            worst = max(worst, abs(decoded[c * length + i] - r))
                        }
                    }
                    XCTAssertLessThanOrEqual(worst, 1e-4 * max(peak, 1e-6), "\(label) \(name) bw \(bw): decoded audio (peak \(peak))")
                }
            }
            // Latents of the first segment (after normalization), a continuous check of the encoder.
            if ref.tensors["\(name)/seg0/latents"] != nil {
                let lat = try ref.float("\(name)/seg0/latents")
                let length = input.shape[1]
                let segLen = min(length, model.config.segmentLength ?? length)
                var seg = [Float]()
                for c in 0..<channels { seg += input.values[c * length ..< c * length + segLen] }
                if ref.tensors["\(name)/seg0/scale"] != nil {
                    let s = try ref.float("\(name)/seg0/scale").values[0]
                    seg = seg.map { $0 / s }
                }
                let ours = model.latents(seg, channels: channels)
                XCTAssertEqual(ours.shape, [1] + lat.shape)
                let peak = lat.values.map(abs).max() ?? 0
                XCTAssertLessThanOrEqual(maxAbsDiff(ours.data, lat.values), 1e-4 * max(peak, 1e-6), "\(label) \(name): latents")
            }
        }
        XCTAssertGreaterThan(compared, 100, "\(label): too few codes compared")
    }
}
