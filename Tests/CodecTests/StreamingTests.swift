import XCTest
import Codec
import ModelFile
import TestSupport

/// Streaming encode/decode equals whole-file encode/decode bit for bit, whatever the block sizes: on the
/// EnCodec parity fixtures (24 kHz causal with LSTM: frame streaming; 48 kHz non-causal with GroupNorm:
/// segment streaming) and on small random models of other padding rules.
final class StreamingTests: XCTestCase {
    static func fixtureModel(_ name: String) throws -> CodecModel {
        try CodecModel.load(path: RepoPaths.fixtures.appendingPathComponent("encodec/\(name)/\(name).th").path)
    }

    /// A seeded test signal: a few partials with a slow envelope plus noise, planar [channels, length].
    static func signal(length: Int, channels: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        var out = [Float](repeating: 0, count: length * channels)
        for c in 0..<channels {
            let f0 = 110 + 40 * Float(c) + 50 * rng.uniform(0, 1)
            for i in 0..<length {
                let t = Float(i) / 24000
                let env = 0.5 + 0.4 * sin(2 * .pi * 1.3 * t)
                out[c * length + i] = env * (0.3 * sin(2 * .pi * f0 * t) + 0.15 * sin(2 * .pi * 3.7 * f0 * t)) + 0.05 * rng.uniform()
            }
        }
        return out
    }

    /// Block sizes summing to `total`: log-uniform between 1 and `maxBlock`.
    static func blockSizes(total: Int, maxBlock: Int, seed: UInt64) -> [Int] {
        var rng = SeededRNG(seed: seed)
        var sizes: [Int] = []
        var left = total
        while left > 0 {
            let n = min(left, max(1, Int(exp(rng.uniform(0, 1) * log(Float(maxBlock))))))
            sizes.append(n); left -= n
        }
        return sizes
    }

    /// Planar [C, T] columns `range`.
    static func columns(_ x: [Float], channels: Int, _ range: Range<Int>) -> [Float] {
        let t = x.count / channels
        var out: [Float] = []
        for c in 0..<channels { out += x[c * t + range.lowerBound ..< c * t + range.upperBound] }
        return out
    }

    /// Streams `audio` through an encoder in `sizes` blocks, then the codes through a decoder in chunks of
    /// random frame counts; returns (codes, audio, chunks returned before finish).
    static func stream(_ model: CodecModel, _ audio: [Float], sizes: [Int], bandwidth: Double?, seed: UInt64)
        throws -> (EncodedAudio, [Float], early: Int) {
        let c = model.config.channels, t = audio.count / c
        let enc = try CodecEncoderStream(model: model, bandwidth: bandwidth)
        var chunks: [CodeChunk] = []
        var offset = 0
        for n in sizes {
            chunks += try enc.push(columns(audio, channels: c, offset ..< offset + n))
            offset += n
        }
        let early = chunks.count
        chunks += try enc.finish()
        let encoded = EncodedAudio(modelName: model.config.name, length: t, codebooks: enc.codebooks, chunks: chunks)
        // Decode: re-cut each chunk into random frame counts.
        var rng = SeededRNG(seed: seed &+ 99)
        let dec = try CodecDecoderStream(model: model, length: t)
        var out: [Float] = []
        func append(_ y: [Float]) {
            out = join(out, y, channels: c)
        }
        for chunk in chunks {
            var f = 0
            while f < chunk.codes.frames {
                let n = min(chunk.codes.frames - f, 1 + Int(rng.uniform(0, 1) * 40))
                var codes: [Int32] = []
                for k in 0..<chunk.codes.codebooks { codes += chunk.codes.stage(k)[chunk.codes.stage(k).startIndex + f ..< chunk.codes.stage(k).startIndex + f + n] }
                let piece = CodeChunk(segment: chunk.segment, firstFrame: chunk.firstFrame + f,
                                      codes: EncodedSegment(codebooks: chunk.codes.codebooks, frames: n, codes: codes, scale: chunk.codes.scale),
                                      endsSegment: chunk.endsSegment && f + n == chunk.codes.frames)
                append(try dec.push(piece))
                f += n
            }
        }
        append(try dec.finish())
        return (encoded, out, early)
    }

