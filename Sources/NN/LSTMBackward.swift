// LSTMBackward: one LSTM layer's training forward (saving gates and cells) and its backward through time
// (BPTT over the whole sequence from a zero initial state), fast and scalar reference. PyTorch gate order.
// Legend: B batch, In input size, H hidden size, T steps; gates rows g·H + j for g in (i, f, g, o).
import Foundation

/// One LSTM layer forward for training, from a zero state (h0 = c0 = 0), saving what backward needs.
///
/// - out: `[B, H, T]` the hidden states h_t; cells: `[B, H, T]` the cell states c_t;
/// - gates: `[B, 4H, T]` the activated gates (σ(i), σ(f), tanh(g), σ(o)) per step;
/// - x: `[B, In, T]`. Same arithmetic as `lstmLayerForward` (so `out` matches it bit for bit).
public func lstmLayerForwardTraining(out: UnsafeMutablePointer<Float>, gates: UnsafeMutablePointer<Float>,
                                     cells: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                     weights: LSTMLayerWeights, shape: LSTMShape) {
    shape.validate("lstmLayerForwardTraining")
    precondition(weights.inputSize == shape.inputSize && weights.hiddenSize == shape.hiddenSize,
                 "lstmLayerForwardTraining: weights (In \(weights.inputSize), H \(weights.hiddenSize)) do not match \(shape)")
    let hid = shape.hiddenSize, inp = shape.inputSize, t = shape.length, g4 = 4 * hid
    guard t > 0 else { return }
    let rec = weights.packedHH
    let h = UnsafeMutablePointer<Float>.allocate(capacity: hid), c = UnsafeMutablePointer<Float>.allocate(capacity: hid)
    let hPrev = UnsafeMutablePointer<Float>.allocate(capacity: hid)
    defer { h.deallocate(); c.deallocate(); hPrev.deallocate() }
    let serialSteps = hid * g4 < 1 << 16 || Parallel.threadCount == 1
    for b in 0..<shape.batch {
        let xb = x + b * inp * t, yb = out + b * hid * t, gb = gates + b * g4 * t, cb = cells + b * hid * t
        // The input projection of all steps straight into the gate buffer: gates[:, t] = W_ih x_t + b_ih + b_hh.
        projectColumns(weights.packedIH, x: xb, ldx: t, cols: t, out: gb, ldo: t)
        h.initialize(repeating: 0, count: hid)
        c.initialize(repeating: 0, count: hid)
        for step in 0..<t {
            hPrev.update(from: h, count: hid)
            if serialSteps {
                for jb in 0..<rec.blocks { lstmTrainingCellBlock(rec, jb, hPrev, gb + step, t, h, c, yb + step, cb + step) }
            } else {
                parallelFor(rec.blocks) { range in
                    for jb in range { lstmTrainingCellBlock(rec, jb, hPrev, gb + step, t, h, c, yb + step, cb + step) }
                }
            }
        }
    }
}

