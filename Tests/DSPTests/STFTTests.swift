import XCTest
import DSP
import TestSupport

final class STFTTests: XCTestCase {
    private func config(_ f: DSPFixture) -> STFTConfig {
        STFTConfig(fftSize: f.int("n_fft"), hopLength: f.int("hop"), windowLength: f.int("win"),
                   center: f.bool("center"), padMode: f.string("pad_mode") == "constant" ? .constant : .reflect,
                   normalized: f.bool("normalized"))
    }

    func testForwardMatchesTorchSTFT() throws {
        for name in ["stft_center_reflect", "stft_no_center", "stft_constant_odd"] {
            let f = try DSPFixture.load(name)
            let stft = try STFT(config(f))
            let s = try stft.forward(f.array("x"), channels: f.int("channels"))
            XCTAssertEqual([s.channels, s.bins, s.frames], f.shape("real"), name)
            XCTAssertNil(complexMismatch(real: s.real, imag: s.imag, expectedReal: f.array("real"),
                                         expectedImag: f.array("imag")), name)
        }
    }

    func testFastPathMatchesScalarReferenceAcrossBlocks() throws {
        // Odd sizes, short windows, both pad modes; T large enough for several full blocks plus a partial one.
        var rng = SeededRNG(seed: 11)
        let cases: [(STFTConfig, Int, Int)] = [
            (STFTConfig(fftSize: 16, hopLength: 3, windowLength: 11), 2, 1000),
            (STFTConfig(fftSize: 15, hopLength: 4, windowLength: 15, padMode: .constant, normalized: true), 1, 900),
            (STFTConfig(fftSize: 8, hopLength: 1, windowLength: 5, center: false), 1, 300),
            (STFTConfig(fftSize: 1, hopLength: 1, windowLength: 1, center: false), 1, 10),
        ]
        for (cfg, channels, length) in cases {
            let x = rng.floats(channels * length)
            let s = try STFT(cfg).forward(x, channels: channels)
            let ref = try STFT.referenceForward(x, channels: channels, config: cfg)
            XCTAssertNil(complexMismatch(real: s.real, imag: s.imag, expectedReal: ref.real.map(Float.init),
                                         expectedImag: ref.imag.map(Float.init)), "n \(cfg.fftSize)")
        }
    }

    func testResultDoesNotDependOnThreadCount() throws {
        var rng = SeededRNG(seed: 12)
        let x = rng.floats(2 * 20000)
        let stft = try STFT(fftSize: 256, hopLength: 64)
        let one = try DSPThreads.withThreads(1) { try stft.forward(x, channels: 2) }
        for threads in [2, 3, 5] {
            let many = try DSPThreads.withThreads(threads) { try stft.forward(x, channels: 2) }
            XCTAssertEqual(one, many, "forward with \(threads) threads")
            let y1 = try DSPThreads.withThreads(1) { try stft.inverse(one) }
            let yn = try DSPThreads.withThreads(threads) { try stft.inverse(one) }
            XCTAssertEqual(y1, yn, "inverse with \(threads) threads")
        }
    }

    func testFrameCountContract() throws {
        // 1 s at 24 kHz, n_fft 1024, hop 256, centered: 1 + ⌊24000/256⌋ = 94 frames.
        let stft = try STFT(fftSize: 1024, hopLength: 256)
        XCTAssertEqual(try stft.frameCount(signalLength: 24000), 94)
        XCTAssertEqual(try stft.forward([Float](repeating: 0.5, count: 24000)).frames, 94)
        XCTAssertEqual(try STFT(fftSize: 1024, hopLength: 256, center: false).frameCount(signalLength: 24000), 90)
    }

    func testInverseMatchesTorchISTFT() throws {
        for name in ["istft_default", "istft_long_length", "istft_normalized_short"] {
            let f = try DSPFixture.load(name)
            let stft = try STFT(fftSize: f.int("n_fft"), hopLength: f.int("hop"), windowLength: f.int("win"),
                                normalized: f.bool("normalized"))
            let shape = f.shape("real")
            let spec = try ComplexSpectrogram(channels: shape[0], bins: shape[1], frames: shape[2],
                                              real: f.array("real"), imag: f.array("imag"))
            let length = f.int("length")
            let y = try stft.inverse(spec, length: length < 0 ? nil : length)
            XCTAssertEqual(y.count, f.array("y").count, name)
            XCTAssertNil(fixtureMismatch(y, f.array("y")), name)
        }
    }

    func testInverseOfForwardIsIdentity() throws {
        var rng = SeededRNG(seed: 13)
        let x = rng.floats(3 * 5003)
        for stft in [try STFT(fftSize: 512, hopLength: 128), try STFT(fftSize: 100, hopLength: 30, windowLength: 90, normalized: true)] {
            let y = try stft.inverse(try stft.forward(x, channels: 3), length: 5003)
            XCTAssertLessThan(maxAbsDiff(y, x), 1e-5)
        }
    }

    func testBadInputsThrowWithReasons() throws {
        XCTAssertThrowsError(try STFT(fftSize: 0)) { XCTAssert("\($0)".contains("n_fft")) }
        XCTAssertThrowsError(try STFT(fftSize: 64, hopLength: 0)) { XCTAssert("\($0)".contains("hop")) }
        XCTAssertThrowsError(try STFT(fftSize: 64, windowLength: 65)) { XCTAssert("\($0)".contains("window length")) }
        XCTAssertThrowsError(try STFT(fftSize: 64, window: [Float](repeating: 1, count: 10)))
        let stft = try STFT(fftSize: 64, hopLength: 16)
        // Reflect padding by 32 needs at least 33 samples (torch: "pad should be smaller than input").
        XCTAssertThrowsError(try stft.forward([Float](repeating: 0, count: 32))) {
            XCTAssert("\($0)".contains("reflect"), "\($0)")
        }
        XCTAssertNoThrow(try stft.forward([Float](repeating: 0, count: 33)))
        XCTAssertThrowsError(try STFT(fftSize: 64, center: false).forward([Float](repeating: 0, count: 63)))
        XCTAssertThrowsError(try stft.forward([Float](repeating: 0, count: 101), channels: 2))
        // Hop = n with a periodic Hann: the envelope is zero at every multiple of n, so istft must refuse.
        let sparse = try STFT(fftSize: 64, hopLength: 64)
        let spec = try sparse.forward([Float](repeating: 1, count: 640))
        XCTAssertThrowsError(try sparse.inverse(spec)) { XCTAssert("\($0)".contains("NOLA"), "\($0)") }
        XCTAssertThrowsError(try STFT(fftSize: 32).inverse(spec)) { XCTAssert("\($0)".contains("bins")) }
    }
}
