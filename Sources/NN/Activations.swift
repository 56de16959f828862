// Activations: ELU, sigmoid and tanh over SIMD8, with the vector exp/expm1 they are built on.
// Legend: n element count, x input, out output (may alias x: every kernel here is elementwise).
import Foundation

typealias Vec8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> Vec8 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec8.self)
}
@inline(__always) func load8(_ p: UnsafeMutablePointer<Float>) -> Vec8 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec8.self)
}
@inline(__always) func store8(_ v: Vec8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec8.self)
}

// MARK: Vector exp and expm1 (Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, Taylor polynomial of r)

private let ln2Hi: Float = 0.693359375          // ln 2 split so n·ln2Hi is exact for |n| ≤ 2^9
private let ln2Lo: Float = -2.12194440e-4
private let log2e: Float = 1.44269504088896341
// 1/k! for k = 2…7: the degree-7 Taylor polynomial of expm1 on |r| ≤ 0.347 is off by < r⁸/8! ≈ 5e-9
// relative (0.05 ulp), below the rounding of the evaluation itself.
private let c2: Float = 0.5, c3: Float = 0.16666667, c4: Float = 0.041666668, c5: Float = 0.008333334
private let c6: Float = 0.0013888889, c7: Float = 0.0001984127

/// expm1(r) on |r| ≤ ln2/2: r + r²·(1/2! + r·(1/3! + …)).
@inline(__always) private func expm1Reduced(_ r: Vec8) -> Vec8 {
    var q = Vec8(repeating: c7)
    q = Vec8(repeating: c6).addingProduct(q, r)
    q = Vec8(repeating: c5).addingProduct(q, r)
    q = Vec8(repeating: c4).addingProduct(q, r)
    q = Vec8(repeating: c3).addingProduct(q, r)
    q = Vec8(repeating: c2).addingProduct(q, r)
    return r.addingProduct(r * r, q)
}

// The helpers below use only operations that lower to single AVX instructions (compare + blend, FMA,
// integer add/shift on the bit pattern); the generic SIMD `clamped`, `rounded` and Int32 conversion
// compile to per-lane calls.

/// Lanes below `lo` become `lo`, above `hi` become `hi`; NaN stays NaN.
@inline(__always) private func clamp(_ x: Vec8, _ lo: Float, _ hi: Float) -> Vec8 {
    let l = Vec8(repeating: lo), h = Vec8(repeating: hi)
    return x.replacing(with: l, where: x .< l).replacing(with: h, where: x .> h)
}

/// 1.5·2^23: adding it rounds a Float of magnitude < 2^22 to the nearest integer, whose value then sits
/// in the low mantissa bits.
private let roundMagic: Float = 12_582_912

/// Splits x (already clamped to about ±88) into 2^n and r = x − n·ln2, n = round(x / ln 2).
@inline(__always) private func reduce(_ x: Vec8) -> (scale: Vec8, r: Vec8) {
    let magic = Vec8(repeating: roundMagic)
    let t = magic.addingProduct(x, Vec8(repeating: log2e))
    let n = t - magic
    var r = x.addingProduct(n, Vec8(repeating: -ln2Hi))
    r = r.addingProduct(n, Vec8(repeating: -ln2Lo))
    let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    return (unsafeBitCast((ni &+ 127) &<< 23, to: Vec8.self), r)
}

/// e^x − 1 for every lane, within 2 ulp of the exact value (checked against Double in the tests).
/// Overflows to +inf above 88.72; NaN stays NaN.
@inline(__always) func vexpm1(_ x: Vec8) -> Vec8 {
    let (scale, r) = reduce(clamp(x, -88, 88))
    // 2^n·(expm1(r) + 1) − 1 = 2^n·expm1(r) + (2^n − 1); exact for n = 0, no cancellation otherwise.
    let y = (scale - 1).addingProduct(scale, expm1Reduced(r))
    return y.replacing(with: .infinity, where: x .> 88.72)
}

/// e^x for every lane, within 2 ulp down into the subnormal range (2^n is applied as 2^⌊n/2⌋·2^(n−⌊n/2⌋)
/// so neither factor leaves the normal range); +inf above 88.72, about 1e-45 below −104; NaN stays NaN.
@inline(__always) func vexp(_ x: Vec8) -> Vec8 {
    let magic = Vec8(repeating: roundMagic)
    let xc = clamp(x, -104, 89)
    let t = magic.addingProduct(xc, Vec8(repeating: log2e))
    let n = t - magic
    var r = xc.addingProduct(n, Vec8(repeating: -ln2Hi))
    r = r.addingProduct(n, Vec8(repeating: -ln2Lo))
    let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    let n1 = ni &>> 1, n2 = ni &- n1
    let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: Vec8.self), s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: Vec8.self)
    return s1.addingProduct(s1, expm1Reduced(r)) * s2
}

