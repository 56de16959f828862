// CodecConfig: the one type that builds and describes a codec (EnCodec's hyper-parameters), stored in
// every model file. Mirrors encodec/model.py `EncodecModel._get_model` and modules/seanet.py defaults.
import Foundation

/// Normalization used around each convolution.
public enum ConvNorm: String, Codable, Sendable {
    /// Weight normalization (folded into plain weights at load).
    case weightNorm = "weight_norm"
    /// GroupNorm(1, C) after each convolution (EnCodec's "time_group_norm"); non-causal only.
    case timeGroupNorm = "time_group_norm"
    /// Plain convolutions.
    case none
}

/// Padding mode of the SEANet convolutions (EnCodec `pad_mode`).
public enum PadMode: String, Codable, Sendable {
    case reflect, constant, replicate
}

/// Hyper-parameters of a SEANet + RVQ codec.
public struct CodecConfig: Codable, Equatable, Sendable {
    /// Model name written into `.ecdc` files (e.g. "encodec_24khz").
    public var name: String
    /// Audio sample rate in Hz (24000).
    public var sampleRate: Int
    /// Audio channels (1 mono, 2 stereo).
    public var channels: Int
    /// Latent and codebook dimension D (128).
    public var dimension: Int
    /// Base width: channels after the first convolution (32); doubles at each downsampling.
    public var filters: Int
    /// Residual blocks per resolution (1).
    public var residualLayers: Int
    /// Up-sampling ratios in decoder order ([8, 5, 4, 2]); the encoder uses them reversed.
    public var ratios: [Int]
    /// Kernel of the first convolution (7).
    public var kernelSize: Int
    /// Kernel of the last convolution (7).
    public var lastKernelSize: Int
    /// Kernel of the first convolution in each residual block (3).
    public var residualKernelSize: Int
    /// Dilation grows as dilationBase^j over residual layers j (2).
    public var dilationBase: Int
    /// Channel reduction inside residual branches (2).
    public var compress: Int
    /// LSTM layers at the end of the encoder and start of the decoder (2; 0 = none).
    public var lstmLayers: Int
    /// Identity shortcut in residual blocks (false: a 1×1 convolution).
    public var trueSkip: Bool
    /// Causal convolutions (all padding on the left); needed for streaming.
    public var causal: Bool
    /// Normalization around convolutions.
    public var norm: ConvNorm
    /// Padding mode of the convolutions (reflect).
    public var padMode: PadMode
    /// Share of a causal transposed convolution's trim taken on the right (1.0).
    public var trimRightRatio: Double
    /// Codes per codebook (1024 = 10 bits).
    public var bins: Int
    /// Codebooks in the quantizer (n_q; 32 for the 24 kHz model).
    public var codebooks: Int
    /// Offered bandwidths in kbps ([1.5, 3, 6, 12, 24]).
    public var bandwidths: [Double]
    /// Normalize each segment by its RMS before encoding (48 kHz model).
    public var normalize: Bool
    /// Segment duration in seconds for segment-wise coding (nil = whole input).
    public var segment: Double?
    /// Overlap between segments as a fraction of the segment (0.01).
    public var overlap: Double

    public init(name: String, sampleRate: Int, channels: Int, dimension: Int = 128, filters: Int = 32,
                residualLayers: Int = 1, ratios: [Int] = [8, 5, 4, 2], kernelSize: Int = 7, lastKernelSize: Int = 7,
                residualKernelSize: Int = 3, dilationBase: Int = 2, compress: Int = 2, lstmLayers: Int = 2,
                trueSkip: Bool = false, causal: Bool, norm: ConvNorm, padMode: PadMode = .reflect,
                trimRightRatio: Double = 1.0, bins: Int = 1024, codebooks: Int, bandwidths: [Double],
                normalize: Bool, segment: Double?, overlap: Double = 0.01) {
        self.name = name; self.sampleRate = sampleRate; self.channels = channels; self.dimension = dimension
        self.filters = filters; self.residualLayers = residualLayers; self.ratios = ratios
        self.kernelSize = kernelSize; self.lastKernelSize = lastKernelSize
        self.residualKernelSize = residualKernelSize; self.dilationBase = dilationBase; self.compress = compress
        self.lstmLayers = lstmLayers; self.trueSkip = trueSkip; self.causal = causal; self.norm = norm
        self.padMode = padMode; self.trimRightRatio = trimRightRatio; self.bins = bins; self.codebooks = codebooks
        self.bandwidths = bandwidths; self.normalize = normalize; self.segment = segment; self.overlap = overlap
    }