    static func join(_ a: [Float], _ b: [Float], channels c: Int) -> [Float] {
        if a.isEmpty { return b }
        if b.isEmpty { return a }
        let na = a.count / c, nb = b.count / c
        var out: [Float] = []
        for ch in 0..<c { out += a[ch * na ..< (ch + 1) * na]; out += b[ch * nb ..< (ch + 1) * nb] }
        return out
    }

    func assertStreamsExactly(_ model: CodecModel, _ audio: [Float], maxBlock: Int, seeds: [UInt64], bandwidth: Double? = nil,
                              label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = model.config.channels
        let whole = try model.encode(audio, channels: c, bandwidth: bandwidth)
        let decoded = try model.decode(whole)
        for seed in seeds {
            let sizes = Self.blockSizes(total: audio.count / c, maxBlock: maxBlock, seed: seed)
            let (codes, out, _) = try Self.stream(model, audio, sizes: sizes, bandwidth: bandwidth, seed: seed)
            XCTAssertEqual(codes, whole, "\(label): codes, seed \(seed), \(sizes.count) blocks", file: file, line: line)
            XCTAssertEqual(out.count, decoded.count, "\(label): decoded length, seed \(seed)", file: file, line: line)
            if out.count == decoded.count {
                let diff = zip(out, decoded).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                XCTAssertEqual(diff, 0, "\(label): \(diff) decoded samples differ, seed \(seed)", file: file, line: line)
            }
        }
    }

    // MARK: 24 kHz causal (frame streaming)

    func testCausalFixtureStreamsExactlyWithRandomBlocksUpToSeconds() throws {
        let model = try Self.fixtureModel("encodec_24khz_tiny")
        XCTAssertEqual(try StreamingMode.of(model.config, encoding: true), .frames)
        let audio = Self.signal(length: 3 * 24000 + 777, channels: 1, seed: 5)
        try assertStreamsExactly(model, audio, maxBlock: 2 * 24000, seeds: [1, 2, 3], label: "24k 3 s")
        try assertStreamsExactly(model, audio, maxBlock: 4000, seeds: [4], bandwidth: 1.5, label: "24k 3 s, 1.5 kbps")
    }

    func testCausalFixtureStreamsExactlyOneSampleAtATime() throws {
        let model = try Self.fixtureModel("encodec_24khz_tiny")
        let audio = Self.signal(length: 6000, channels: 1, seed: 7)
        let whole = try model.encode(audio, channels: 1, bandwidth: nil)
        let (codes, out, _) = try Self.stream(model, audio, sizes: Array(repeating: 1, count: 6000), bandwidth: nil, seed: 1)
        XCTAssertEqual(codes, whole)
        XCTAssertEqual(out.map(\.bitPattern), try model.decode(whole).map(\.bitPattern))
        try assertStreamsExactly(model, audio, maxBlock: 9, seeds: [11, 12], label: "24k blocks of 1...9")
    }

    /// Lengths around the hop, the quantizer's 8- and 32-frame rules and the reflect start-up.
    func testCausalFixtureEdgeLengths() throws {
        let model = try Self.fixtureModel("encodec_24khz_tiny")
        for length in [1, 2, 6, 7, 8, 200, 319, 320, 321, 7 * 320, 8 * 320 - 5, 8 * 320 + 1, 32 * 320, 32 * 320 + 1, 33 * 320 + 17, 40 * 320 + 3] {
            let audio = Self.signal(length: length, channels: 1, seed: UInt64(length))
            try assertStreamsExactly(model, audio, maxBlock: max(2, length / 3), seeds: [UInt64(length) &* 3], label: "length \(length)")
        }
    }

    /// The parity fixture's own inputs (whose whole-file codes match encodec's).
    func testCausalFixtureCasesStreamExactly() throws {
        let dir = RepoPaths.fixtures.appendingPathComponent("encodec/encodec_24khz_tiny")
        let model = try Self.fixtureModel("encodec_24khz_tiny")
        let cases = try SafeTensors.read(path: dir.appendingPathComponent("cases.safetensors").path)
        var checked = 0
        for name in cases.tensors.keys.sorted() where name.hasSuffix("/input") {
            try assertStreamsExactly(model, try cases.float(name).values, maxBlock: 5000, seeds: [21], label: name)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 5)
    }

