// Per-layer timing of the encoder, quantizer and decoder (for the benchmark: where the time goes), in CPU
// time of the process (all threads), so that other jobs on a shared machine do not inflate it.
import Foundation
import NN

/// One row of a profile: a layer's name, its CPU time (all threads) and its floating-point operations.
public struct LayerTiming: Sendable {
    public var name: String
    public var seconds: Double
    /// Nominal FLOPs (the direct form's, for F(2,2) layers too): the basis of the GFLOP/s column.
    public var flops: Double
    /// The work as this implementation does it, for the floor.
    public var work: LayerWork
}

/// A layer's work as computed here, and the least time it could take on one core.
public struct LayerWork: Sendable {
    /// Multiply-adds × 2 actually performed (an F(2,2) layer: 3 products per 2 outputs, 3/4 of the direct form).
    public var flops: Double
    /// Of those, the FLOPs of sequential steps that each read a weight matrix too large for L2 (the LSTM
    /// recurrence: each step needs the whole W_hh, 4 MiB per layer at H = 512, and cannot reuse it across
    /// steps because step t + 1 needs h_t), and the bytes those steps read.
    public var streamedFLOPs: Double, streamedBytes: Double
    /// Bytes one streamed step reads (the largest W_hh): the working set to measure the bandwidth on.
    public var stepBytes: Int

    public init(flops: Double, streamedFLOPs: Double = 0, streamedBytes: Double = 0, stepBytes: Int = 0) {
        self.flops = flops; self.streamedFLOPs = streamedFLOPs; self.streamedBytes = streamedBytes; self.stepBytes = stepBytes
    }

    /// The least time in seconds: every FLOP at `peakGFLOPs`, and the streamed steps no faster than
    /// their bytes at `bandwidthGBs` (overlapping their arithmetic). Staging, padding, activations,
    /// transforms and stores cost nothing here, so real code is always slower.
    public func floorSeconds(peakGFLOPs: Double, bandwidthGBs: Double) -> Double {
        (flops - streamedFLOPs) / (peakGFLOPs * 1e9) + max(streamedFLOPs / (peakGFLOPs * 1e9), streamedBytes / (bandwidthGBs * 1e9))
    }
}

extension CodecModel {
    /// Runs encode (first segment) and decode layer by layer, timing each; returns rows per stage.
    public func profileLayers(_ audio: [Float], channels: Int, bandwidth: Double?) -> [(String, [LayerTiming])] {
        let length = audio.count / channels
        let segLen = min(length, config.segmentLength ?? length)
        var seg = [Float]()
        for c in 0..<channels { seg += audio[c * length ..< c * length + segLen] }
        var x = Tensor(shape: [1, channels, segLen], data: seg)
        let enc = profile(encoder.layers, prefix: "encoder", &x)
        let d = config.dimension, f = x.shape[2]
        var vectors = [Float](repeating: 0, count: d * f)
        for i in 0..<d { for j in 0..<f { vectors[j * d + i] = x.data[i * f + j] } }
        let k = config.codebookCount(forBandwidth: bandwidth)
        let t0 = processCPUTime()
        let codes = try? quantizer.encode(vectors, stages: k)
        let qFLOPs = 2 * Double(f * k * config.bins * d)
        let q = LayerTiming(name: "quantizer (\(k) stages, \(config.bins) codes)", seconds: processCPUTime() - t0,
                            flops: qFLOPs, work: LayerWork(flops: qFLOPs))
        var y = x
        if let codes, let v = try? quantizer.decode(codes) {
            var z = [Float](repeating: 0, count: d * f)
            for j in 0..<f { for i in 0..<d { z[i * f + j] = v[j * d + i] } }
            y = Tensor(shape: [1, d, f], data: z)
        }
        let dec = profile(decoder.layers, prefix: "decoder", &y)
        return [("encoder", enc), ("quantizer", [q]), ("decoder", dec)]
    }

    private func profile(_ layers: [SEANetLayer], prefix: String, _ x: inout Tensor) -> [LayerTiming] {
        var rows: [LayerTiming] = []
        for (i, layer) in layers.enumerated() {
            let input = x
            let t0 = processCPUTime()
            x = runLayers([layer], input)
            let dt = processCPUTime() - t0
            rows.append(LayerTiming(name: "\(prefix)[\(i)] \(layer.kind)", seconds: dt, flops: layer.flops(input: input.shape, output: x.shape),
                                    work: layer.work(input: input.shape, output: x.shape)))
        }
        return rows
    }
}

extension SEANetLayer {
    var kind: String {
        switch self {
        case let .conv(c, _):
            return "conv k\(c.kernelSize) s\(c.stride) \(c.conv.inChannels)→\(c.conv.outChannels)" + (c.winograd != nil ? winogradLabel : "")
        case let .convTranspose(c, _):
            return "convtr k\(c.convtr.kernelSize) s\(c.convtr.stride) \(c.convtr.inChannels)→\(c.convtr.outChannels)"
                + (c.winograd != nil ? winogradLabel : "")
        case let .residual(r): return "residual \(r.convs[0].conv.inChannels)"
        case let .lstm(l): return "lstm \(l.lstm.layers.count)×\(l.lstm.layers[0].hiddenSize)"
        }
    }

    /// Marks a layer computed by F(2,2) (3/4 of the multiply-adds): its GFLOP/s counts the nominal FLOPs
    /// of the direct convolution, so it can exceed the FMA peak.
    private var winogradLabel: String { " F(2,2), nominal FLOP" }

    /// Multiply-adds × 2 of the layer's convolutions / LSTM for these shapes (nominal: the direct form's).
    func flops(input: [Int], output: [Int]) -> Double {
        switch self {
        case let .conv(c, _):
            return 2 * Double(c.conv.inChannels * c.conv.outChannels * c.kernelSize * output[2])
        case let .convTranspose(c, _):
            return 2 * Double(c.convtr.inChannels * c.convtr.outChannels * c.convtr.kernelSize * input[2])
        case let .residual(r):
            let t = output[2]
            var total = 0.0
            for c in r.convs { total += 2 * Double(c.conv.inChannels * c.conv.outChannels * c.kernelSize * t) }
            if let s = r.shortcut { total += 2 * Double(s.conv.inChannels * s.conv.outChannels * t) }
            return total
        case let .lstm(l):
            let h = l.lstm.layers[0].hiddenSize
            return Double(l.lstm.layers.count) * 2 * Double(8 * h * h * input[2])
        }
    }

    /// The work as computed: `flops` with F(2,2) layers at 3/4, and an LSTM's recurrence (half its FLOPs)
    /// streaming 4·H × H floats per layer per step.
    func work(input: [Int], output: [Int]) -> LayerWork {
        let nominal = flops(input: input, output: output)
        switch self {
        case let .conv(c, _) where c.winograd != nil: return LayerWork(flops: nominal * 3 / 4)
        case let .convTranspose(c, _) where c.winograd != nil: return LayerWork(flops: nominal * 3 / 4)
        case let .lstm(l):
            let layers = l.lstm.layers
            let bytes = layers.reduce(0.0) { $0 + 4 * Double(4 * $1.hiddenSize * $1.hiddenSize * input[2]) }
            let step = layers.map { 4 * 4 * $0.hiddenSize * $0.hiddenSize }.max() ?? 0
            return LayerWork(flops: nominal, streamedFLOPs: nominal / 2, streamedBytes: bytes, stepBytes: step)
        default: return LayerWork(flops: nominal)
        }
    }
}

/// CPU seconds used by this process so far (all threads): CLOCK_PROCESS_CPUTIME_ID.
public func processCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