/// One step for units 8·jb ..< 8·jb + 8 (as `lstmCellBlock`), writing the activated gates over the
/// projected input in `g` (column of stride `ld`), h and c, and the step's out and cell columns.
@inline(__always)
private func lstmTrainingCellBlock(_ rec: PackedRecurrentWeights, _ jb: Int, _ hPrev: UnsafePointer<Float>,
                                   _ g: UnsafeMutablePointer<Float>, _ ld: Int, _ h: UnsafeMutablePointer<Float>,
                                   _ c: UnsafeMutablePointer<Float>, _ yCol: UnsafeMutablePointer<Float>,
                                   _ cCol: UnsafeMutablePointer<Float>) {
    let hid = rec.hidden
    let half = hid / 2
    let stepBytes = 4 * lstmUnitBlock * 4
    var i0 = Vec8(), f0 = Vec8(), g0 = Vec8(), o0 = Vec8(), i1 = Vec8(), f1 = Vec8(), g1 = Vec8(), o1 = Vec8()
    var p = UnsafeRawPointer(rec.w + jb * hid * 4 * lstmUnitBlock)
    var q = p + half * stepBytes
    for k in 0..<half {
        let ha = Vec8(repeating: hPrev[k]), hb = Vec8(repeating: hPrev[half + k])
        i0.addProduct(ha, p.load(fromByteOffset: 0, as: Vec8.self))
        f0.addProduct(ha, p.load(fromByteOffset: 32, as: Vec8.self))
        g0.addProduct(ha, p.load(fromByteOffset: 64, as: Vec8.self))
        o0.addProduct(ha, p.load(fromByteOffset: 96, as: Vec8.self))
        i1.addProduct(hb, q.load(fromByteOffset: 0, as: Vec8.self))
        f1.addProduct(hb, q.load(fromByteOffset: 32, as: Vec8.self))
        g1.addProduct(hb, q.load(fromByteOffset: 64, as: Vec8.self))
        o1.addProduct(hb, q.load(fromByteOffset: 96, as: Vec8.self))
        p += stepBytes
        q += stepBytes
    }
    if hid % 2 == 1 {
        let hb = Vec8(repeating: hPrev[hid - 1])
        i1.addProduct(hb, q.load(fromByteOffset: 0, as: Vec8.self))
        f1.addProduct(hb, q.load(fromByteOffset: 32, as: Vec8.self))
        g1.addProduct(hb, q.load(fromByteOffset: 64, as: Vec8.self))
        o1.addProduct(hb, q.load(fromByteOffset: 96, as: Vec8.self))
    }
    let base = jb * lstmUnitBlock
    let n = min(lstmUnitBlock, hid - base)
    let gBase = g + base * ld
    func gather(_ p: UnsafePointer<Float>, _ stride: Int) -> Vec8 {
        var v = Vec8()
        for u in 0..<n { v[u] = p[u * stride] }
        return v
    }
    let ig = vsigmoid((i0 + i1) + gather(gBase, ld))
    let fg = vsigmoid((f0 + f1) + gather(gBase + hid * ld, ld))
    let gg = vtanh((g0 + g1) + gather(gBase + 2 * hid * ld, ld))
    let og = vsigmoid((o0 + o1) + gather(gBase + 3 * hid * ld, ld))
    let cv = fg * gather(UnsafePointer(c + base), 1) + ig * gg
    let hv = og * vtanh(cv)
    for u in 0..<n {
        c[base + u] = cv[u]
        h[base + u] = hv[u]
        yCol[(base + u) * ld] = hv[u]
        cCol[(base + u) * ld] = cv[u]
        gBase[u * ld] = ig[u]
        gBase[(hid + u) * ld] = fg[u]
        gBase[(2 * hid + u) * ld] = gg[u]
        gBase[(3 * hid + u) * ld] = og[u]
    }
}

/// Gradient buffers of one LSTM layer (PyTorch layouts), accumulated (+=); nil skips one.
public struct LSTMLayerGradients {
    /// `[4H, In]`.
    public var weightIH: UnsafeMutablePointer<Float>?
    /// `[4H, H]`.
    public var weightHH: UnsafeMutablePointer<Float>?
    /// `[4H]`.
    public var biasIH: UnsafeMutablePointer<Float>?
    /// `[4H]`.
    public var biasHH: UnsafeMutablePointer<Float>?

    public init(weightIH: UnsafeMutablePointer<Float>?, weightHH: UnsafeMutablePointer<Float>?,
                biasIH: UnsafeMutablePointer<Float>?, biasHH: UnsafeMutablePointer<Float>?) {
        self.weightIH = weightIH; self.weightHH = weightHH; self.biasIH = biasIH; self.biasHH = biasHH
    }
}