/// 1 / (1 + e^−x), computed as e^x / (1 + e^x) for x < 0 so tiny results keep their precision.
@inline(__always) func vsigmoid(_ x: Vec8) -> Vec8 {
    let zero = Vec8()
    let negAbs = x.replacing(with: -x, where: x .> zero)
    let z = vexp(negAbs)  // e^−|x| ∈ (0, 1]
    let num = Vec8(repeating: 1).replacing(with: z, where: x .< zero)
    return num / (1 + z)
}

/// tanh x = sign(x)·e/(e + 2) with e = expm1(2|x|): no cancellation, so small |x| keep full precision.
@inline(__always) func vtanh(_ x: Vec8) -> Vec8 {
    let signMask = SIMD8<UInt32>(repeating: 0x8000_0000)
    let xb = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    // |x|, clamped at 9.1 where tanh rounds to 1 in Float (keeps e finite).
    let a = clamp(unsafeBitCast(xb & ~signMask, to: Vec8.self), 0, 9.1)
    let e = vexpm1(a + a)
    let t = e / (e + 2)
    return unsafeBitCast(unsafeBitCast(t, to: SIMD8<UInt32>.self) | (xb & signMask), to: Vec8.self)
}

/// ELU lane by lane: x where x > 0, else alpha·expm1(x) (NaN stays NaN). expm1 only sees min(x, 0), so
/// it needs neither the upper clamp nor the overflow check of `vexpm1`.
@inline(__always) func elu8(_ x: Vec8, _ alpha: Float) -> Vec8 {
    let zero = Vec8(), lo = Vec8(repeating: -88)
    var xn = x.replacing(with: zero, where: x .> zero)
    xn = xn.replacing(with: lo, where: xn .< lo)
    let (scale, r) = reduce(xn)
    let e = (scale - 1).addingProduct(scale, expm1Reduced(r))
    return x.replacing(with: Vec8(repeating: alpha) * e, where: x .<= zero)
}

@inline(__always) func elu1(_ x: Float, _ alpha: Float) -> Float {
    elu8(Vec8(repeating: x), alpha)[0]
}

/// Applies `f` over `count` elements in SIMD8 steps (the tail through a zero-padded lane block), split
/// over threads (elementwise, so the split cannot change a result).
@inline(__always)
private func mapElements(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int,
                         _ f: (Vec8) -> Vec8) {
    precondition(count >= 0, "elementwise kernel: negative count \(count)")
    parallelFor((count + 7) / 8, minChunk: 8192) { r in
        let lo = r.lowerBound * 8, hi = min(count, r.upperBound * 8)
        var i = lo
        while i + 8 <= hi { store8(f(load8(x + i)), out + i); i += 8 }
        if i < hi {
            var v = Vec8()
            for j in 0..<(hi - i) { v[j] = x[i + j] }
            let y = f(v)
            for j in 0..<(hi - i) { out[i + j] = y[j] }
        }
    }
}

// MARK: ELU

/// ELU (torch.nn.ELU): `out[i] = x[i] > 0 ? x[i] : alpha·(exp(x[i]) − 1)` for `i` in `0..<count`.
/// Any shape (elementwise); `out` may be `x` (in place). Vectorized expm1, within 2 ulp.
public func eluForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int, alpha: Float = 1) {
    mapElements(out, x, count) { elu8($0, alpha) }
}

/// Scalar reference for `eluForward` (libm expm1).
public func eluForwardReference(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int, alpha: Float = 1) {
    for i in 0..<count { out[i] = x[i] > 0 ? x[i] : alpha * Foundation.expm1(x[i]) }
}

/// ELU of a tensor of any shape.
public func elu(_ x: Tensor, alpha: Float = 1) -> Tensor {
    var y = x
    guard y.count > 0 else { return y }
    y.data.withUnsafeMutableBufferPointer { eluForward(out: $0.baseAddress!, x: $0.baseAddress!, count: $0.count, alpha: alpha) }
    return y
}

// MARK: Sigmoid and tanh

/// Logistic sigmoid: `out[i] = 1 / (1 + exp(−x[i]))`; `out` may be `x`.
public func sigmoidForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    mapElements(out, x, count, vsigmoid)
}

/// Scalar reference for `sigmoidForward`.
public func sigmoidForwardReference(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = Float(1 / (1 + Foundation.exp(-Double(x[i])))) }
}

/// Hyperbolic tangent: `out[i] = tanh(x[i])`; `out` may be `x`.
public func tanhForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    mapElements(out, x, count, vtanh)
}

/// Scalar reference for `tanhForward`.
public func tanhForwardReference(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = Foundation.tanh(x[i]) }
}
