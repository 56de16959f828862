// ConvWeightGradient: the weight and bias gradients shared by the Conv1d, ConvTranspose1d and LSTM backward passes:
// a correlation of two [B, ·, T] operands reduced over batch and time, as a GEMM (SIMD8 along rows, threaded by columns).
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

/// Largest number of time steps per block (the staged L block and each element's Float partial sum).
let gradientBlock = 256
/// Gradient columns j per column tile (two 16 × 6 register tiles, or one 8 × 12: 12 SIMD8 accumulators each).
let gradientCols = 12
/// Floats of transposed L staged per block (the L panels one column tile streams stay in L2).
let gradientStageBudget = 64 * 1024
/// Doubles of per-worker partial sums (rows × columns of one chunk of columns).
let gradientAccumulatorBudget = 32 * 1024

/// Weight gradient (fast path): `dW[r, c, k] += Σ_b Σ_t f(L[b, r, t]) · P[b, c, t·s + k·d]` with P the source
/// padded by `mode` after `g` (g = ELU(sourceAlpha) when given, constant padding not passed through it) and
/// f = ELU(leftAlpha) when given. dW `[R, C, K]`; L `[B, R, n]`; S `[B, C, Ts]`.
///
/// A GEMM `dW = L · Pᵀ` over blocks of time: per block of up to 256 steps, L is staged transposed (`[t][16 rows]`
/// panels, ELU applied) and each source channel the worker reads is staged once (padded, ELU applied; an
/// interior run without ELU is read in place), the K tap columns of a channel pointing into that one row at
/// offsets k·d. Register tiles of 16 rows × 6 columns (8 × 12 for a last odd 8-row panel) hold SIMD8 vectors
/// along the rows: each step broadcasts P[c, t·s + k·d] per column and adds its product with L[rows, t]; no
/// horizontal sums. Workers own ranges of 12-column groups, taken in chunks whose Double sums fit a fixed budget
/// (with fewer than 4 groups and several threads, (group, range of 8-row panels) items instead).
/// Order of each element's sum: within a block, a Float FMA chain over t in time order; the block sums are
/// added in Double in (batch, block) order. Blocks depend only on the shape and workers own disjoint dW
/// elements, so the result does not depend on the thread count or on how the work is split.
public func convWeightGradient(dW: UnsafeMutablePointer<Float>, left: UnsafePointer<Float>, leftELU leftAlpha: Float? = nil,
                               source: UnsafePointer<Float>, sourceELU sourceAlpha: Float? = nil, mode: PadMode = .zero,
                               shape: WeightGradientShape) {
    shape.validate("convWeightGradient")
    let rows = shape.rows, ch = shape.channels, k = shape.kernelSize, n = shape.steps, j = ch * k
    let s = shape.stride, d = shape.dilation, ts = shape.sourceLength
    guard n > 0 && shape.batch > 0 else { return }
    let rowsPad = (rows + 7) / 8 * 8, panels = rowsPad / 8
    let block = min(gradientBlock, n, max(8, gradientStageBudget / rowsPad / 8 * 8))
    let pairStride = (block + 7) / 8 * 128  // floats between 16-row pairs of panels in the staged L block
    let span = (block - 1) * s + (k - 1) * d + 1  // padded positions one channel's block reads
    var unitStride = shape
    unitStride.stride = 1
    let groups = (j + gradientCols - 1) / gradientCols
    // Column groups per chunk: a chunk's Double sums (rowsPad × columns) stay within the accumulator budget.
    let chunkGroups = max(1, gradientAccumulatorBudget / (rowsPad * gradientCols))
    // Few column groups (a narrow gradient such as a 1×1 conv from 8 channels): the work items are (group,
    // row part) pairs instead, so two workers can share a single group. (Any split gives the same sums.)
    let rowParts = groups >= 4 || Parallel.threadCount == 1 ? 1 : min(panels, 4 / groups)
    let macs = shape.batch * rows * j * n
    let body = { (range: Range<Int>) in
        let perChunk = rowParts == 1 ? min(range.count, chunkGroups) : 1
        let cMax = min(ch, (perChunk * gradientCols + k - 2) / k + 1)  // channels one chunk reads
        let acc = UnsafeMutablePointer<Double>.allocate(capacity: perChunk * gradientCols * rowsPad)  // acc[j − j0][r]
        let lt = UnsafeMutablePointer<Float>.allocate(capacity: (panels + 1) / 2 * pairStride)  // [pair][t][16]
        let stage = UnsafeMutablePointer<Float>.allocate(capacity: cMax * span + span)  // staged rows, then zeros
        let zeros = stage + cMax * span
        zeros.initialize(repeating: 0, count: span)
        let rowAt = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: cMax)  // P[c, first …]
        let colAt = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: gradientCols)
        let colChannel = UnsafeMutablePointer<Int>.allocate(capacity: perChunk * gradientCols)  // c − cLo per column
        let colOffset = UnsafeMutablePointer<Int>.allocate(capacity: perChunk * gradientCols)   // k·d per column
        defer {
            acc.deallocate(); lt.deallocate(); stage.deallocate(); rowAt.deallocate(); colAt.deallocate()
            colChannel.deallocate(); colOffset.deallocate()
        }
        /// dW[8·p0 ..< 8·p1 (within R), 12·g0 ..< 12·g1 (within J)] += Σ_b Σ_t …
        func run(groups g0: Int, _ g1: Int, panels p0: Int, _ p1: Int) {
            let j0 = g0 * gradientCols, j1 = min(j, g1 * gradientCols)
            let cLo = j0 / k, cHi = (j1 - 1) / k + 1  // channels this chunk reads
            for col in j0..<j1 { colChannel[col - j0] = col / k - cLo; colOffset[col - j0] = (col % k) * d }
            acc.update(repeating: 0, count: (g1 - g0) * gradientCols * rowsPad)
            for b in 0..<shape.batch {
                var t0 = 0
                while t0 < n {
                    let w = min(block, n - t0)
                    stageTransposed(lt, pairStride, left + (b * rows + 8 * p0) * n + t0, ld: n,
                                    rows: rows - 8 * p0, panels: p1 - p0, steps: w, alpha: leftAlpha)
                    let first = t0 * s, need = (w - 1) * s + (k - 1) * d + 1
                    for c in cLo..<cHi {
                        let row = source + (b * ch + c) * ts  // S[b, c, :]
                        let q0 = first - shape.padLeft
                        if sourceAlpha == nil && q0 >= 0 && q0 + need <= ts {
                            rowAt[c - cLo] = row + q0
                        } else {
                            let dst = stage + (c - cLo) * span
                            stageSourceRow(dst, count: need, width: need, row: row, first: first, shape: unitStride, mode: mode, alpha: sourceAlpha)
                            rowAt[c - cLo] = UnsafePointer(dst)
                        }
                    }
                    var jt = j0
                    while jt < j1 {
                        for q in 0..<gradientCols {
                            let col = jt + q - j0
                            colAt[q] = jt + q < j1 ? rowAt[colChannel[col]] + colOffset[col] : UnsafePointer(zeros)
                        }
                        let a = acc + (jt - j0) * rowsPad
                        let pairs = (p1 - p0) / 2, second = jt + gradientCols / 2 < j1
                        for q in 0..<pairs {
                            let r = a + (p0 + 2 * q) * 8  // acc[jt − j0][16 rows of the pair]
                            gradientTile16x6(lt + q * pairStride, colAt, s, w, r, rowsPad)
                            if second { gradientTile16x6(lt + q * pairStride, colAt + gradientCols / 2, s, w, r + gradientCols / 2 * rowsPad, rowsPad) }
                        }
                        if (p1 - p0) % 2 == 1 { gradientTile8x12(lt + pairs * pairStride, colAt, s, w, a + (p1 - 1) * 8, rowsPad) }
                        jt += gradientCols
                    }
                    t0 += w
                }
            }
            // dW[r, j0 ..< j1] += acc, 8 rows at a time (acc reads stay contiguous, dW writes fill whole lines).
            for p in p0..<p1 {
                let r0 = 8 * p, r1 = min(rows, r0 + 8)
                for col in j0..<j1 {
                    let a = acc + (col - j0) * rowsPad
                    for r in r0..<r1 { dW[r * j + col] += Float(a[r]) }
                }
            }
        }
        if rowParts == 1 {
            var g0 = range.lowerBound
            while g0 < range.upperBound {
                let g1 = min(range.upperBound, g0 + chunkGroups)
                run(groups: g0, g1, panels: 0, panels)
                g0 = g1
            }
        } else {
            for item in range {
                let g = item / rowParts, part = item % rowParts
                run(groups: g, g + 1, panels: panels * part / rowParts, panels * (part + 1) / rowParts)
            }
        }
    }
    let items = groups * rowParts
    if macs < 1 << 16 || Parallel.threadCount == 1 { body(0..<items) } else { parallelFor(items, body) }
}

