// ConvWeightGradient: the weight and bias gradients shared by the Conv1d, ConvTranspose1d and LSTM backward
// passes: a correlation of two [B, ·, T] operands reduced over batch and time, SIMD8 tiles, threaded by columns.
// Legend: B batch, R rows of the left operand L, C channels of the source S, K taps, s stride, d dilation,
// n steps of L (the reduced time axis), Ts source length, j = c·K + k a column of the gradient.
import Foundation

/// Sizes of the weight-gradient correlation
/// `dW[r, c, k] += Σ_b Σ_t L[b, r, t] · P[b, c, t·s + k·d]` for t < n, with `P = pad1d(S, padLeft, padRight)`.
///
/// Conv1d: L = dOut `[B, Cout, Tout]`, S = the (ELU'd) input, dW `[Cout, Cin, K]`. ConvTranspose1d: L = the
/// (ELU'd) input `[B, Cin, T]`, S = dOut padded back to the full output, dW `[Cin, Cout, K]`. LSTM: K = 1.
public struct WeightGradientShape: Equatable, Sendable {
    public var batch: Int
    /// R: rows of L and of dW.
    public var rows: Int
    /// C: channels of S (the middle axis of dW).
    public var channels: Int
    /// n: steps of L (the reduced axis).
    public var steps: Int
    /// Ts: length of S before padding.
    public var sourceLength: Int
    public var kernelSize: Int
    public var stride: Int
    public var dilation: Int
    public var padLeft: Int
    public var padRight: Int

    public init(batch: Int, rows: Int, channels: Int, steps: Int, sourceLength: Int, kernelSize: Int,
                stride: Int = 1, dilation: Int = 1, padLeft: Int = 0, padRight: Int = 0) {
        self.batch = batch; self.rows = rows; self.channels = channels; self.steps = steps
        self.sourceLength = sourceLength; self.kernelSize = kernelSize; self.stride = stride
        self.dilation = dilation; self.padLeft = padLeft; self.padRight = padRight
    }

    /// Ts + padLeft + padRight.
    public var paddedLength: Int { sourceLength + padLeft + padRight }

    func validate(_ caller: String) {
        precondition(batch >= 0 && rows > 0 && channels > 0 && steps >= 0 && sourceLength >= 0 && kernelSize > 0
                     && stride > 0 && dilation > 0 && padLeft >= 0 && padRight >= 0, "\(caller): invalid shape \(self)")
        precondition(steps == 0 || (steps - 1) * stride + (kernelSize - 1) * dilation < paddedLength,
                     "\(caller): \(steps) steps read past the padded source of \(paddedLength)")
    }
}

/// Time steps per staged block (a multiple of 8).
let gradientBlock = 256
/// Gradient columns j per register tile (4 rows × 3 columns: 12 accumulators + 4 operands = 16 AVX registers).
let gradientCols = 3

