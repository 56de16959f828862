import XCTest
import AudioIO
import TestSupport

final class AudioFileTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUp() { dir = TemporaryDirectory() }
    override func tearDown() { dir.cleanup() }

    /// Random samples already on the grid of `bits`-bit PCM, so a lossless round trip must be exact.
    private func gridSamples(_ n: Int, bits: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        let scale = Float(1 << (bits - 1))
        return (0..<n).map { _ in (rng.uniform(-1, 1) * (scale - 1)).rounded() / scale }
    }

    func testLosslessRoundTripsAtSeveralRatesAndChannelCounts() throws {
        let cases: [(AudioFileFormat, SampleEncoding, Int)] = [
            (.wav, .pcm8, 8), (.wav, .pcm16, 16), (.wav, .pcm24, 24), (.wav, .pcm32, 24), (.wav, .float32, 24),
            (.flac, .pcm16, 16), (.flac, .pcm24, 24), (.aiff, .pcm16, 16), (.aiff, .pcm24, 24),
        ]
        for (format, encoding, bits) in cases {
            for channels in [1, 2] {
                for rate in [8000, 24000, 44100, 48000] {
                    let audio = AudioBuffer(sampleRate: rate, channelCount: channels,
                                            samples: gridSamples(channels * 1234, bits: bits, seed: UInt64(rate + channels)))
                    let path = dir.path("rt-\(encoding.rawValue)-\(channels)-\(rate).\(format.rawValue)")
                    let report = try AudioFile.write(audio, to: path, encoding: encoding)
                    XCTAssertEqual(report.clippedSamples, 0)
                    let back = try AudioFile.read(path)
                    XCTAssertEqual(back.sampleRate, rate)
                    XCTAssertEqual(back.channelCount, channels)
                    XCTAssertEqual(back.samples, audio.samples, "\(format) \(encoding) \(channels) ch \(rate) Hz")
                }
            }
        }
    }

    func test16BitFileRewrittenIsBitExact() throws {
        // Read the bundled 16-bit sample, write it back, and compare the raw sample bytes.
        let src = RepoPaths.resources.appendingPathComponent("samples/speech-en-24k.wav").path
        let audio = try AudioFile.read(src)
        let out = dir.path("copy.wav")
        try AudioFile.write(audio, to: out)
        let a = try Data(contentsOf: URL(fileURLWithPath: src)), b = try Data(contentsOf: URL(fileURLWithPath: out))
        let n = audio.frameCount * 2
        XCTAssertEqual(a.suffix(n), b.suffix(n), "16-bit PCM must survive read → write unchanged")
    }

    func testVorbisRoundTripIsClose() throws {
        let rate = 44100
        let audio = AudioBuffer(sampleRate: rate, channelCount: 2, samples: (0..<(2 * rate)).map { i in
            Float(0.5 * sin(2 * Double.pi * 440 * Double(i % rate) / Double(rate))) })
        let path = dir.path("tone.ogg")
        try AudioFile.write(audio, to: path, encoding: .vorbis)
        let back = try AudioFile.read(path)
        XCTAssertEqual(back.channelCount, 2)
        XCTAssertEqual(back.frameCount, rate)
        XCTAssertEqual(AudioFile.infoOrNil(path)?.encoding, "Vorbis")
        var err: Float = 0, sig: Float = 0
        for i in 1000..<40000 { let d = back.samples[i] - audio.samples[i]; err += d * d; sig += audio.samples[i] * audio.samples[i] }
        XCTAssertLessThan(10 * log10(err / sig), -20, "lossy, but the tone must survive")
    }

    func testClampAndRescaleReportClipping() throws {
        let audio = AudioBuffer(sampleRate: 8000, channelCount: 1, samples: [0.5, 1.5, -2, 0.25])
        let r1 = try AudioFile.write(audio, to: dir.path("clamp.wav"))
        XCTAssertEqual(r1.clippedSamples, 2)
        XCTAssertEqual(r1.peak, 2)
        XCTAssertEqual(try AudioFile.read(dir.path("clamp.wav")).samples, [0.5, 32767.0 / 32768, -1, 0.25])
        let r2 = try AudioFile.write(audio, to: dir.path("rescale.wav"), clipping: .rescale(peak: 1))
        XCTAssertEqual(r2.clippedSamples, 0)
        XCTAssertEqual(r2.gain, 0.5)
        XCTAssertEqual(try AudioFile.read(dir.path("rescale.wav")).samples, [0.25, 0.75, -1, 0.125])
    }

    func testBlockReaderEqualsWholeRead() throws {
        let audio = AudioBuffer(sampleRate: 16000, channelCount: 2, samples: gridSamples(2 * 10007, bits: 16, seed: 9))
        let path = dir.path("blocks.wav")
        try AudioFile.write(audio, to: path)
        let reader = try AudioFileReader(path: path)
        var joined = AudioBuffer(sampleRate: 16000, channelCount: 2, frames: 0)
        while let b = try reader.read(maxFrames: 999) { XCTAssertLessThanOrEqual(b.frameCount, 999); joined.append(b) }
        XCTAssertEqual(joined, audio)
        XCTAssertEqual(reader.position, 10007)
    }

    func testTenMinuteFileReadInBlocksKeepsMemoryFlat() throws {
        let rate = 24000, minutes = 10
        let path = dir.path("long.wav")
        let writer = try AudioFileWriter(path: path, sampleRate: rate, channelCount: 1)
        let second = AudioBuffer(sampleRate: rate, channelCount: 1,
                                 samples: (0..<rate).map { Float(0.3 * sin(Double($0) * 0.05)) })
        for _ in 0..<(minutes * 60) { try writer.write(second) }
        try writer.finish()
        // Warm up (first block allocations), then read the rest and watch the resident set.
        let reader = try AudioFileReader(path: path)
        _ = try reader.read(maxFrames: 16384)
        let before = currentResidentBytes() ?? 0
        var maxSeen = before, frames = 16384
        while let b = try reader.read(maxFrames: 16384) {
            frames += b.frameCount
            if frames % (rate * 30) < 16384 { maxSeen = max(maxSeen, currentResidentBytes() ?? 0) }
        }
        XCTAssertEqual(frames, rate * 60 * minutes)
        let fileBytes = rate * 60 * minutes * 2
        let growth = maxSeen - before
        // The file is 28.8 MB; a reader that kept it would grow by at least that much (as floats, twice).
        XCTAssertLessThan(growth, 4 << 20, "resident set grew by \(growth) bytes while reading a \(fileBytes)-byte file")
    }

    // MARK: bad input

    func testMissingDirectoryEmptyTextTruncatedAndZeroFrameFiles() throws {
        XCTAssertThrowsError(try AudioFile.read(dir.path("nope.wav"))) {
            XCTAssertEqual($0 as? AudioError, .fileNotFound(path: self.dir.path("nope.wav")))
        }
        XCTAssertThrowsError(try AudioFile.read(dir.url.path)) {
            XCTAssertEqual($0 as? AudioError, .isDirectory(path: self.dir.url.path))
        }
        FileManager.default.createFile(atPath: dir.path("empty.wav"), contents: Data())
        XCTAssertThrowsError(try AudioFile.read(dir.path("empty.wav"))) {
            XCTAssertEqual($0 as? AudioError, .emptyFile(path: self.dir.path("empty.wav")))
        }
        FileManager.default.createFile(atPath: dir.path("text.wav"), contents: Data("hello, not audio\n".utf8))
        XCTAssertThrowsError(try AudioFile.read(dir.path("text.wav"))) { e in
            guard case .unrecognizedFormat(let p, _)? = e as? AudioError else { return XCTFail("\(e)") }
            XCTAssertEqual(p, self.dir.path("text.wav"))
        }
        // A WAV cut in the middle of its data chunk.
        let full = dir.path("full.wav")
        try AudioFile.write(AudioBuffer(sampleRate: 8000, channelCount: 1, samples: gridSamples(8000, bits: 16, seed: 3)), to: full)
        let cut = try Data(contentsOf: URL(fileURLWithPath: full)).prefix(5000)
        FileManager.default.createFile(atPath: dir.path("cut.wav"), contents: cut)
        XCTAssertThrowsError(try AudioFile.read(dir.path("cut.wav"))) {
            XCTAssertEqual($0 as? AudioError, .truncated(path: self.dir.path("cut.wav"), expectedBytes: 16000, foundBytes: 5000 - 44))
        }
        // A valid WAV header with no frames.
        let w = try AudioFileWriter(path: dir.path("zero.wav"), sampleRate: 8000, channelCount: 1)
        try w.finish()
        XCTAssertThrowsError(try AudioFile.read(dir.path("zero.wav"))) {
            XCTAssertEqual($0 as? AudioError, .noAudio(path: self.dir.path("zero.wav")))
        }
    }

    func testUnwritableOutputLeavesNothingBehind() throws {
        let audio = AudioBuffer(sampleRate: 8000, channelCount: 1, frames: 100)
        let missingDir = dir.path("no/such/dir/out.wav")
        XCTAssertThrowsError(try AudioFile.write(audio, to: missingDir)) { e in
            guard case .unwritable(let p, let reason)? = e as? AudioError else { return XCTFail("\(e)") }
            XCTAssertEqual(p, missingDir); XCTAssertTrue(reason.contains("does not exist"))
        }
        XCTAssertThrowsError(try AudioFile.write(audio, to: dir.url.path)) // a directory
        XCTAssertThrowsError(try AudioFile.write(audio, to: dir.path("out.mp4"))) { e in
            guard case .unsupportedOutputFormat? = e as? AudioError else { return XCTFail("\(e)") }
        }
        XCTAssertEqual(dir.contents(), [])
    }

    func testCancelledWriterLeavesNothingAndFinishRenames() throws {
        let path = dir.path("partial.wav")
        do {
            let w = try AudioFileWriter(path: path, sampleRate: 8000, channelCount: 1)
            try w.write(AudioBuffer(sampleRate: 8000, channelCount: 1, frames: 800))
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing at the final path before finish")
            XCTAssertEqual(dir.contents().count, 1, "one temporary file while writing")
        } // dropped without finish
        XCTAssertEqual(dir.contents(), [])
        let w = try AudioFileWriter(path: path, sampleRate: 8000, channelCount: 1)
        try w.write(AudioBuffer(sampleRate: 8000, channelCount: 1, frames: 800))
        XCTAssertEqual(try w.finish().frames, 800)
        XCTAssertEqual(dir.contents(), ["partial.wav"])
    }
}

extension AudioFile {
    static func infoOrNil(_ path: String) -> AudioFileInfo? { try? info(path) }
}