/// Stages `steps` columns of L transposed, 8-row panels in pairs: `lt[q·pairStride + t·16 + 8h + i] = f(L[8(2q + h) + i, t])`,
/// a last odd panel alone as `lt[q·pairStride + t·8 + i]`; zero for rows ≥ `rows` (columns up to the next multiple
/// of 8 are written too: the pair stride leaves room for them).
@inline(__always)
private func stageTransposed(_ lt: UnsafeMutablePointer<Float>, _ pairStride: Int, _ l: UnsafePointer<Float>, ld: Int,
                             rows: Int, panels: Int, steps w: Int, alpha: Float?) {
    let full = w / 8 * 8
    for p in 0..<panels {
        let paired = p < panels / 2 * 2
        let dst = lt + (p / 2) * pairStride + (paired ? (p % 2) * 8 : 0), ts = paired ? 16 : 8  // ts: floats per step
        let r0 = p * 8
        if r0 + 8 <= rows {
            let l0 = l + r0 * ld  // L[r0, :]
            var t = 0
            if let alpha {
                while t < full {
                    let src = l0 + t
                    transposeStore(dst + t * ts, ts, elu8(load8(src), alpha), elu8(load8(src + ld), alpha), elu8(load8(src + 2 * ld), alpha),
                                   elu8(load8(src + 3 * ld), alpha), elu8(load8(src + 4 * ld), alpha), elu8(load8(src + 5 * ld), alpha),
                                   elu8(load8(src + 6 * ld), alpha), elu8(load8(src + 7 * ld), alpha))
                    t += 8
                }
            } else {
                while t < full {
                    let src = l0 + t
                    transposeStore(dst + t * ts, ts, load8(src), load8(src + ld), load8(src + 2 * ld), load8(src + 3 * ld),
                                   load8(src + 4 * ld), load8(src + 5 * ld), load8(src + 6 * ld), load8(src + 7 * ld))
                    t += 8
                }
            }
            if full == w { continue }
        }
        // A partial panel (rows past R are zero) or the last partial 8 steps: element by element.
        let t0 = r0 + 8 <= rows ? full : 0
        let live = min(8, rows - r0)
        for t in t0..<((w + 7) / 8 * 8) {
            var v = Vec8()
            if t < w { for i in 0..<live { v[i] = l[(r0 + i) * ld + t] } }
            if let alpha { v = elu8(v, alpha) }
            store8(v, dst + t * ts)
        }
    }
}

