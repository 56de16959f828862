import XCTest
import AudioIO
import TestSupport

final class ResamplerTests: XCTestCase {
    private func sine(rate: Int, frames: Int, hz: Double = 1000, amp: Double = 0.5) -> [Float] {
        (0..<frames).map { Float(amp * sin(2 * Double.pi * hz * Double($0) / Double(rate))) }
    }

    func testSineKeepsFrequencyAndErrorIsBelowMinus90dB() throws {
        let input = AudioBuffer(sampleRate: 44100, channelCount: 1, samples: sine(rate: 44100, frames: 44100))
        let out = try Resampler.resample(input, to: 24000)
        XCTAssertEqual(out.sampleRate, 24000)
        XCTAssertEqual(out.frameCount, 24000, "soxr removes its delay: 1 s in, 1 s out")
        let expected = sine(rate: 24000, frames: 24000)
        // Away from the edges (filter start-up and tail), compare with the analytic sine.
        var err = 0.0, sig = 0.0
        for i in 2000..<22000 {
            let d = Double(out.samples[i] - expected[i]); err += d * d; sig += Double(expected[i] * expected[i])
        }
        let db = 10 * log10(err / sig)
        XCTAssertLessThan(db, -90, "error against the analytic sine: \(db) dB")
    }

    func testBlockByBlockEqualsWholeBuffer() throws {
        var rng = SeededRNG(seed: 42)
        let frames = 30000
        let stereo = AudioBuffer(sampleRate: 44100, channelCount: 2, samples: rng.floats(2 * frames, -0.8, 0.8))
        let whole = try Resampler.resample(stereo, to: 24000)
        let r = try Resampler(inputRate: 44100, outputRate: 24000, channelCount: 2)
        var blocks = AudioBuffer(sampleRate: 24000, channelCount: 2, frames: 0)
        var pos = 0
        let sizes = [1, 7, 1000, 3, 4096, 12345]
        var k = 0
        while pos < frames {
            let n = min(sizes[k % sizes.count], frames - pos); k += 1
            let chunk = AudioBuffer(sampleRate: 44100, channels: (0..<2).map { c in Array(stereo.samples[c * frames + pos ..< c * frames + pos + n]) })
            blocks.append(try r.process(chunk))
            pos += n
        }
        blocks.append(try r.flush())
        XCTAssertEqual(blocks.frameCount, whole.frameCount)
        XCTAssertEqual(blocks.samples, whole.samples, "block-by-block output must equal whole-buffer output")
    }

    func testMismatchedBlockIsAnError() throws {
        let r = try Resampler(inputRate: 48000, outputRate: 24000, channelCount: 1)
        XCTAssertThrowsError(try r.process(AudioBuffer(sampleRate: 44100, channelCount: 1, frames: 10)))
    }
}
