// ConvTranspose1dBackward: gradients of convTranspose1dForward (trim and fused input ELU included), fast and scalar.
// Legend: B batch, Cin/Cout channels, T input time, K kernel, s stride, F = (T − 1)·s + K full output length,
// To = F − trimLeft − trimRight the kept output.
import Foundation

/// ConvTranspose1d backward (fast path), the gradients of `convTranspose1dForward` with the same shape and ELU:
/// ```
/// full[b, co, t·s + k] = bias[co] + Σ_ci Σ_{t,k} f(x[b, ci, t]) · w[ci, co, k];  out = full[trimLeft ..< F − trimRight]
/// dfull = dOut with trimLeft zeros before and trimRight after
/// dx[b, ci, t] += f'(x[b, ci, t]) · Σ_co Σ_k w[ci, co, k] · dfull[b, co, t·s + k]
/// dWeight[ci, co, k] += Σ_b Σ_t f(x[b, ci, t]) · dfull[b, co, t·s + k];   dBias[co] += Σ_b Σ_p dOut[b, co, p]
/// ```
/// - dx `[B, Cin, T]`, dWeight `[Cin, Cout, K]`, dBias `[Cout]`: accumulated (+=); nil skips one.
/// - dOut `[B, Cout, To]`; x `[B, Cin, T]` the forward input (before ELU); weight `[Cin, Cout, K]`.
/// dx is a strided Conv1d of dOut (the transposed-conv weight read as conv weight `[Cin, Cout, K]`, the trim
/// as zero padding) run by the fast forward kernel; dWeight is the shared weight-gradient correlation.
/// Results do not depend on the thread count.
public func convTranspose1dBackward(dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                    dBias: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, shape: ConvTranspose1dShape, inputELU alpha: Float? = nil) {
    shape.validate("convTranspose1dBackward")
    let bsz = shape.batch, cin = shape.inChannels, cout = shape.outChannels, k = shape.kernelSize
    let t = shape.inLength, to = shape.outLength
    guard bsz > 0 else { return }
    if let dBias { biasGradient(dBias: dBias, dOut: dOut, batch: bsz, rows: cout, steps: to) }
    if let dWeight {
        convWeightGradient(dW: dWeight, left: x, leftELU: alpha, source: dOut, mode: .zero,
                           shape: WeightGradientShape(batch: bsz, rows: cin, channels: cout, steps: t, sourceLength: to,
                                                      kernelSize: k, stride: shape.stride,
                                                      padLeft: shape.trimLeft, padRight: shape.trimRight))
    }
    guard let dx else { return }
    let conv = Conv1dShape(batch: bsz, inChannels: cout, outChannels: cin, inLength: to, kernelSize: k, stride: shape.stride,
                           padLeft: shape.trimLeft, padRight: shape.trimRight)
    precondition(conv.outLength == t, "convTranspose1dBackward: internal length mismatch \(conv.outLength) vs \(t)")
    if alpha == nil {
        conv1dForward(out: dx, x: dOut, weight: weight, bias: nil, shape: conv, accumulate: true)
        return
    }
    let g = UnsafeMutablePointer<Float>.allocate(capacity: bsz * cin * t)
    defer { g.deallocate() }
    conv1dForward(out: g, x: dOut, weight: weight, bias: nil, shape: conv)
    parallelFor(bsz * cin, minChunk: max(1, 16384 / t)) { range in
        for r in range { addScaledByELUDerivative(dx + r * t, g + r * t, x + r * t, t, alpha) }
    }
}

/// Scalar reference for `convTranspose1dBackward`: loops over (b, ci, t, co, k) on the full output, Double sums.
public func convTranspose1dBackwardReference(dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                             dBias: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>,
                                             x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                             shape: ConvTranspose1dShape, inputELU alpha: Float? = nil) {
    shape.validate("convTranspose1dBackwardReference")
    let bsz = shape.batch, cin = shape.inChannels, cout = shape.outChannels, k = shape.kernelSize
    let t = shape.inLength, to = shape.outLength, s = shape.stride
    var gw = [Double](repeating: 0, count: cin * cout * k), gb = [Double](repeating: 0, count: cout)
    for b in 0..<bsz {
        func dfull(_ co: Int, _ p: Int) -> Double {
            let o = p - shape.trimLeft
            return o >= 0 && o < to ? Double(dOut[(b * cout + co) * to + o]) : 0
        }
        for co in 0..<cout { for o in 0..<to { gb[co] += Double(dOut[(b * cout + co) * to + o]) } }
        for ci in 0..<cin {
            for ti in 0..<t {
                let v = Double(x[(b * cin + ci) * t + ti])
                let fv = alpha.map { v > 0 ? v : Double($0) * expm1(v) } ?? v
                let fp = alpha.map { v > 0 ? 1 : Double($0) * exp(v) } ?? 1
                var g = 0.0
                for co in 0..<cout {
                    for kk in 0..<k {
                        let dfv = dfull(co, ti * s + kk)
                        g += Double(weight[(ci * cout + co) * k + kk]) * dfv
                        gw[(ci * cout + co) * k + kk] += Double(Float(fv)) * dfv
                    }
                }
                dx?[(b * cin + ci) * t + ti] += Float(g * fp)
            }
        }
    }
    if let dWeight { for i in 0..<gw.count { dWeight[i] += Float(gw[i]) } }
    if let dBias { for i in 0..<cout { dBias[i] += Float(gb[i]) } }
}