/// Stores the 8 × 8 transpose of rows r0 … r7 at `dst`, `ts` floats apart (8 vectors: lane i of each input).
@inline(__always)
private func transposeStore(_ dst: UnsafeMutablePointer<Float>, _ ts: Int, _ r0: Vec8, _ r1: Vec8, _ r2: Vec8, _ r3: Vec8,
                            _ r4: Vec8, _ r5: Vec8, _ r6: Vec8, _ r7: Vec8) {
    let o = transpose8(r0, r1, r2, r3, r4, r5, r6, r7)
    store8(o.0, dst); store8(o.1, dst + ts); store8(o.2, dst + 2 * ts); store8(o.3, dst + 3 * ts)
    store8(o.4, dst + 4 * ts); store8(o.5, dst + 5 * ts); store8(o.6, dst + 6 * ts); store8(o.7, dst + 7 * ts)
}

/// 8 × 8 transpose: output i holds lane i of each input (unpack, shuffle and 128-bit permute patterns).
@inline(__always)
private func transpose8(_ r0: Vec8, _ r1: Vec8, _ r2: Vec8, _ r3: Vec8, _ r4: Vec8, _ r5: Vec8, _ r6: Vec8, _ r7: Vec8)
    -> (Vec8, Vec8, Vec8, Vec8, Vec8, Vec8, Vec8, Vec8) {
    @inline(__always) func lo(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5]) }
    @inline(__always) func hi(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7]) }
    @inline(__always) func even(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5]) }
    @inline(__always) func odd(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7]) }
    @inline(__always) func low(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]) }
    @inline(__always) func high(_ a: Vec8, _ b: Vec8) -> Vec8 { Vec8(a[4], a[5], a[6], a[7], b[4], b[5], b[6], b[7]) }
    let u0 = lo(r0, r1), u1 = hi(r0, r1), u2 = lo(r2, r3), u3 = hi(r2, r3)
    let u4 = lo(r4, r5), u5 = hi(r4, r5), u6 = lo(r6, r7), u7 = hi(r6, r7)
    let v0 = even(u0, u2), v1 = odd(u0, u2), v2 = even(u1, u3), v3 = odd(u1, u3)  // columns (0,4) (1,5) (2,6) (3,7) of rows 0-3
    let v4 = even(u4, u6), v5 = odd(u4, u6), v6 = even(u5, u7), v7 = odd(u5, u7)  // the same of rows 4-7
    return (low(v0, v4), low(v1, v5), low(v2, v6), low(v3, v7), high(v0, v4), high(v1, v5), high(v2, v6), high(v3, v7))
}