/// LSTM layer backward through time (fast path), for `lstmLayerForwardTraining` (zero initial state):
/// ```
/// for t = T−1 … 0:  dh = dOut[:, t] + dh_next;   tc = tanh(c_t)
///   dc = dc_next + dh·o·(1 − tc²);   da_o = dh·tc·o(1 − o);  da_i = dc·g·i(1 − i);  da_g = dc·i·(1 − g²)
///   da_f = dc·c_{t−1}·f(1 − f);   dc_next = dc·f;   dh_next = W_hhᵀ da[:, t]
/// dx += W_ihᵀ da;  dW_ih += da·xᵀ;  dW_hh += Σ_t da[:, t]·h_{t−1}ᵀ;  db_ih, db_hh += Σ_t da[:, t]
/// ```
/// - dx `[B, In, T]` (+=, nil to skip); dOut `[B, H, T]`; out, cells `[B, H, T]`; gates `[B, 4H, T]`
///   as saved by the training forward; x `[B, In, T]`.
/// The recurrence is a mat-vec per step with W_hhᵀ rows split over threads (each row's sum in a fixed
/// order); the weight gradients and dx are the tiled correlation and conv kernels. Thread-count independent.
public func lstmLayerBackward(dx: UnsafeMutablePointer<Float>?, gradients: LSTMLayerGradients, dOut: UnsafePointer<Float>,
                              out: UnsafePointer<Float>, gates: UnsafePointer<Float>, cells: UnsafePointer<Float>,
                              x: UnsafePointer<Float>, weights: LSTMLayerWeights, shape: LSTMShape) {
    shape.validate("lstmLayerBackward")
    let hid = shape.hiddenSize, inp = shape.inputSize, t = shape.length, g4 = 4 * hid, bsz = shape.batch
    guard t > 0 && bsz > 0 else { return }
    // W_hhᵀ as [H][4H] rows for the per-step mat-vec.
    var whhT = [Float](repeating: 0, count: hid * g4)
    for row in 0..<g4 { for k in 0..<hid { whhT[k * g4 + row] = weights.weightHH[row * hid + k] } }
    let da = UnsafeMutablePointer<Float>.allocate(capacity: bsz * g4 * t)  // [B, 4H, T] pre-activation gradients
    defer { da.deallocate() }
    let dh = UnsafeMutablePointer<Float>.allocate(capacity: hid), dhNext = UnsafeMutablePointer<Float>.allocate(capacity: hid)
    let dc = UnsafeMutablePointer<Float>.allocate(capacity: hid), col = UnsafeMutablePointer<Float>.allocate(capacity: g4)
    defer { dh.deallocate(); dhNext.deallocate(); dc.deallocate(); col.deallocate() }
    let serialSteps = hid * g4 < 1 << 16 || Parallel.threadCount == 1
    whhT.withUnsafeBufferPointer { wt in
        let wt = wt.baseAddress!
        for b in 0..<bsz {
            let gb = gates + b * g4 * t, cb = cells + b * hid * t, yb = dOut + b * hid * t, db = da + b * g4 * t
            dhNext.initialize(repeating: 0, count: hid)
            dc.initialize(repeating: 0, count: hid)
            for step in stride(from: t - 1, through: 0, by: -1) {
                for j in 0..<hid {
                    let ig = gb[j * t + step], fg = gb[(hid + j) * t + step]
                    let gg = gb[(2 * hid + j) * t + step], og = gb[(3 * hid + j) * t + step]
                    let cNow = cb[j * t + step], cPrev = step > 0 ? cb[j * t + step - 1] : 0
                    let tc = Foundation.tanh(cNow)
                    let dhj = yb[j * t + step] + dhNext[j]
                    let dcj = dc[j] + dhj * og * (1 - tc * tc)
                    col[j] = dcj * gg * ig * (1 - ig)
                    col[hid + j] = dcj * cPrev * fg * (1 - fg)
                    col[2 * hid + j] = dcj * ig * (1 - gg * gg)
                    col[3 * hid + j] = dhj * tc * og * (1 - og)
                    dc[j] = dcj * fg
                }
                for row in 0..<g4 { db[row * t + step] = col[row] }
                if step == 0 { break }
                // dh_next[k] = Σ_row W_hh[row, k] · da[row]: a SIMD dot of W_hhᵀ row k with the gate column.
                let colP = UnsafePointer(col)
                if serialSteps {
                    for k in 0..<hid { dhNext[k] = dot(wt + k * g4, colP, g4) }
                } else {
                    parallelFor(hid, minChunk: 8) { r in for k in r { dhNext[k] = dot(wt + k * g4, colP, g4) } }
                }
            }
        }
    }
    if let g = gradients.biasIH { biasGradient(dBias: g, dOut: da, batch: bsz, rows: g4, steps: t) }
    if let g = gradients.biasHH { biasGradient(dBias: g, dOut: da, batch: bsz, rows: g4, steps: t) }
    if let g = gradients.weightIH {
        convWeightGradient(dW: g, left: da, source: x, shape: WeightGradientShape(batch: bsz, rows: g4, channels: inp, steps: t,
                                                                                   sourceLength: t, kernelSize: 1))
    }
    if let g = gradients.weightHH {
        // h_{t−1}: the outputs shifted right by one step, h_{−1} = 0 (one zero of left padding).
        convWeightGradient(dW: g, left: da, source: out, shape: WeightGradientShape(batch: bsz, rows: g4, channels: hid, steps: t,
                                                                                     sourceLength: t, kernelSize: 1, padLeft: 1))
    }
    if let dx {
        var wihT = [Float](repeating: 0, count: inp * g4)  // W_ihᵀ as conv weight [In, 4H, 1]
        for row in 0..<g4 { for k in 0..<inp { wihT[k * g4 + row] = weights.weightIH[row * inp + k] } }
        wihT.withUnsafeBufferPointer { w in
            conv1dForward(out: dx, x: da, weight: w.baseAddress!, bias: nil,
                          shape: Conv1dShape(batch: bsz, inChannels: g4, outChannels: inp, inLength: t, kernelSize: 1), accumulate: true)
        }
    }
}

