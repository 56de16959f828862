// SpectrogramImage: log-mel spectrograms rendered as colour PNG images (for the HTML report), and the
// PNG encoder itself (RFC 2083 / ISO 15948: 8-bit RGB, filter type 0, zlib deflate through zlib1g).
internal import CZlibSystem
import DSP
import Foundation

/// An 8-bit RGB image, rows top to bottom, `pixels` = [height, width, 3] row-major.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 1 && height >= 1 && pixels.count == width * height * 3, "RGBImage: pixels must hold width·height·3 bytes")
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// The image as a PNG file: signature, IHDR (bit depth 8, colour type 2), one IDAT holding the zlib
    /// stream of the rows (each prefixed with filter byte 0), IEND; chunk CRCs by zlib's crc32.
    public func png() throws -> Data {
        var raw = [UInt8](); raw.reserveCapacity(height * (1 + 3 * width))
        for y in 0..<height {
            raw.append(0)
            raw.append(contentsOf: pixels[y * width * 3 ..< (y + 1) * width * 3])
        }
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var ihdr = Data()
        ihdr.appendBigEndian(UInt32(width)); ihdr.appendBigEndian(UInt32(height))
        ihdr.append(contentsOf: [8, 2, 0, 0, 0]) // depth 8, RGB, deflate, filter method 0, no interlace
        out.appendChunk("IHDR", ihdr)
        out.appendChunk("IDAT", try zlibCompress(raw))
        out.appendChunk("IEND", Data())
        return out
    }

    /// `data:image/png;base64,…` for an `<img src>`.
    public func pngDataURI() throws -> String { "data:image/png;base64," + (try png()).base64EncodedString() }
}

/// The zlib stream (RFC 1950) of `bytes` at compression level 9.
func zlibCompress(_ bytes: [UInt8]) throws -> Data {
    var size = compressBound(uLong(bytes.count))
    var out = [UInt8](repeating: 0, count: Int(size))
    let status = bytes.withUnsafeBufferPointer { src in
        compress2(&out, &size, src.baseAddress, uLong(bytes.count), 9)
    }
    guard status == Z_OK else {
        throw MetricsError.invalidParameter(name: "zlib compress2 status", value: "\(status)", reason: "zlib could not compress the image")
    }
    return Data(out[0..<Int(size)])
}

/// zlib's CRC-32 (the PNG chunk checksum) of `bytes`.
func crc32Of(_ bytes: Data) -> UInt32 {
    bytes.withUnsafeBytes { raw in
        UInt32(crc32(0, raw.bindMemory(to: Bytef.self).baseAddress, uInt(bytes.count)))
    }
}

extension Data {
    mutating func appendBigEndian(_ v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)])
    }

    /// length, type, data, CRC-32 of type + data.
    mutating func appendChunk(_ type: String, _ data: Data) {
        appendBigEndian(UInt32(data.count))
        var body = Data(type.utf8); body.append(data)
        append(body)
        appendBigEndian(crc32Of(body))
    }
}

/// Log-mel spectrogram images on a shared decibel scale.
public final class SpectrogramRenderer: @unchecked Sendable {
    public let sampleRate: Int
    public let melCount: Int
    /// Decibels shown below the top of the scale (darkest colour at top − range).
    public let dynamicRange: Float
    private let mel: MelSpectrogram

    /// Power mel spectrogram: periodic Hann, n_fft 1024, hop 256, `melCount` Slaney bands 0…sr/2.
    public init(sampleRate: Int, melCount: Int = 128, dynamicRange: Float = 80) throws {
        self.sampleRate = sampleRate; self.melCount = melCount; self.dynamicRange = dynamicRange
        do {
            mel = try MelSpectrogram(stft: try STFT(fftSize: 1024, hopLength: 256),
                                     filterbank: try .librosa(sampleRate: Double(sampleRate), fftSize: 1024, melCount: melCount),
                                     power: 2)
        } catch let e as DSPError {
            throw MetricsError.transform(metric: "spectrogram image", e)
        }
    }

    /// 10·log₁₀ of the mel power of the channel mean of planar `[channels, T]` audio: `[melCount, frames]`.
    public func decibels(_ audio: [Float], channels: Int) throws -> Spectrogram {
        let t = audio.count / channels
        var mono = [Float](repeating: 0, count: t)
        for c in 0..<channels { for i in 0..<t { mono[i] += audio[c * t + i] / Float(channels) } }
        do { return try mel(mono).powerToDecibels() } catch let e as DSPError {
            throw MetricsError.transform(metric: "spectrogram image", e)
        }
    }

    /// Image of `spectrogram` (from `decibels`) with `top` dB as the brightest colour: low frequencies at
    /// the bottom, `rowHeight` pixels per band, frames averaged in groups so the width is ≤ `maxWidth`.
    public func image(_ spectrogram: Spectrogram, top: Float, rowHeight: Int = 2, maxWidth: Int = 640) -> RGBImage {
        let rows = spectrogram.rows, frames = Swift.max(1, spectrogram.frames)
        let group = (frames + maxWidth - 1) / maxWidth
        let width = Swift.max(1, (frames + group - 1) / group), height = rows * rowHeight
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for m in 0..<rows {
            for x in 0..<width {
                let lo = x * group, hi = Swift.min(spectrogram.frames, lo + group)
                var sum: Float = 0
                for t in lo..<Swift.max(lo, hi) { sum += spectrogram.values[m * spectrogram.frames + t] }
                let db = hi > lo ? sum / Float(hi - lo) : top - dynamicRange
                let level = Swift.min(1, Swift.max(0, (db - (top - dynamicRange)) / dynamicRange))
                let (r, g, b) = inferno(level)
                for dy in 0..<rowHeight {
                    let y = (rows - 1 - m) * rowHeight + dy
                    let p = (y * width + x) * 3
                    pixels[p] = r; pixels[p + 1] = g; pixels[p + 2] = b
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Largest value of a decibel spectrogram (the top of a shared scale); −100 for an empty one.
    public static func peak(_ spectrogram: Spectrogram) -> Float { spectrogram.values.max() ?? -100 }
}

/// A perceptually ordered dark-to-bright colour map (anchors sampled from matplotlib's "inferno"),
/// linearly interpolated; `level` in [0, 1].
func inferno(_ level: Float) -> (UInt8, UInt8, UInt8) {
    let anchors: [(Float, Float, Float)] = [
        (0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66), (245, 125, 21), (250, 193, 39), (252, 255, 164),
    ]
    let x = Swift.min(1, Swift.max(0, level)) * Float(anchors.count - 1)
    let i = Swift.min(anchors.count - 2, Int(x)), f = x - Float(i)
    let a = anchors[i], b = anchors[i + 1]
    return (UInt8((a.0 + (b.0 - a.0) * f).rounded()), UInt8((a.1 + (b.1 - a.1) * f).rounded()), UInt8((a.2 + (b.2 - a.2) * f).rounded()))
}
