// ActivationsBackward: the ELU gradient over SIMD8 (fast, threaded) and its scalar reference.
// Legend: n element count, x the forward input, dOut the gradient of the output, dx the gradient of the input.
import Foundation

/// ELU'(x) lane by lane: 1 where x > 0, else alpha·e^x.
@inline(__always) func eluDerivative8(_ x: Vec8, _ alpha: Float) -> Vec8 {
    let zero = Vec8()
    let e = Vec8(repeating: alpha) * vexp(x.replacing(with: zero, where: x .> zero))
    return e.replacing(with: Vec8(repeating: 1), where: x .> zero)
}

/// ELU backward (torch.nn.ELU): `dx[i] += dOut[i] · (x[i] > 0 ? 1 : alpha·exp(x[i]))` for i < `count`.
/// Any shape (elementwise); x is the forward input. Threaded over fixed SIMD8 lanes (thread-count independent).
public func eluBackward(dx: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, x: UnsafePointer<Float>,
                        count: Int, alpha: Float = 1) {
    precondition(count >= 0, "eluBackward: negative count \(count)")
    parallelFor((count + 7) / 8, minChunk: 8192) { r in
        let lo = r.lowerBound * 8, hi = min(count, r.upperBound * 8)
        var i = lo
        while i + 8 <= hi {
            store8(load8(dx + i).addingProduct(load8(dOut + i), eluDerivative8(load8(x + i), alpha)), dx + i)
            i += 8
        }
        if i < hi {
            var xv = Vec8(), gv = Vec8()
            for l in 0..<(hi - i) { xv[l] = x[i + l]; gv[l] = dOut[i + l] }
            let d = gv * eluDerivative8(xv, alpha)
            for l in 0..<(hi - i) { dx[i + l] += d[l] }
        }
    }
}

/// Scalar reference for `eluBackward` (libm exp in Double).
public func eluBackwardReference(dx: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                 count: Int, alpha: Float = 1) {
    for i in 0..<count {
        let d = x[i] > 0 ? 1 : Double(alpha) * Foundation.exp(Double(x[i]))
        dx[i] += Float(Double(dOut[i]) * d)
    }
}

/// Row-wise `dx[i] += g[i] · f'(x[i])` with f = ELU(alpha) when given, else the identity (dx += g), for one
/// row of n elements; no threading (called inside workers).
@inline(__always)
func addScaledByELUDerivative(_ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                              _ n: Int, _ alpha: Float?) {
    var i = 0
    if let alpha {
        while i + 8 <= n { store8(load8(dx + i).addingProduct(load8(g + i), eluDerivative8(load8(x + i), alpha)), dx + i); i += 8 }
        if i < n {
            var xv = Vec8(), gv = Vec8()
            for l in 0..<(n - i) { xv[l] = x[i + l]; gv[l] = g[i + l] }
            let d = gv * eluDerivative8(xv, alpha)
            for l in 0..<(n - i) { dx[i + l] += d[l] }
        }
    } else {
        while i + 8 <= n { store8(load8(dx + i) + load8(g + i), dx + i); i += 8 }
        while i < n { dx[i] += g[i]; i += 1 }
    }
}

/// Row-wise `dx[i] += g[i] · ELU'(x[i])` with ELU' read from the activation `act` = ELU(x): 1 where x > 0,
/// act + alpha (= alpha·e^x) elsewhere; no exp. No threading (called inside workers).
@inline(__always)
func addScaledByELUDerivative(_ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                              activated act: UnsafePointer<Float>, _ n: Int, _ alpha: Float) {
    let one = Vec8(repeating: 1), a = Vec8(repeating: alpha), zero = Vec8()
    var i = 0
    while i + 8 <= n {
        let xv = load8(x + i)
        let d = (load8(act + i) + a).replacing(with: one, where: xv .> zero)
        store8(load8(dx + i).addingProduct(load8(g + i), d), dx + i)
        i += 8
    }
    while i < n {
        dx[i] += g[i] * (x[i] > 0 ? 1 : act[i] + alpha)
        i += 1
    }
}