    func testFrameStreamingReleasesCodesAndAudioBeforeTheEnd() throws {
        let model = try Self.fixtureModel("encodec_24khz_tiny")
        let audio = Self.signal(length: 2 * 24000, channels: 1, seed: 9)
        let enc = try CodecEncoderStream(model: model, bandwidth: nil)
        var early: [CodeChunk] = []
        for i in 0..<48 { early += try enc.push(Array(audio[i * 1000 ..< (i + 1) * 1000])) }
        let frames = early.reduce(0) { $0 + $1.codes.frames }
        // 48000 samples = 150 frames; all complete 32-frame groups are out before finish.
        XCTAssertEqual(frames, 128)
        let rest = try enc.finish()
        XCTAssertEqual(rest.reduce(0) { $0 + $1.codes.frames }, 22)
        let dec = try CodecDecoderStream(model: model, length: 48000)
        // Causal decoder: once its first conv has 7 frames of context, every frame's audio is final at once.
        XCTAssertEqual(early[0].codes.frames, 32)
        XCTAssertEqual(try dec.push(early[0]).count, 32 * 320, "audio comes out while codes arrive")
    }

    // MARK: 48 kHz non-causal (segment streaming)

    func testSegmentedFixtureStreamsExactly() throws {
        let model = try Self.fixtureModel("encodec_48khz_tiny")
        guard case let .segments(length, stride) = try StreamingMode.of(model.config, encoding: true) else {
            return XCTFail("48 kHz model should stream by segments")
        }
        XCTAssertEqual(length, 48000)
        XCTAssertEqual(stride, 47520)
        let audio = Self.signal(length: 2 * 48000 + 1234, channels: 2, seed: 13)
        try assertStreamsExactly(model, audio, maxBlock: 3 * 48000, seeds: [1, 2], label: "48k 2 s")
        // One segment (no overlap-add), exactly a segment, a segment plus the overlap.
        for n in [30000, 47520, 48000, 48001] {
            try assertStreamsExactly(model, Self.signal(length: n, channels: 2, seed: UInt64(n)), maxBlock: 20000,
                                     seeds: [UInt64(n)], label: "48k length \(n)")
        }
    }

    // MARK: other padding rules (small random models)

    func testNonCausalAndZeroPaddedModelsStreamFrameByFrame() throws {
        var configs: [CodecConfig] = []
        var a = CodecModelTests.smallConfig(.encodec24kHz)
        a.causal = false; a.trimRightRatio = 1; a.name = "noncausal"
        configs.append(a)
        var b = CodecModelTests.smallConfig(.encodec24kHz)
        b.padMode = .constant; b.name = "zero-padded"
        configs.append(b)
        var c = CodecModelTests.smallConfig(.encodec24kHz)
        c.padMode = .replicate; c.causal = false; c.lstmLayers = 0; c.name = "replicate"
        configs.append(c)
        for config in configs {
            let model = try CodecModel(config: config, tensors: try CodecModelTests.randomTensors(config, seed: 4), path: config.name)
            XCTAssertEqual(try StreamingMode.of(config, encoding: true), .frames)
            let audio = Self.signal(length: 24000 + 555, channels: 1, seed: 17)
            try assertStreamsExactly(model, audio, maxBlock: 12000, seeds: [1, 2], label: config.name)
            try assertStreamsExactly(model, Array(audio.prefix(900)), maxBlock: 7, seeds: [3], label: "\(config.name) short")
        }
    }

    // MARK: .ecdc chunk by chunk

