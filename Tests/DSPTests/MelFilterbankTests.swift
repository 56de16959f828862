import XCTest
import DSP
import TestSupport

final class MelFilterbankTests: XCTestCase {
    private func norm(_ s: String) -> MelFilterbank.Norm { s == "slaney" ? .slaney : .none }

    func testMatchesLibrosaFiltersMel() throws {
        for name in ["mel_librosa_slaney", "mel_librosa_htk_none"] {
            let f = try DSPFixture.load(name)
            let fb = try MelFilterbank.librosa(sampleRate: f.double("sr"), fftSize: f.int("n_fft"), melCount: f.int("n_mels"),
                                               minFrequency: f.double("fmin"), maxFrequency: f.double("fmax"),
                                               scale: f.bool("htk") ? .htk : .slaney, norm: norm(f.string("norm")))
            XCTAssertEqual([fb.melCount, fb.binCount], f.shape("weights"))
            XCTAssertNil(fixtureMismatch(fb.weights, f.array("weights")), name)
        }
        // The 80-band, 24 kHz bank the log-mel distance uses: default arguments, four rows and every row sum.
        let f = try DSPFixture.load("mel_librosa_24k_80")
        let fb = try MelFilterbank.librosa(sampleRate: 24000, fftSize: 1024, melCount: 80)
        let rows = [0, 1, 40, 79]
        let picked = rows.flatMap { Array(fb.weights[$0 * 513..<($0 + 1) * 513]) }
        XCTAssertNil(fixtureMismatch(picked, f.array("rows")))
        let sums = (0..<80).map { m in fb.weights[m * 513..<(m + 1) * 513].reduce(0, +) }
        XCTAssertNil(fixtureMismatch(sums, f.array("row_sums")))
    }

    func testMatchesTorchaudioMelscaleFbanks() throws {
        for name in ["mel_torchaudio_htk_none", "mel_torchaudio_slaney_slaney"] {
            let f = try DSPFixture.load(name)
            let fb = try MelFilterbank.torchaudio(binCount: f.int("n_freqs"), minFrequency: f.double("f_min"),
                                                  maxFrequency: f.double("f_max"), melCount: f.int("n_mels"),
                                                  sampleRate: f.int("sr"), norm: norm(f.string("norm")),
                                                  scale: f.string("mel_scale") == "htk" ? .htk : .slaney)
            // torchaudio computes in float32: its own rounding reaches ~1e-5 of the peak on the slopes.
            XCTAssertNil(fixtureMismatch(fb.transposedWeights, f.array("weights_t"), scaleTol: 3e-5), name)
        }
    }

    func testMelSpectrogramMatchesTorchaudioAndLibrosa() throws {
        let t = try DSPFixture.load("melspec_torchaudio")
        let mt = try MelSpectrogram(
            stft: try STFT(fftSize: 256, hopLength: 64),
            filterbank: try .torchaudio(binCount: 129, minFrequency: 0, maxFrequency: 8000, melCount: 32, sampleRate: 16000),
            power: 2)
        let a = try mt(t.array("x"))
        XCTAssertEqual([a.channels, a.rows, a.frames], t.shape("mel"))
        XCTAssertNil(fixtureMismatch(a.values, t.array("mel"), scaleTol: 3e-5))

        let l = try DSPFixture.load("melspec_librosa")
        let ml = try MelSpectrogram(stft: try STFT(fftSize: 256, hopLength: 64, padMode: .constant),
                                    filterbank: try .librosa(sampleRate: 16000, fftSize: 256, melCount: 32), power: 1)
        let b = try ml(l.array("x"))
        XCTAssertEqual([b.channels, b.rows, b.frames], l.shape("mel"))
        XCTAssertNil(fixtureMismatch(b.values, l.array("mel")))
    }

    func testApplyEqualsDenseProduct() throws {
        var rng = SeededRNG(seed: 21)
        let fb = try MelFilterbank.librosa(sampleRate: 8000, fftSize: 64, melCount: 12, scale: .htk, norm: .none)
        let s = try Spectrogram(channels: 2, rows: 33, frames: 7, values: rng.floats(2 * 33 * 7, 0, 1))
        let out = try fb.apply(s)
        var dense = [Float](repeating: 0, count: 2 * 12 * 7)
        for c in 0..<2 { for m in 0..<12 { for t in 0..<7 { for k in 0..<33 {
            dense[(c * 12 + m) * 7 + t] += fb.weights[m * 33 + k] * s.values[(c * 33 + k) * 7 + t]
        } } } }
        XCTAssertNil(closeness(out.values, dense, rtol: 1e-5, atol: 1e-6))
        for m in 0..<12 {
            for k in 0..<33 where !fb.support[m].contains(k) { XCTAssertEqual(fb.weights[m * 33 + k], 0) }
        }
    }

    func testScalesRoundTripAndBreakAtOneKilohertz() {
        for scale in [MelScale.htk, .slaney] {
            for hz in [0.0, 440, 999.9, 1000, 1000.1, 7999] {
                XCTAssertEqual(scale.hz(fromMel: scale.mel(fromHz: hz)), hz, accuracy: 1e-9)
            }
        }
        XCTAssertEqual(MelScale.slaney.mel(fromHz: 1000), 15, accuracy: 1e-12)
        XCTAssertEqual(MelScale.slaney.mel(fromHz: 500), 7.5, accuracy: 1e-12)
        XCTAssertEqual(MelScale.htk.mel(fromHz: 700), 2595 * log10(2), accuracy: 1e-9)
    }

    func testBadParametersThrow() throws {
        XCTAssertThrowsError(try MelFilterbank.librosa(sampleRate: 16000, fftSize: 256, melCount: 0))
        XCTAssertThrowsError(try MelFilterbank.librosa(sampleRate: 16000, fftSize: 256, minFrequency: 9000, maxFrequency: 8000))
        let fb = try MelFilterbank.librosa(sampleRate: 16000, fftSize: 256, melCount: 10)
        XCTAssertThrowsError(try fb.apply(try Spectrogram(channels: 1, rows: 65, frames: 1, values: [Float](repeating: 0, count: 65))))
        XCTAssertThrowsError(try MelSpectrogram(stft: try STFT(fftSize: 512), filterbank: fb))
    }
}