/// Weight gradient (fast path): `dW[r, c, k] += Σ_b Σ_t f(L[b, r, t]) · P[b, c, t·s + k·d]` with P the source
/// padded by `mode` after `g` (g = ELU(sourceAlpha) when given, constant padding not passed through it) and
/// f = ELU(leftAlpha) when given. dW `[R, C, K]`; L `[B, R, n]`; S `[B, C, Ts]`.
///
/// Each worker owns a range of column triples j (so no two write the same dW element); per block of 256 steps
/// it stages L and its three P rows, and a 4 × 3 register tile of SIMD8 dot products runs over the block.
/// Each element's sum has a fixed order (lanes, then blocks in time order, in Double): the result does not
/// depend on the thread count.
public func convWeightGradient(dW: UnsafeMutablePointer<Float>, left: UnsafePointer<Float>, leftELU leftAlpha: Float? = nil,
                               source: UnsafePointer<Float>, sourceELU sourceAlpha: Float? = nil, mode: PadMode = .zero,
                               shape: WeightGradientShape) {
    shape.validate("convWeightGradient")
    let rows = shape.rows, k = shape.kernelSize, n = shape.steps, j = shape.channels * k
    guard n > 0 && shape.batch > 0 else { return }
    let rowsPad = (rows + 3) / 4 * 4
    let groups = (j + gradientCols - 1) / gradientCols
    let macs = shape.batch * rows * j * n
    let body = { (range: Range<Int>) in
        let j0 = range.lowerBound * gradientCols, j1 = min(j, range.upperBound * gradientCols)
        let ldAcc = gradientCols * range.count
        let acc = UnsafeMutablePointer<Double>.allocate(capacity: rowsPad * ldAcc)  // acc[r][j − j0]
        acc.initialize(repeating: 0, count: rowsPad * ldAcc)
        let lb = UnsafeMutablePointer<Float>.allocate(capacity: rowsPad * gradientBlock)  // staged L block [rowsPad][256]
        lb.initialize(repeating: 0, count: rowsPad * gradientBlock)
        let xb = UnsafeMutablePointer<Float>.allocate(capacity: gradientCols * gradientBlock)  // staged P rows
        defer { acc.deallocate(); lb.deallocate(); xb.deallocate() }
        for b in 0..<shape.batch {
            var t0 = 0
            while t0 < n {
                let w = min(gradientBlock, n - t0), wPad = (w + 7) / 8 * 8
                for r in 0..<rows {
                    stageRow(lb + r * gradientBlock, width: wPad, src: left + (b * rows + r) * n + t0, step: 1, count: w, alpha: leftAlpha)
                }
                var jp = j0
                while jp < j1 {
                    for q in 0..<gradientCols {
                        let col = jp + q
                        let dst = xb + q * gradientBlock
                        if col < j1 {
                            let c = col / k, tap = col % k
                            stageSourceRow(dst, count: w, width: wPad, row: source + (b * shape.channels + c) * shape.sourceLength,
                                           first: t0 * shape.stride + tap * shape.dilation, shape: shape, mode: mode, alpha: sourceAlpha)
                        } else {
                            dst.update(repeating: 0, count: wPad)
                        }
                    }
                    var r0 = 0
                    while r0 < rowsPad {
                        gradientMicroKernel(lb + r0 * gradientBlock, xb, wPad, acc + r0 * ldAcc + (jp - j0), ldAcc)
                        r0 += 4
                    }
                    jp += gradientCols
                }
                t0 += w
            }
        }
        for r in 0..<rows {
            let dRow = dW + r * j  // dW[r, :]
            for col in j0..<j1 { dRow[col] += Float(acc[r * ldAcc + (col - j0)]) }
        }
    }
    if macs < 1 << 16 || Parallel.threadCount == 1 { body(0..<groups) } else { parallelFor(groups, body) }
}

/// 4 rows of L × 3 rows of P over `w` columns (a multiple of 8): `acc[i, q] += Σ_t l[i, t] · x[q, t]`.
@inline(__always)
private func gradientMicroKernel(_ l: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: Int,
                                 _ acc: UnsafeMutablePointer<Double>, _ ldAcc: Int) {
    let l0 = l, l1 = l + gradientBlock, l2 = l + 2 * gradientBlock, l3 = l + 3 * gradientBlock
    let x0 = x, x1 = x + gradientBlock, x2 = x + 2 * gradientBlock
    var a00 = Vec8(), a01 = Vec8(), a02 = Vec8(), a10 = Vec8(), a11 = Vec8(), a12 = Vec8()
    var a20 = Vec8(), a21 = Vec8(), a22 = Vec8(), a30 = Vec8(), a31 = Vec8(), a32 = Vec8()
    var t = 0
    while t < w {
        let u0 = load8(x0 + t), u1 = load8(x1 + t), u2 = load8(x2 + t)
        var v = load8(l0 + t); a00.addProduct(v, u0); a01.addProduct(v, u1); a02.addProduct(v, u2)
        v = load8(l1 + t); a10.addProduct(v, u0); a11.addProduct(v, u1); a12.addProduct(v, u2)
        v = load8(l2 + t); a20.addProduct(v, u0); a21.addProduct(v, u1); a22.addProduct(v, u2)
        v = load8(l3 + t); a30.addProduct(v, u0); a31.addProduct(v, u1); a32.addProduct(v, u2)
        t += 8
    }
    acc[0] += Double(a00.sum()); acc[1] += Double(a01.sum()); acc[2] += Double(a02.sum())
    acc[ldAcc] += Double(a10.sum()); acc[ldAcc + 1] += Double(a11.sum()); acc[ldAcc + 2] += Double(a12.sum())
    acc[2 * ldAcc] += Double(a20.sum()); acc[2 * ldAcc + 1] += Double(a21.sum()); acc[2 * ldAcc + 2] += Double(a22.sum())
    acc[3 * ldAcc] += Double(a30.sum()); acc[3 * ldAcc + 1] += Double(a31.sum()); acc[3 * ldAcc + 2] += Double(a32.sum())
}