/// Σ_i a[i]·b[i] in SIMD8 lanes (fixed order), then the tail.
@inline(__always)
private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var v0 = Vec8(), v1 = Vec8()
    var i = 0
    while i + 16 <= n { v0.addProduct(load8(a + i), load8(b + i)); v1.addProduct(load8(a + i + 8), load8(b + i + 8)); i += 16 }
    while i + 8 <= n { v0.addProduct(load8(a + i), load8(b + i)); i += 8 }
    var s = (v0 + v1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// Scalar reference for `lstmLayerBackward` on the unpacked weights (Double arithmetic throughout).
public func lstmLayerBackwardReference(dx: UnsafeMutablePointer<Float>?, gradients: LSTMLayerGradients,
                                       dOut: UnsafePointer<Float>, out: UnsafePointer<Float>, gates: UnsafePointer<Float>,
                                       cells: UnsafePointer<Float>, x: UnsafePointer<Float>, weights: LSTMLayerWeights,
                                       shape: LSTMShape) {
    shape.validate("lstmLayerBackwardReference")
    let hid = shape.hiddenSize, inp = shape.inputSize, t = shape.length, g4 = 4 * hid
    var gwi = [Double](repeating: 0, count: g4 * inp), gwh = [Double](repeating: 0, count: g4 * hid)
    var gb = [Double](repeating: 0, count: g4)
    for b in 0..<shape.batch {
        var dhNext = [Double](repeating: 0, count: hid), dcNext = [Double](repeating: 0, count: hid)
        var da = [Double](repeating: 0, count: g4)
        for step in stride(from: t - 1, through: 0, by: -1) {
            func gate(_ row: Int) -> Double { Double(gates[(b * g4 + row) * t + step]) }
            for j in 0..<hid {
                let ig = gate(j), fg = gate(hid + j), gg = gate(2 * hid + j), og = gate(3 * hid + j)
                let cNow = Double(cells[(b * hid + j) * t + step])
                let cPrev = step > 0 ? Double(cells[(b * hid + j) * t + step - 1]) : 0
                let tc = Foundation.tanh(cNow)
                let dh = Double(dOut[(b * hid + j) * t + step]) + dhNext[j]
                let dc = dcNext[j] + dh * og * (1 - tc * tc)
                da[j] = dc * gg * ig * (1 - ig)
                da[hid + j] = dc * cPrev * fg * (1 - fg)
                da[2 * hid + j] = dc * ig * (1 - gg * gg)
                da[3 * hid + j] = dh * tc * og * (1 - og)
                dcNext[j] = dc * fg
            }
            for k in 0..<hid {
                var s = 0.0
                for row in 0..<g4 { s += Double(weights.weightHH[row * hid + k]) * da[row] }
                dhNext[k] = s
            }
            for row in 0..<g4 {
                gb[row] += da[row]
                for k in 0..<inp { gwi[row * inp + k] += da[row] * Double(x[(b * inp + k) * t + step]) }
                if step > 0 { for k in 0..<hid { gwh[row * hid + k] += da[row] * Double(out[(b * hid + k) * t + step - 1]) } }
            }
            if let dx {
                for k in 0..<inp {
                    var s = 0.0
                    for row in 0..<g4 { s += Double(weights.weightIH[row * inp + k]) * da[row] }
                    dx[(b * inp + k) * t + step] += Float(s)
                }
            }
        }
    }
    if let g = gradients.weightIH { for i in 0..<gwi.count { g[i] += Float(gwi[i]) } }
    if let g = gradients.weightHH { for i in 0..<gwh.count { g[i] += Float(gwh[i]) } }
    if let g = gradients.biasIH { for i in 0..<g4 { g[i] += Float(gb[i]) } }
    if let g = gradients.biasHH { for i in 0..<g4 { g[i] += Float(gb[i]) } }
}