/// Adds the 8 lanes of `v` to `acc[0 ..< 8]` in Double.
@inline(__always)
private func addToDouble(_ v: Vec8, _ acc: UnsafeMutablePointer<Double>) {
    let p = UnsafeMutableRawPointer(acc)
    let a = p.loadUnaligned(as: SIMD4<Double>.self) + SIMD4<Double>(v.lowHalf)
    let b = p.loadUnaligned(fromByteOffset: 32, as: SIMD4<Double>.self) + SIMD4<Double>(v.highHalf)
    p.storeBytes(of: a, as: SIMD4<Double>.self)
    p.storeBytes(of: b, toByteOffset: 32, as: SIMD4<Double>.self)
}

/// 16 rows × 6 columns over `w` steps: `acc[q·ldAcc + i] += Σ_t l[t, i] · col[q][t·step]` for i < 16 (`l` holds
/// 16 floats per step), the same Float chain per element as the 8 × 12 tile. SIMD16 operations keep each
/// broadcast's two FMAs together: 12 accumulators + 2 operands + 1 broadcast registers, 8 loads per 12 FMAs.
@inline(never)
func gradientTile16x6(_ l: UnsafePointer<Float>, _ col: UnsafePointer<UnsafePointer<Float>>, _ step: Int,
                      _ w: Int, _ acc: UnsafeMutablePointer<Double>, _ ldAcc: Int) {
    typealias V16 = SIMD16<Float>
    let c0 = col[0], c1 = col[1], c2 = col[2], c3 = col[3], c4 = col[4], c5 = col[5]
    var lp = UnsafeRawPointer(l)
    var a0 = V16(), a1 = V16(), a2 = V16(), a3 = V16(), a4 = V16(), a5 = V16()
    var o = 0
    for _ in 0..<w {
        let x = lp.loadUnaligned(as: V16.self)
        a0.addProduct(x, V16(repeating: c0[o])); a1.addProduct(x, V16(repeating: c1[o]))
        a2.addProduct(x, V16(repeating: c2[o])); a3.addProduct(x, V16(repeating: c3[o]))
        a4.addProduct(x, V16(repeating: c4[o])); a5.addProduct(x, V16(repeating: c5[o]))
        lp += 64; o += step
    }
    addToDouble(a0.lowHalf, acc); addToDouble(a0.highHalf, acc + 8)
    addToDouble(a1.lowHalf, acc + ldAcc); addToDouble(a1.highHalf, acc + ldAcc + 8)
    addToDouble(a2.lowHalf, acc + 2 * ldAcc); addToDouble(a2.highHalf, acc + 2 * ldAcc + 8)
    addToDouble(a3.lowHalf, acc + 3 * ldAcc); addToDouble(a3.highHalf, acc + 3 * ldAcc + 8)
    addToDouble(a4.lowHalf, acc + 4 * ldAcc); addToDouble(a4.highHalf, acc + 4 * ldAcc + 8)
    addToDouble(a5.lowHalf, acc + 5 * ldAcc); addToDouble(a5.highHalf, acc + 5 * ldAcc + 8)
}