/// Stages `dst[i] = P[first + i·s]` for i < count (zeros up to `width`), P the padded row of `row`
/// (length Ts) with ELU(alpha) applied to copied elements (not to a constant fill).
@inline(__always)
func stageSourceRow(_ dst: UnsafeMutablePointer<Float>, count: Int, width: Int, row: UnsafePointer<Float>, first: Int,
                    shape: WeightGradientShape, mode: PadMode, alpha: Float?) {
    let s = shape.stride, tin = shape.sourceLength, left = shape.padLeft
    let q0 = first - left  // source index of i = 0
    let iLo = min(count, q0 >= 0 ? 0 : (-q0 + s - 1) / s)
    let iHi = q0 >= tin ? iLo : max(iLo, min(count, (tin - q0 + s - 1) / s))
    if iHi > iLo {
        stageRow(dst + iLo, width: iHi - iLo, src: row + q0 + iLo * s, step: s, count: iHi - iLo, alpha: alpha)
    }
    let padded = shape.paddedLength
    for i in 0..<count where i < iLo || i >= iHi {
        let p = first + i * s
        if p >= padded { dst[i] = 0; continue }
        if let src = paddedSource(p - left, length: tin, left: left, right: shape.padRight, mode: mode) {
            dst[i] = alpha.map { elu1(row[src], $0) } ?? row[src]
        } else {
            dst[i] = mode.fill
        }
    }
    (dst + count).update(repeating: 0, count: width - count)
}

/// Scalar reference for `convWeightGradient` (Double sums, libm expm1, padding by `pad1dForward`).
public func convWeightGradientReference(dW: UnsafeMutablePointer<Float>, left: UnsafePointer<Float>, leftELU leftAlpha: Float? = nil,
                                        source: UnsafePointer<Float>, sourceELU sourceAlpha: Float? = nil, mode: PadMode = .zero,
                                        shape: WeightGradientShape) {
    shape.validate("convWeightGradientReference")
    let rows = shape.rows, ch = shape.channels, k = shape.kernelSize, n = shape.steps, ts = shape.sourceLength, tp = shape.paddedLength
    func f(_ v: Float, _ a: Float?) -> Float { a.map { v > 0 ? v : $0 * Float(expm1(Double(v))) } ?? v }
    var sum = [Double](repeating: 0, count: rows * ch * k)
    var act = [Float](repeating: 0, count: max(1, ch * ts)), xp = [Float](repeating: 0, count: ch * tp)
    for b in 0..<shape.batch {
        for i in 0..<(ch * ts) { act[i] = f(source[b * ch * ts + i], sourceAlpha) }
        pad1dForward(out: &xp, x: act, shape: Pad1dShape(rows: ch, inLength: ts, left: shape.padLeft, right: shape.padRight), mode: mode)
        for r in 0..<rows {
            for t in 0..<n {
                let l = Double(f(left[(b * rows + r) * n + t], leftAlpha))
                for c in 0..<ch {
                    for tap in 0..<k {
                        sum[(r * ch + c) * k + tap] += l * Double(xp[c * tp + t * shape.stride + tap * shape.dilation])
                    }
                }
            }
        }
    }
    for i in 0..<sum.count { dW[i] += Float(sum[i]) }
}

/// Bias gradient: `dBias[r] += Σ_b Σ_t dOut[b, r, t]` over `dOut [B, R, n]` (SIMD8 lanes, then Double;
/// threaded by rows).
public func biasGradient(dBias: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, batch: Int, rows: Int, steps n: Int) {
    precondition(batch >= 0 && rows >= 0 && n >= 0, "biasGradient: invalid sizes (\(batch), \(rows), \(n))")
    parallelFor(rows, minChunk: max(1, 65536 / max(1, batch * n))) { range in
        for r in range {
            var total = 0.0
            for b in 0..<batch {
                let row = dOut + (b * rows + r) * n  // dOut[b, r, :]
                var v = Vec8()
                var t = 0
                while t + 8 <= n { v += load8(row + t); t += 8 }
                var tail: Float = 0
                while t < n { tail += row[t]; t += 1 }
                total += Double(v.sum()) + Double(tail)
            }
            dBias[r] += Float(total)
        }
    }
}

/// Scalar reference for `biasGradient`.
public func biasGradientReference(dBias: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, batch: Int, rows: Int, steps n: Int) {
    for r in 0..<rows {
        var total = 0.0
        for b in 0..<batch { for t in 0..<n { total += Double(dOut[(b * rows + r) * n + t]) } }
        dBias[r] += Float(total)
    }
}
