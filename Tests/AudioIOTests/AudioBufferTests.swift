import XCTest
import AudioIO
import TestSupport

final class AudioBufferTests: XCTestCase {
    func testStereoToMonoIsTheMeanOfChannels() throws {
        let b = AudioBuffer(sampleRate: 8000, channels: [[1, 0.5, -1], [0, 0.25, 1]])
        let m = try b.convertingChannels(to: 1)
        XCTAssertEqual(m.channelCount, 1)
        XCTAssertEqual(m.samples, [0.5, 0.375, 0])
    }

    func testMonoToStereoDuplicates() throws {
        let b = AudioBuffer(sampleRate: 8000, channels: [[0.1, 0.2]])
        let s = try b.convertingChannels(to: 2)
        XCTAssertEqual(s.channel(0), [0.1, 0.2])
        XCTAssertEqual(s.channel(1), [0.1, 0.2])
    }

    func testOtherConversionsAreRefused() {
        let b = AudioBuffer(sampleRate: 8000, channels: [[0], [0], [0]])
        XCTAssertThrowsError(try b.convertingChannels(to: 2)) { e in
            XCTAssertEqual(e as? AudioError, .unsupportedChannelConversion(from: 3, to: 2))
            XCTAssertTrue("\(e)".contains("3 channels to 2"))
        }
    }

    func testInterleaveRoundTripAndAppend() {
        var rng = SeededRNG(seed: 1)
        let b = AudioBuffer(sampleRate: 16000, channelCount: 3, samples: rng.floats(30))
        let back = AudioBuffer(sampleRate: 16000, channelCount: 3, interleaved: b.interleaved())
        XCTAssertEqual(back, b)
        XCTAssertEqual(b.interleaved()[1], b.samples[10]) // frame 0, channel 1
        var a = AudioBuffer(sampleRate: 16000, channels: [[1, 2], [3, 4]])
        a.append(AudioBuffer(sampleRate: 16000, channels: [[5], [6]]))
        XCTAssertEqual(a.samples, [1, 2, 5, 3, 4, 6])
    }

    func testLevelsOfAFullScaleSine() {
        var levels = AudioLevels()
        levels.add((0..<48000).map { Float(sin(2 * Double.pi * 1000 * Double($0) / 48000)) })
        XCTAssertEqual(levels.peakDBFS!, 0, accuracy: 1e-3)
        XCTAssertEqual(levels.rmsDBFS!, -3.0103, accuracy: 1e-3)
        XCTAssertNil(AudioLevels().rmsDBFS)
    }
}