    // MARK: derived values

    /// Samples per latent frame: the product of the ratios (320 at 24 kHz).
    public var hopLength: Int { ratios.reduce(1, *) }
    /// Latent frames per second, rounded up as EnCodec does (`math.ceil(sample_rate / hop)`: 75).
    public var frameRate: Int { (sampleRate + hopLength - 1) / hopLength }
    /// Bits per code (log2 bins).
    public var bitsPerCodebook: Int { Int(log2(Double(bins)).rounded()) }
    /// kbps carried by one codebook: log2(bins) · frameRate / 1000 (0.75 at 24 kHz).
    public var bandwidthPerCodebook: Double { Double(bitsPerCodebook) * Double(frameRate) / 1000 }
    /// Codebooks used at `bandwidth` kbps: max(1, ⌊bandwidth / bandwidthPerCodebook⌋), capped at `codebooks`
    /// (encodec/quantization/vq.py `get_num_quantizers_for_bandwidth`).
    public func codebookCount(forBandwidth bandwidth: Double?) -> Int {
        guard let bandwidth, bandwidth > 0 else { return codebooks }
        return min(codebooks, max(1, Int((bandwidth / bandwidthPerCodebook).rounded(.down))))
    }
    /// Segment length in samples (`int(segment * sample_rate)`), nil when the model codes whole inputs.
    public var segmentLength: Int? { segment.map { Int($0 * Double(sampleRate)) } }
    /// Hop between segments: max(1, int((1 − overlap) · segmentLength)).
    public var segmentStride: Int? { segmentLength.map { max(1, Int((1 - overlap) * Double($0))) } }
    /// Encoder ratios (downsampling order).
    public var encoderRatios: [Int] { ratios.reversed() }

    /// Checks the values make a buildable model; throws a message naming the field.
    public func validate() throws {
        func fail(_ s: String) -> CodecError { .invalidInput("invalid codec config: \(s)") }
        if sampleRate <= 0 { throw fail("sampleRate must be positive") }
        if !(1...2).contains(channels) { throw fail("channels must be 1 or 2 (got \(channels))") }
        if dimension <= 0 || filters <= 0 { throw fail("dimension and filters must be positive") }
        if ratios.isEmpty || ratios.contains(where: { $0 <= 0 }) { throw fail("ratios must be positive") }
        if bins < 2 || (bins & (bins - 1)) != 0 { throw fail("bins must be a power of two (got \(bins))") }
        if codebooks <= 0 { throw fail("codebooks must be positive") }
        if compress <= 0 || filters / compress == 0 { throw fail("compress must be in 1...filters (got \(compress))") }
        if causal && norm == .timeGroupNorm { throw fail("time_group_norm is not causal") }
        if let s = segment, s <= 0 { throw fail("segment must be positive") }
    }

    // MARK: presets

    /// EnCodec 24 kHz: causal, weight norm, mono, 32 codebooks, 1.5–24 kbps
    /// (encodec/model.py `encodec_model_24khz`).
    public static let encodec24kHz = CodecConfig(
        name: "encodec_24khz", sampleRate: 24000, channels: 1, causal: true, norm: .weightNorm,
        codebooks: 32, bandwidths: [1.5, 3, 6, 12, 24], normalize: false, segment: nil)

    /// EnCodec 48 kHz: non-causal, time group norm, stereo, normalized 1 s segments with 1 % overlap,
    /// 16 codebooks, 3–24 kbps (encodec/model.py `encodec_model_48khz`).
    public static let encodec48kHz = CodecConfig(
        name: "encodec_48khz", sampleRate: 48000, channels: 2, causal: false, norm: .timeGroupNorm,
        codebooks: 16, bandwidths: [3, 6, 12, 24], normalize: true, segment: 1.0)

    /// n_q as EnCodec derives it from the largest bandwidth: int(1000·bw_max // (frameRate·10)).
    public static func encodecCodebooks(bandwidths: [Double], sampleRate: Int, ratios: [Int]) -> Int {
        let hop = ratios.reduce(1, *)
        let fr = (sampleRate + hop - 1) / hop
        return Int((1000 * (bandwidths.max() ?? 0) / Double(fr * 10)).rounded(.down))
    }
}