/// 8 rows × 12 columns over `w` steps: `acc[q·ldAcc + i] += Σ_t l[t, i] · col[q][t·step]` (a Float FMA chain
/// over t, then one Double add). 12 accumulators + 1 operand + 1 broadcast fit the 16 AVX registers
/// (13 loads per 12 FMAs: used for a last odd 8-row panel).
@inline(never)
func gradientTile8x12(_ l: UnsafePointer<Float>, _ col: UnsafePointer<UnsafePointer<Float>>, _ step: Int,
                      _ w: Int, _ acc: UnsafeMutablePointer<Double>, _ ldAcc: Int) {
    let c0 = col[0], c1 = col[1], c2 = col[2], c3 = col[3], c4 = col[4], c5 = col[5]
    let c6 = col[6], c7 = col[7], c8 = col[8], c9 = col[9], c10 = col[10], c11 = col[11]
    var lp = l
    var a0 = Vec8(), a1 = Vec8(), a2 = Vec8(), a3 = Vec8(), a4 = Vec8(), a5 = Vec8()
    var a6 = Vec8(), a7 = Vec8(), a8 = Vec8(), a9 = Vec8(), a10 = Vec8(), a11 = Vec8()
    var o = 0
    for _ in 0..<w {
        let x = load8(lp)
        a0.addProduct(x, Vec8(repeating: c0[o])); a1.addProduct(x, Vec8(repeating: c1[o]))
        a2.addProduct(x, Vec8(repeating: c2[o])); a3.addProduct(x, Vec8(repeating: c3[o]))
        a4.addProduct(x, Vec8(repeating: c4[o])); a5.addProduct(x, Vec8(repeating: c5[o]))
        a6.addProduct(x, Vec8(repeating: c6[o])); a7.addProduct(x, Vec8(repeating: c7[o]))
        a8.addProduct(x, Vec8(repeating: c8[o])); a9.addProduct(x, Vec8(repeating: c9[o]))
        a10.addProduct(x, Vec8(repeating: c10[o])); a11.addProduct(x, Vec8(repeating: c11[o]))
        lp += 8; o += step
    }
    addToDouble(a0, acc); addToDouble(a1, acc + ldAcc); addToDouble(a2, acc + 2 * ldAcc)
    addToDouble(a3, acc + 3 * ldAcc); addToDouble(a4, acc + 4 * ldAcc); addToDouble(a5, acc + 5 * ldAcc)
    addToDouble(a6, acc + 6 * ldAcc); addToDouble(a7, acc + 7 * ldAcc); addToDouble(a8, acc + 8 * ldAcc)
    addToDouble(a9, acc + 9 * ldAcc); addToDouble(a10, acc + 10 * ldAcc); addToDouble(a11, acc + 11 * ldAcc)
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
    for i in 0..<count where i < iLo || i >= iHi {
        dst[i] = paddedElement(row, at: first + i * s, length: tin, left: left, right: shape.padRight, mode: mode, alpha: alpha)
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
