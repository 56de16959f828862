// Padding rules of EnCodec's streamable convolutions as small pure functions.
// Mirrors encodec/modules/conv.py: get_extra_padding_for_conv1d, SConv1d.forward, SConvTranspose1d.forward.

/// Left/right padding (or trimming) in samples.
public struct PaddingPair: Equatable, Sendable {
    public var left: Int
    public var right: Int
    public init(left: Int, right: Int) { self.left = left; self.right = right }
}

public enum ConvPadding {
    /// Extra right padding so that the last window of a strided convolution is full.
    ///
    /// Why: without it, a few trailing samples would be dropped by the convolution and the transposed
    /// convolution could not rebuild an output of the input's length. With n = (T − K + P)/s + 1 frames
    /// (real division), the ideal length is (⌈n⌉ − 1)·s + (K − P) and the extra padding is that minus T.
    public static func extraPadding(length: Int, kernelSize: Int, stride: Int, paddingTotal: Int) -> Int {
        // Exact integer form of ceil((T − K + P)/s + 1); T − K + P may be negative for tiny inputs.
        let num = length - kernelSize + paddingTotal
        let frames = floorDiv(num + stride - 1, stride) + 1 // ceil(num / s) + 1
        let ideal = (frames - 1) * stride + (kernelSize - paddingTotal)
        return ideal - length
    }

    /// Total padding of a SConv1d: (K − 1)·dilation − (stride − 1).
    public static func convPaddingTotal(kernelSize: Int, stride: Int, dilation: Int) -> Int {
        (kernelSize - 1) * dilation - (stride - 1)
    }

    /// Padding a SConv1d applies to an input of `length`: causal puts all of it on the left; non-causal
    /// splits it with the larger half on the left; the extra padding always goes on the right.
    public static func conv(length: Int, kernelSize: Int, stride: Int, dilation: Int, causal: Bool) -> PaddingPair {
        let total = convPaddingTotal(kernelSize: kernelSize, stride: stride, dilation: dilation)
        let extra = extraPadding(length: length, kernelSize: kernelSize, stride: stride, paddingTotal: total)
        if causal { return PaddingPair(left: total, right: extra) }
        let right = total / 2
        return PaddingPair(left: total - right, right: right + extra)
    }

    /// Trim a SConvTranspose1d applies to its output: K − stride in all; causal takes
    /// ⌈total · trimRightRatio⌉ on the right; non-causal splits with the larger half on the left.
    public static func transposedTrim(kernelSize: Int, stride: Int, causal: Bool, trimRightRatio: Double) -> PaddingPair {
        let total = kernelSize - stride
        if causal {
            let right = Int((Double(total) * trimRightRatio).rounded(.up))
            return PaddingPair(left: total - right, right: right)
        }
        let right = total / 2
        return PaddingPair(left: total - right, right: right)
    }

    @inline(__always) static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
