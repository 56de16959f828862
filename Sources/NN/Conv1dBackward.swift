// Conv1dBackward: gradients of conv1dForward (padding modes and fused input ELU included), fast and scalar.
// Legend: B batch, Cin/Cout channels, Tin/Tout time, Tp = Tin + padLeft + padRight, K kernel, s stride, d dilation.
import Foundation

/// Conv1d backward (fast path), the gradients of `conv1dForward` with the same shape, padding and ELU:
/// ```
/// y[b, co, t] = bias[co] + Σ_ci Σ_k w[co, ci, k] · xp[b, ci, t·s + k·d],   xp = pad1d(f(x))
/// dxp[b, ci, p] = Σ_co Σ_{t, k: t·s + k·d = p} w[co, ci, k] · dOut[b, co, t]
/// dx[b, ci, i] += f'(x[b, ci, i]) · Σ_{p: pad source of p is i} dxp[b, ci, p]
/// dWeight[co, ci, k] += Σ_b Σ_t dOut[b, co, t] · xp[b, ci, t·s + k·d];   dBias[co] += Σ_b Σ_t dOut[b, co, t]
/// ```
/// - dx `[B, Cin, Tin]`, dWeight `[Cout, Cin, K]`, dBias `[Cout]`: accumulated (+=); pass nil to skip one.
/// - dOut `[B, Cout, Tout]`; x `[B, Cin, Tin]` the forward input (before the fused ELU); weight `[Cout, Cin, K]`.
/// dxp is a convolution itself, run by the fast forward kernels: stride 1 is a conv of dOut with the
/// taps flipped (same dilation, (K − 1)·d zeros on both sides); stride s > 1 is a transposed conv of stride s
/// (dilated taps spread with zeros). dxp is then folded onto x through the padding rule (reflected and
/// replicated positions add to their source), times ELU'. Threads split by what they write; the result does
/// not depend on the thread count.
public func conv1dBackward(dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                           dBias: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>, x: UnsafePointer<Float>,
                           weight: UnsafePointer<Float>, shape: Conv1dShape, padMode: PadMode = .zero,
                           inputELU alpha: Float? = nil) {
    shape.validate("conv1dBackward")
    let bsz = shape.batch, cin = shape.inChannels, cout = shape.outChannels, k = shape.kernelSize
    let s = shape.stride, d = shape.dilation, tin = shape.inLength, tout = shape.outLength, tp = shape.paddedLength
    guard bsz > 0 else { return }
    if let dBias { biasGradient(dBias: dBias, dOut: dOut, batch: bsz, rows: cout, steps: tout) }
    // ELU(x) once (the weight gradient reads each input K times; ELU' = ELU(x) + alpha where x ≤ 0).
    let act: UnsafeMutablePointer<Float>? = alpha.map { a in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, bsz * cin * tin))
        if tin > 0 { eluForward(out: p, x: x, count: bsz * cin * tin, alpha: a) }
        return p
    }
    defer { act?.deallocate() }
    if let dWeight {
        convWeightGradient(dW: dWeight, left: dOut, source: act.map { UnsafePointer($0) } ?? x, mode: padMode,
                           shape: WeightGradientShape(batch: bsz, rows: cout, channels: cin, steps: tout, sourceLength: tin,
                                                      kernelSize: k, stride: s, dilation: d,
                                                      padLeft: shape.padLeft, padRight: shape.padRight))
    }
    guard let dx, tin > 0 else { return }
    if s == 1 && tp == tin && alpha == nil {
        // No padding, no ELU (a 1×1 shortcut): the flipped conv accumulates straight into dx.
        var wf = [Float](repeating: 0, count: cin * cout * k)
        for co in 0..<cout { for ci in 0..<cin { for kk in 0..<k { wf[(ci * cout + co) * k + (k - 1 - kk)] = weight[(co * cin + ci) * k + kk] } } }
        let halo = (k - 1) * d
        wf.withUnsafeBufferPointer { w in
            conv1dForward(out: dx, x: dOut, weight: w.baseAddress!, bias: nil,
                          shape: Conv1dShape(batch: bsz, inChannels: cout, outChannels: cin, inLength: tout, kernelSize: k,
                                             dilation: d, padLeft: halo, padRight: halo), accumulate: true)
        }
        return
    }
    let dxp = UnsafeMutablePointer<Float>.allocate(capacity: bsz * cin * tp)  // [B, Cin, Tp]
    defer { dxp.deallocate() }
    if s == 1 {
        // dxp[ci, p] = Σ_co Σ_k' wf[ci, co, k'] · dOut[co, p − (K − 1)·d + k'·d], wf[ci, co, k'] = w[co, ci, K − 1 − k'].
        var wf = [Float](repeating: 0, count: cin * cout * k)
        for co in 0..<cout { for ci in 0..<cin { for kk in 0..<k { wf[(ci * cout + co) * k + (k - 1 - kk)] = weight[(co * cin + ci) * k + kk] } } }
        let halo = (k - 1) * d
        wf.withUnsafeBufferPointer { w in
            conv1dForward(out: dxp, x: dOut, weight: w.baseAddress!, bias: nil,
                          shape: Conv1dShape(batch: bsz, inChannels: cout, outChannels: cin, inLength: tout, kernelSize: k,
                                             dilation: d, padLeft: halo, padRight: halo))
        }
    } else {
        // A transposed conv of stride s with weight [Cout, Cin, K'] (K' = (K − 1)·d + 1, zeros between taps)
        // writes positions 0 ..< (Tout − 1)·s + K' of each Tp row; the rest is zero.
        dxp.initialize(repeating: 0, count: bsz * cin * tp)
        let kd = (k - 1) * d + 1
        var we = [Float](repeating: 0, count: cout * cin * kd)
        for r in 0..<(cout * cin) { for kk in 0..<k { we[r * kd + kk * d] = weight[r * k + kk] } }
        let sh = ConvTranspose1dShape(batch: bsz, inChannels: cout, outChannels: cin, inLength: tout, kernelSize: kd, stride: s)
        let packed = we.withUnsafeBufferPointer {
            packConvTranspose1dWeights($0.baseAddress!, bias: nil, inChannels: cout, outChannels: cin, kernelSize: kd, stride: s)
        }
        convTranspose1dForward(out: dxp, x: dOut, packed: packed, shape: sh, outputRowStride: tp)
    }
    foldPaddedGradient(dx: dx, dxp: dxp, x: x, act: act.map { UnsafePointer($0) }, rows: bsz * cin, shape: shape,
                       padMode: padMode, alpha: alpha)
}