    /// EnCodec's own `.ecdc` files: EcdcReader's chunks equal Ecdc.read, EcdcWriter rewrites the same bytes.
    func testEcdcReaderAndWriterMatchTheWholeFileFormat() throws {
        let tmp = TemporaryDirectory()
        var checked = 0
        for name in ["encodec_24khz_tiny", "encodec_48khz_tiny"] {
            var config = try Self.fixtureModel(name).config
            config.name = name  // the fixture files carry the fixture's name
            let dir = RepoPaths.fixtures.appendingPathComponent("encodec/\(name)/ecdc")
            for file in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where file.hasSuffix(".ecdc") {
                let path = dir.appendingPathComponent(file).path
                let whole = try Ecdc.read(path: path, config: config)
                for maxFrames in [1, 7, 1000] {
                    let reader = try EcdcReader(path: path, config: config)
                    XCTAssertEqual(reader.header.audioLength, whole.length)
                    var chunks: [CodeChunk] = []
                    while let c = try reader.next(maxFrames: maxFrames) { chunks.append(c) }
                    XCTAssertTrue(chunks.allSatisfy { $0.codes.frames <= maxFrames })
                    let joined = EncodedAudio(modelName: reader.header.modelName, length: reader.header.audioLength,
                                              codebooks: reader.header.codebooks, chunks: chunks)
                    XCTAssertEqual(joined, whole, "\(file), chunks of \(maxFrames)")
                    let out = tmp.path("\(maxFrames)-\(file)")
                    let writer = try EcdcWriter(path: out, modelName: whole.modelName, codebooks: whole.codebooks,
                                                bits: config.bitsPerCodebook)
                    for c in chunks { try writer.write(c) }
                    try writer.finish(audioLength: whole.length)
                    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: path)), "\(file) rewritten")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 4)
        XCTAssertEqual(tmp.contents().filter { $0.hasPrefix(".") }, [], "no temporary files left")
    }

    func testEcdcReaderRejectsTruncatedAndTrailingBytesAndWriterLeavesNothingWhenDropped() throws {
        var config = try Self.fixtureModel("encodec_24khz_tiny").config
        config.name = "encodec_24khz_tiny"
        let src = RepoPaths.fixtures.appendingPathComponent("encodec/encodec_24khz_tiny/ecdc/speech_bw3.ecdc").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: src))
        let tmp = TemporaryDirectory()
        func readAll(_ data: Data) throws {
            let p = tmp.path("t.ecdc")
            FileManager.default.createFile(atPath: p, contents: data)
            let r = try EcdcReader(path: p, config: config)
            while try r.next(maxFrames: 10) != nil {}
        }
        XCTAssertThrowsError(try readAll(bytes.prefix(bytes.count - 3))) { e in XCTAssertTrue("\(e)".contains("truncated"), "\(e)") }
        XCTAssertThrowsError(try readAll(bytes + Data([1, 2]))) { e in XCTAssertTrue("\(e)".contains("unexpected bytes"), "\(e)") }
        XCTAssertThrowsError(try readAll(bytes.prefix(5))) { e in XCTAssertTrue("\(e)".contains("header"), "\(e)") }
        try? FileManager.default.removeItem(atPath: tmp.path("t.ecdc"))
        do {
            let w = try EcdcWriter(path: tmp.path("never.ecdc"), modelName: "m", codebooks: 2, bits: 10)
            try w.write(CodeChunk(segment: 0, firstFrame: 0, codes: EncodedSegment(codebooks: 2, frames: 1, codes: [1, 2], scale: nil), endsSegment: true))
        }
        XCTAssertEqual(tmp.contents(), [], "a dropped writer leaves no file")
    }

    // MARK: errors

    func testStreamErrors() throws {
        let model = try Self.fixtureModel("encodec_24khz_tiny")
        XCTAssertThrowsError(try CodecEncoderStream(model: model, bandwidth: 7)) { e in
            XCTAssertEqual(e as? CodecError, .unsupportedBandwidth(requested: 7, available: [1.5, 3.0]))
        }
        let enc = try CodecEncoderStream(model: model, bandwidth: nil)
        XCTAssertThrowsError(try enc.finish()) { e in XCTAssertTrue("\(e)".contains("empty"), "\(e)") }
        let dec = try CodecDecoderStream(model: model, length: 10)
        let bad = CodeChunk(segment: 0, firstFrame: 0, codes: EncodedSegment(codebooks: 2, frames: 1, codes: [3, 5000], scale: nil), endsSegment: true)
        XCTAssertThrowsError(try dec.push(bad)) { e in
            guard case .invalidCode(_, 1, 0, 5000, 1024)? = e as? CodecError else { return XCTFail("\(e)") }
        }
        var norm = CodecModelTests.smallConfig(.encodec24kHz)
        norm.normalize = true
        XCTAssertThrowsError(try StreamingMode.of(norm, encoding: true)) { e in XCTAssertTrue("\(e)".contains("normalization"), "\(e)") }
        XCTAssertEqual(try StreamingMode.of(norm, encoding: false), .frames)
    }
}
