// AudioBuffer: planar Float32 audio [C, T] with its sample rate; channel conversion as EnCodec does it.

/// Planar audio: `samples` is row-major `[channels, frames]` (channel c occupies
/// `samples[c*frames ..< (c+1)*frames]`), values nominally in [-1, 1].
public struct AudioBuffer: Equatable, Sendable {
    /// Sample rate in Hz (e.g. 24000).
    public var sampleRate: Int
    /// Number of channels C (1 = mono).
    public var channelCount: Int
    /// Row-major `[C, T]`.
    public var samples: [Float]

    /// Number of frames T (samples per channel).
    public var frameCount: Int { channelCount == 0 ? 0 : samples.count / channelCount }
    /// Duration in seconds.
    public var duration: Double { sampleRate == 0 ? 0 : Double(frameCount) / Double(sampleRate) }

    public init(sampleRate: Int, channelCount: Int, samples: [Float]) {
        precondition(channelCount > 0, "AudioBuffer needs at least one channel")
        precondition(samples.count % channelCount == 0, "AudioBuffer samples must be a multiple of the channel count")
        self.sampleRate = sampleRate
        self.channelCount = channelCount
        self.samples = samples
    }

    /// A buffer of `frames` zeros.
    public init(sampleRate: Int, channelCount: Int, frames: Int) {
        self.init(sampleRate: sampleRate, channelCount: channelCount,
                  samples: [Float](repeating: 0, count: channelCount * frames))
    }

    /// One channel's samples (a copy).
    public func channel(_ c: Int) -> [Float] {
        precondition(c >= 0 && c < channelCount)
        let t = frameCount
        return Array(samples[c * t ..< (c + 1) * t])
    }

    /// Builds a buffer from per-channel arrays of equal length.
    public init(sampleRate: Int, channels: [[Float]]) {
        precondition(!channels.isEmpty && channels.allSatisfy { $0.count == channels[0].count },
                     "channels must be non-empty and of equal length")
        self.init(sampleRate: sampleRate, channelCount: channels.count, samples: channels.flatMap { $0 })
    }

    /// Interleaved `[T, C]` copy (the order libsndfile and libsoxr use).
    public func interleaved() -> [Float] {
        let t = frameCount, c = channelCount
        if c == 1 { return samples }
        var out = [Float](repeating: 0, count: samples.count)
        for ch in 0..<c { for i in 0..<t { out[i * c + ch] = samples[ch * t + i] } }
        return out
    }

    /// Builds a planar buffer from interleaved `[T, C]` samples.
    public init(sampleRate: Int, channelCount: Int, interleaved: [Float]) {
        precondition(channelCount > 0 && interleaved.count % channelCount == 0)
        let t = interleaved.count / channelCount
        var planar = [Float](repeating: 0, count: interleaved.count)
        if channelCount == 1 { planar = interleaved } else {
            for ch in 0..<channelCount { for i in 0..<t { planar[ch * t + i] = interleaved[i * channelCount + ch] } }
        }
        self.init(sampleRate: sampleRate, channelCount: channelCount, samples: planar)
    }

    /// Channel conversion as `encodec.utils.convert_audio` does it: N → 1 is the mean of the channels,
    /// 1 → N duplicates the channel, N → N is unchanged; anything else throws.
    public func convertingChannels(to target: Int) throws -> AudioBuffer {
        guard target > 0 else { throw AudioError.invalidArgument("channel count must be at least 1 (got \(target))") }
        if target == channelCount { return self }
        let t = frameCount
        if target == 1 {
            var mono = [Float](repeating: 0, count: t)
            for ch in 0..<channelCount { for i in 0..<t { mono[i] += samples[ch * t + i] } }
            let inv = 1 / Float(channelCount)
            // ref: torch.mean over the channel dim = sum then divide by C.
            for i in 0..<t { mono[i] *= inv }
            return AudioBuffer(sampleRate: sampleRate, channelCount: 1, samples: mono)
        }
        if channelCount == 1 {
            var out = [Float](); out.reserveCapacity(t * target)
            for _ in 0..<target { out.append(contentsOf: samples) }
            return AudioBuffer(sampleRate: sampleRate, channelCount: target, samples: out)
        }
        throw AudioError.unsupportedChannelConversion(from: channelCount, to: target)
    }

    /// Appends another buffer's frames (same rate and channel count).
    public mutating func append(_ other: AudioBuffer) {
        precondition(other.channelCount == channelCount && other.sampleRate == sampleRate, "append: format differs")
        if channelCount == 1 { samples.append(contentsOf: other.samples); return }
        let t = frameCount, u = other.frameCount
        var out = [Float](repeating: 0, count: (t + u) * channelCount)
        for ch in 0..<channelCount {
            for i in 0..<t { out[ch * (t + u) + i] = samples[ch * t + i] }
            for i in 0..<u { out[ch * (t + u) + t + i] = other.samples[ch * u + i] }
        }
        samples = out
    }
}

/// Peak and RMS levels, accumulated block by block.
public struct AudioLevels: Sendable, Equatable {
    public private(set) var peak: Float = 0
    public private(set) var sumOfSquares: Double = 0
    public private(set) var count: Int = 0
    public init() {}

    public mutating func add(_ samples: [Float]) {
        for x in samples {
            let a = abs(x)
            if a > peak { peak = a }
            sumOfSquares += Double(x) * Double(x)
        }
        count += samples.count
    }

    /// Root mean square over all samples of all channels.
    public var rms: Double { count == 0 ? 0 : (sumOfSquares / Double(count)).squareRoot() }
    /// Peak in dBFS (20·log10(peak)); nil for silence.
    public var peakDBFS: Double? { peak > 0 ? 20 * log10(Double(peak)) : nil }
    /// RMS in dBFS (20·log10(rms), full-scale sine = -3.01 dBFS); nil for silence.
    public var rmsDBFS: Double? { rms > 0 ? 20 * log10(rms) : nil }
}

import Foundation
