import XCTest
import Codec

final class PaddingTests: XCTestCase {
    /// encodec's get_extra_padding_for_conv1d in real arithmetic: n = (T − K + P)/s + 1,
    /// ideal = (⌈n⌉ − 1)·s + (K − P), extra = ideal − T.
    private func referenceExtra(_ t: Int, _ k: Int, _ s: Int, _ p: Int) -> Int {
        let n = Double(t - k + p) / Double(s) + 1
        return (Int(n.rounded(.up)) - 1) * s + (k - p) - t
    }

    func testExtraPaddingMatchesEncodecFormulaOnManyShapes() {
        for t in [1, 2, 3, 5, 7, 16, 100, 321, 24000, 24001] {
            for (k, s, d) in [(7, 1, 1), (3, 1, 2), (3, 1, 1), (16, 8, 1), (10, 5, 1), (8, 4, 1), (4, 2, 1), (1, 1, 1)] {
                let p = ConvPadding.convPaddingTotal(kernelSize: k, stride: s, dilation: d)
                XCTAssertEqual(p, (k - 1) * d - (s - 1))
                XCTAssertEqual(ConvPadding.extraPadding(length: t, kernelSize: k, stride: s, paddingTotal: p),
                               referenceExtra(t, k, s, p), "T=\(t) K=\(k) s=\(s) d=\(d)")
            }
        }
    }

    func testLastWindowIsFullAndLengthIsAMultipleOfTheStride() {
        // After padding, (T + P + extra − K) is a multiple of the stride: every window is complete.
        for t in 1...200 {
            let (k, s) = (16, 8)
            let pad = ConvPadding.conv(length: t, kernelSize: k, stride: s, dilation: 1, causal: true)
            XCTAssertEqual((t + pad.left + pad.right - k) % s, 0)
            XCTAssertEqual((t + pad.left + pad.right - k) / s + 1, (t + s - 1) / s, "frames = ⌈T/s⌉")
        }
    }

    func testCausalAndNonCausalSplits() {
        XCTAssertEqual(ConvPadding.conv(length: 100, kernelSize: 7, stride: 1, dilation: 1, causal: true), PaddingPair(left: 6, right: 0))
        XCTAssertEqual(ConvPadding.conv(length: 100, kernelSize: 7, stride: 1, dilation: 1, causal: false), PaddingPair(left: 3, right: 3))
        XCTAssertEqual(ConvPadding.conv(length: 100, kernelSize: 4, stride: 2, dilation: 1, causal: false), PaddingPair(left: 1, right: 1))
        XCTAssertEqual(ConvPadding.transposedTrim(kernelSize: 16, stride: 8, causal: true, trimRightRatio: 1), PaddingPair(left: 0, right: 8))
        XCTAssertEqual(ConvPadding.transposedTrim(kernelSize: 10, stride: 5, causal: false, trimRightRatio: 1), PaddingPair(left: 3, right: 2))
        XCTAssertEqual(ConvPadding.transposedTrim(kernelSize: 10, stride: 5, causal: true, trimRightRatio: 0.5), PaddingPair(left: 2, right: 3))
    }
}
