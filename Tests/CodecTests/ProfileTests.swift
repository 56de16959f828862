import XCTest
import Codec
import NN
import TestSupport

/// The profile's work accounting, which the benchmark's floor divides by the measured roofline.
final class ProfileTests: XCTestCase {
    func testWorkCountsWinogradAtThreeQuartersAndTheLSTMRecurrenceAsStreamed() throws {
        let config = CodecModelTests.smallConfig(.encodec24kHz)  // filters 4, D 8, ratios 8 5 4 2, 2 LSTM layers
        let model = try CodecModel(config: config, tensors: try CodecModelTests.randomTensors(config), path: "random")
        var rng = SeededRNG(seed: 5)
        let audio = rng.floats(6400, -0.5, 0.5)  // 20 frames
        let stages = Dictionary(uniqueKeysWithValues: model.profileLayers(audio, channels: 1, bandwidth: 1.2))
        let enc = try XCTUnwrap(stages["encoder"])
        // encoder[2]: K = 4, stride 2, 4 → 8 channels, by F(2,2); 3200 outputs.
        let down = enc[2]
        XCTAssertTrue(down.name.contains("F(2,2)"), down.name)
        XCTAssertEqual(down.flops, 2 * 4 * 8 * 4 * 3200)
        XCTAssertEqual(down.work.flops, down.flops * 3 / 4)
        XCTAssertEqual(down.work.streamedBytes, 0)
        // A residual block is computed in its direct form: nominal = actual.
        XCTAssertEqual(enc[1].work.flops, enc[1].flops)
        // The LSTM: H = 4·16 = 64 at the last stage, 2 layers, 20 steps; half its FLOPs are the recurrence,
        // which reads each layer's W_hh (4H × H floats) once per step.
        let lstm = try XCTUnwrap(enc.first { $0.name.contains("lstm") })
        let h = 64.0, steps = 20.0
        XCTAssertEqual(lstm.flops, 2 * 2 * steps * 8 * h * h)
        XCTAssertEqual(lstm.work.streamedFLOPs, lstm.flops / 2)
        XCTAssertEqual(lstm.work.streamedBytes, 2 * steps * 4 * 4 * h * h)
        XCTAssertEqual(lstm.work.stepBytes, Int(4 * 4 * h * h))
        let q = try XCTUnwrap(stages["quantizer"]?.first)
        XCTAssertEqual(q.work.flops, 2 * 20 * 4 * 16 * 8)  // frames × stages (1.2 kbps: 4) × bins × D
    }

    func testFloorIsComputeAtPeakPlusTheSlowerOfStreamingAndItsArithmetic() {
        // 10 GFLOP at 100 GFLOP/s = 0.1 s; streamed part: 2 GFLOP (0.02 s) over 3 GB at 50 GB/s (0.06 s).
        let w = LayerWork(flops: 10e9, streamedFLOPs: 2e9, streamedBytes: 3e9)
        XCTAssertEqual(w.floorSeconds(peakGFLOPs: 100, bandwidthGBs: 50), 0.08 + 0.06, accuracy: 1e-12)
        // With bandwidth to spare the streamed steps cost their arithmetic.
        XCTAssertEqual(w.floorSeconds(peakGFLOPs: 100, bandwidthGBs: 1000), 0.1, accuracy: 1e-12)
        XCTAssertEqual(LayerWork(flops: 5e9).floorSeconds(peakGFLOPs: 50, bandwidthGBs: 1), 0.1, accuracy: 1e-12)
    }

    func testRooflineMeasuresPlausibleFigures() {
        // Any x86-64 or ARM core of the last decade: between 1 and 1000 GFLOP/s of fp32 FMA on one thread,
        // and between 1 and 1000 GB/s reading 1 MiB that sits in cache.
        let peak = Roofline.fmaPeakGFLOPs(iterations: 2_000_000)
        XCTAssertGreaterThan(peak, 1); XCTAssertLessThan(peak, 1000)
        let bw = Roofline.readBandwidthGBs(bytes: 1 << 20, passes: 8)
        XCTAssertGreaterThan(bw, 1); XCTAssertLessThan(bw, 1000)
    }
}