/// `dx[r, i] += f'(x[r, i]) · (dxp[r, padLeft + i] + Σ_{padding p copying i} dxp[r, p])` for each row r, with
/// f' from `act` = ELU(x) when alpha is set (1 where x > 0, act + alpha elsewhere). The copies are added into
/// dxp in place (it is scratch), so no row is copied.
func foldPaddedGradient(dx: UnsafeMutablePointer<Float>, dxp: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                        act: UnsafePointer<Float>?, rows: Int, shape: Conv1dShape, padMode: PadMode, alpha: Float?) {
    let tin = shape.inLength, tp = shape.paddedLength, left = shape.padLeft
    let hasCopies: Bool
    if case .constant = padMode { hasCopies = false } else { hasCopies = shape.padLeft + shape.padRight > 0 }
    parallelFor(rows, minChunk: max(1, 16384 / max(1, tin))) { range in
        for r in range {
            let row = dxp + r * tp  // dxp[r, :], folded in place (each row belongs to one worker)
            let g = row + left      // the gradient of x[r, :] once the copies are added
            if hasCopies {
                // The padding positions only, in increasing p (a scan of the whole row cost as much as the fold).
                func fold(_ p: Int) {
                    if let i = paddedSource(p - left, length: tin, left: left, right: shape.padRight, mode: padMode) { g[i] += row[p] }
                }
                for p in 0..<left { fold(p) }
                for p in (left + tin)..<tp { fold(p) }
            }
            if let act, let alpha {
                addScaledByELUDerivative(dx + r * tin, g, x + r * tin, activated: act + r * tin, tin, alpha)
            } else {
                addScaledByELUDerivative(dx + r * tin, g, x + r * tin, tin, nil)
            }
        }
    }
}

/// Scalar reference for `conv1dBackward`: the formulas above in plain loops over (b, co, t, ci, k), Double sums.
public func conv1dBackwardReference(dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                    dBias: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, shape: Conv1dShape, padMode: PadMode = .zero,
                                    inputELU alpha: Float? = nil) {
    shape.validate("conv1dBackwardReference")
    let bsz = shape.batch, cin = shape.inChannels, cout = shape.outChannels, k = shape.kernelSize
    let tin = shape.inLength, tout = shape.outLength, tp = shape.paddedLength
    var act = [Float](repeating: 0, count: max(1, cin * tin)), xp = [Float](repeating: 0, count: cin * tp)
    var gw = [Double](repeating: 0, count: cout * cin * k), gb = [Double](repeating: 0, count: cout)
    for b in 0..<bsz {
        for i in 0..<(cin * tin) {
            let v = x[b * cin * tin + i]
            act[i] = alpha.map { v > 0 ? v : $0 * Float(expm1(Double(v))) } ?? v
        }
        pad1dForward(out: &xp, x: act, shape: Pad1dShape(rows: cin, inLength: tin, left: shape.padLeft, right: shape.padRight), mode: padMode)
        var gxp = [Double](repeating: 0, count: cin * tp)
        for co in 0..<cout {
            for t in 0..<tout {
                let g = Double(dOut[(b * cout + co) * tout + t])
                gb[co] += g
                for ci in 0..<cin {
                    for kk in 0..<k {
                        let p = t * shape.stride + kk * shape.dilation
                        gw[(co * cin + ci) * k + kk] += g * Double(xp[ci * tp + p])
                        gxp[ci * tp + p] += g * Double(weight[(co * cin + ci) * k + kk])
                    }
                }
            }
        }
        guard let dx else { continue }
        for ci in 0..<cin {
            var g = [Double](repeating: 0, count: tin)
            for p in 0..<tp {
                if let i = paddedSource(p - shape.padLeft, length: tin, left: shape.padLeft, right: shape.padRight, mode: padMode) {
                    g[i] += gxp[ci * tp + p]
                }
            }
            for i in 0..<tin {
                let v = Double(x[(b * cin + ci) * tin + i])
                let fp = alpha.map { v > 0 ? 1 : Double($0) * exp(v) } ?? 1
                dx[(b * cin + ci) * tin + i] += Float(g[i] * fp)
            }
        }
    }
    if let dWeight { for i in 0..<gw.count { dWeight[i] += Float(gw[i]) } }
    if let dBias { for i in 0..<cout { dBias[i] += Float(gb[i]) } }
}
