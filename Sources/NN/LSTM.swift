// LSTM: one layer's forward kernel (fast and scalar reference) and the multi-layer LSTM layer with carried
// state (torch.nn.LSTM semantics: gates i, f, g, o; biases b_ih and b_hh), in the [B, C, T] layout.
// Legend: B batch, In input size, H hidden size, T steps, L layers; gates rows g·H + j for g in (i, f, g, o).
import Foundation

/// Sizes of one LSTM layer over `[B, In, T]`.
public struct LSTMShape: Equatable, Sendable {
    public var batch: Int
    public var inputSize: Int
    public var hiddenSize: Int
    public var length: Int

    public init(batch: Int = 1, inputSize: Int, hiddenSize: Int, length: Int) {
        self.batch = batch
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.length = length
    }

    /// Multiply-adds of one forward pass (input projection + recurrence).
    public var multiplyAdds: Int { batch * length * 4 * hiddenSize * (inputSize + hiddenSize) }

    func validate(_ caller: String) {
        precondition(batch >= 0 && inputSize > 0 && hiddenSize > 0 && length >= 0, "\(caller): invalid shape \(self)")
    }
}

/// Hidden units per block of the packed recurrent weights (one SIMD8 per gate).
let lstmUnitBlock = 8

/// One LSTM layer's parameters in PyTorch layout, plus packed copies for the fast kernel.
public struct LSTMLayerWeights: Sendable {
    public let inputSize: Int
    public let hiddenSize: Int
    /// `weight_ih_l{k}`: `[4H, In]`, gate blocks i, f, g, o.
    public let weightIH: [Float]
    /// `weight_hh_l{k}`: `[4H, H]`.
    public let weightHH: [Float]
    /// `bias_ih_l{k}`: `[4H]`.
    public let biasIH: [Float]
    /// `bias_hh_l{k}`: `[4H]`.
    public let biasHH: [Float]
    /// Input projection as a 1×1 conv with bias b_ih + b_hh.
    let packedIH: PackedConvWeights
    /// Recurrent weights as `[block][k][gate][8 units]` (units padded to a multiple of 8 with zeros).
    let packedHH: PackedRecurrentWeights

    public init(inputSize: Int, hiddenSize: Int, weightIH: [Float], weightHH: [Float], biasIH: [Float], biasHH: [Float]) {
        let g = 4 * hiddenSize
        precondition(inputSize > 0 && hiddenSize > 0, "LSTMLayerWeights: sizes must be positive (In \(inputSize), H \(hiddenSize))")
        precondition(weightIH.count == g * inputSize, "LSTMLayerWeights: weight_ih has \(weightIH.count) elements, [\(g), \(inputSize)] needs \(g * inputSize)")
        precondition(weightHH.count == g * hiddenSize, "LSTMLayerWeights: weight_hh has \(weightHH.count) elements, [\(g), \(hiddenSize)] needs \(g * hiddenSize)")
        precondition(biasIH.count == g && biasHH.count == g, "LSTMLayerWeights: biases have \(biasIH.count) and \(biasHH.count) elements, expected \(g)")
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.weightIH = weightIH
        self.weightHH = weightHH
        self.biasIH = biasIH
        self.biasHH = biasHH
        packedIH = PackedConvWeights(rows: g, taps: 1, inChannels: inputSize,
                                     weight: { row, _, k in weightIH[row * inputSize + k] },
                                     bias: { row in biasIH[row] + biasHH[row] })
        packedHH = PackedRecurrentWeights(weightHH, hiddenSize: hiddenSize)
    }
}

/// `W_hh` blocked for the per-step mat-vec: block `jb` covers units `8·jb ..< 8·jb + 8`, stored as
/// `[k][gate][8]` (k over all H inputs), so one step streams the whole matrix once, sequentially.
final class PackedRecurrentWeights: @unchecked Sendable {
    let hidden: Int
    let blocks: Int
    let w: UnsafeMutablePointer<Float>

    init(_ weightHH: [Float], hiddenSize h: Int) {
        hidden = h
        blocks = (h + lstmUnitBlock - 1) / lstmUnitBlock
        let n = blocks * h * 4 * lstmUnitBlock
        w = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64).bindMemory(to: Float.self, capacity: n)
        w.initialize(repeating: 0, count: n)
        for jb in 0..<blocks {
            for k in 0..<h {
                for g in 0..<4 {
                    let dst = w + ((jb * h + k) * 4 + g) * lstmUnitBlock  // packed[jb][k][g][:]
                    for u in 0..<lstmUnitBlock where jb * lstmUnitBlock + u < h {
                        dst[u] = weightHH[(g * h + jb * lstmUnitBlock + u) * h + k]  // W_hh[g·H + j, k]
                    }
                }
            }
        }
    }

    deinit { w.deallocate() }
}

/// Steps of input projection computed per chunk (bounds the gate buffer to 4H × 256 floats).
let lstmChunkSteps = 256

/// One layer's progress through a sequence, chunk by chunk: the scratch buffers of a chunk and the
/// direction of the next step's sweep over `W_hh`. A layer's chunks run one after another (never two at
/// once), on whichever thread; each chunk's arithmetic is the same whatever the chunk boundaries.
final class LSTMLayerRun {
    let weights: LSTMLayerWeights
    let shape: LSTMShape
    let chunk: Int
    let gates: UnsafeMutablePointer<Float>   // [4H, chunk]: W_ih x + b_ih + b_hh
    let gatesT: UnsafeMutablePointer<Float>  // [chunk, 4H]: the same, step-major
    let hSteps: UnsafeMutablePointer<Float>  // [chunk, H]: h of each step
    let hPrev: UnsafeMutablePointer<Float>   // [H]
    var backwards = false

    init(weights: LSTMLayerWeights, shape: LSTMShape, chunk: Int) {
        let g4 = 4 * shape.hiddenSize
        self.weights = weights
        self.shape = shape
        self.chunk = max(1, min(shape.length, chunk))
        gates = .allocate(capacity: g4 * self.chunk)
        gatesT = .allocate(capacity: self.chunk * g4)
        hSteps = .allocate(capacity: self.chunk * shape.hiddenSize)
        hPrev = .allocate(capacity: shape.hiddenSize)
    }

    deinit { gates.deallocate(); gatesT.deallocate(); hSteps.deallocate(); hPrev.deallocate() }

    /// Steps `t0 ..< t0 + count` (count ≤ chunk) for every batch item: out[b, :, t0 ..< t0 + count] from
    /// x[b, :, t0 ..< t0 + count], advancing the state (h, c). With `threaded` false everything runs on the
    /// calling thread.
    func steps(out: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>,
               x: UnsafePointer<Float>, from t0: Int, count tc: Int, threaded: Bool) {
        let hid = shape.hiddenSize, inp = shape.inputSize, t = shape.length, g4 = 4 * hid
        precondition(tc >= 0 && tc <= chunk && t0 >= 0 && t0 + tc <= t, "LSTMLayerRun: steps \(t0) + \(tc) outside \(t) or chunk \(chunk)")
        guard tc > 0 else { return }
        let rec = weights.packedHH
        // Split the per-step mat-vec only when it is big enough to pay for waking a second thread.
        let serialSteps = !threaded || hid * g4 < 1 << 16 || Parallel.threadCount == 1
        for b in 0..<shape.batch {
            let xb = x + b * inp * t, yb = out + b * hid * t   // x[b, :, :], out[b, :, :]
            let hb = h + b * hid, cb = c + b * hid             // h[b, :], c[b, :]
            projectColumns(weights.packedIH, x: xb + t0, ldx: t, cols: tc, out: gates, ldo: tc, threaded: threaded)
            transposeBlock(gates, rows: g4, cols: tc, ld: tc, into: gatesT, ldo: g4)
            for step in 0..<tc {
                hPrev.update(from: hb, count: hid)
                let gRow = UnsafePointer(gatesT + step * g4)  // gates of this step, [4H]
                let hRow = hSteps + step * hid                // h of this step, [H]
                if serialSteps {
                    if backwards {
                        for jb in stride(from: rec.blocks - 1, through: 0, by: -1) { lstmCellBlock(rec, jb, UnsafePointer(hPrev), gRow, hb, cb, hRow) }
                    } else {
                        for jb in 0..<rec.blocks { lstmCellBlock(rec, jb, UnsafePointer(hPrev), gRow, hb, cb, hRow) }
                    }
                    backwards.toggle()
                } else {
                    parallelFor(rec.blocks) { range in
                        for jb in range { lstmCellBlock(rec, jb, UnsafePointer(hPrev), gRow, hb, cb, hRow) }
                    }
                }
            }
            transposeBlock(hSteps, rows: tc, cols: hid, ld: hid, into: yb + t0, ldo: t)  // out[b, :, t0 ..< t0 + tc]
        }
    }
}

/// One LSTM layer forward (fast path), PyTorch semantics:
/// ```
/// i, f, g, o = σ(W_ii x_t + b_ii + W_hi h + b_hi), σ(…f…), tanh(…g…), σ(…o…)
/// c = f ⊙ c + i ⊙ g;   h = o ⊙ tanh(c);   out[b, :, t] = h
/// ```
/// - out: `[B, H, T]`; x: `[B, In, T]` (channels-first: no transposes between layers).
/// - h, c: `[B, H]` state, read as (h0, c0) and overwritten with (h_T, c_T): running T1 then T2 steps
///   with the carried state equals running T1 + T2 steps at once, bit for bit.
/// The input projection for a chunk of steps is one tiled matrix product, transposed to step-major rows so
/// that each step reads its gate inputs contiguously; the recurrence is a mat-vec per step split over
/// threads by hidden units (each unit's sum in a fixed order: same result on any count). The unit blocks are
/// visited in alternating directions on successive steps, so the end of `W_hh` streamed by one step is
/// still in L2 when the next step starts (block order does not change any sum).
public func lstmLayerForward(out: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>,
                             x: UnsafePointer<Float>, weights: LSTMLayerWeights, shape: LSTMShape) {
    shape.validate("lstmLayerForward")
    precondition(weights.inputSize == shape.inputSize && weights.hiddenSize == shape.hiddenSize,
                 "lstmLayerForward: weights (In \(weights.inputSize), H \(weights.hiddenSize)) do not match \(shape)")
    guard shape.length > 0 else { return }
    lstmStackForward(outs: [out], h: h, c: c, x: x, layers: [weights], batch: shape.batch, length: shape.length, concurrent: false)
}

/// Steps per chunk when the layers of a stack run as a wavefront: small, so the layer above starts soon,
/// but each chunk's input projection streams all of `W_ih` for only that many columns, so short chunks cost
/// CPU (measured on the EnCodec LSTM, 2 threads: 32 steps ~50 % more than 96, 48 ~20 % more; 72–120 about
/// equal); a multiple of the kernel's 24-column strip, so the projection has no ragged strip.
let lstmWavefrontChunk = 96

/// A stack of layers over chunks of steps. With `concurrent`, as a wavefront: chunk k of layer l runs once
/// chunk k of layer l − 1 and chunk k − 1 of layer l are done, so on 2 threads the two layers of EnCodec's
/// LSTM run at the same time, each streaming its own `W_hh` on its own core (96-step chunks; workers wait
/// passively on a condition variable and keep to the layer they ran last while it has work). Otherwise one
/// worker runs the layers one after another in 256-step chunks, each chunk's mat-vecs split over the
/// threads. Every chunk does the same arithmetic as `lstmLayerForward`, so the outputs are the same bits
/// either way and for any thread count.
/// - outs[l]: `[B, H, T]`, layer l's output (the last is the stack's); x: `[B, In, T]`;
/// - h, c: `[L, B, H]` state, read and overwritten as in `lstmLayerForward`.
func lstmStackForward(outs: [UnsafeMutablePointer<Float>], h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>,
                      x: UnsafePointer<Float>, layers: [LSTMLayerWeights], batch: Int, length t: Int, concurrent: Bool) {
    let count = layers.count, hid = layers[0].hiddenSize
    let chunk = concurrent ? lstmWavefrontChunk : lstmChunkSteps
    let runs = layers.map { w in
        LSTMLayerRun(weights: w, shape: LSTMShape(batch: batch, inputSize: w.inputSize, hiddenSize: hid, length: t), chunk: chunk)
    }
    let chunks = (t + chunk - 1) / chunk
    let progress = WavefrontProgress(layers: count)
    parallelFor(concurrent ? min(count, Parallel.threadCount) : 1) { workers in
        for _ in workers {
            var last: Int? = nil
            while let (l, k) = progress.next(preferring: last, chunks: chunks) {
                let t0 = k * chunk, tc = min(chunk, t - t0)
                let input = l == 0 ? x : UnsafePointer(outs[l - 1])
                runs[l].steps(out: outs[l], h: h + l * batch * hid, c: c + l * batch * hid, x: input,
                              from: t0, count: tc, threaded: !concurrent)
                progress.finish(l)
                last = l
            }
        }
    }
}

/// Chunks done per layer, and which layers a worker is running, behind one condition variable.
private final class WavefrontProgress: @unchecked Sendable {
    private let condition = NSCondition()
    private var done: [Int]
    private var busy: [Bool]

    init(layers: Int) {
        done = Array(repeating: 0, count: layers)
        busy = Array(repeating: false, count: layers)
    }

    /// Claims the next chunk of some layer whose input is ready (the `preferring` layer first, else the
    /// deepest), waiting while none is: (layer, chunk index); nil once every layer has run `chunks` chunks.
    func next(preferring last: Int?, chunks: Int) -> (layer: Int, chunk: Int)? {
        condition.lock()
        defer { condition.unlock() }
        func ready(_ l: Int) -> Bool { !busy[l] && done[l] < chunks && (l == 0 || done[l - 1] > done[l]) }
        while true {
            if done.allSatisfy({ $0 == chunks }) { return nil }
            if let last, ready(last) { busy[last] = true; return (last, done[last]) }
            if let l = done.indices.reversed().first(where: ready) { busy[l] = true; return (l, done[l]) }
            condition.wait()  // some other worker is running a chunk: it broadcasts when done
        }
    }

    /// Marks the claimed chunk of layer `l` done and wakes the waiting workers.
    func finish(_ l: Int) {
        condition.lock()
        busy[l] = false
        done[l] += 1
        condition.broadcast()
        condition.unlock()
    }
}

/// `dst[j·ldo + i] = src[i·ld + j]` for i < rows, j < cols (8 × 8 tiles, the edges element by element).
func transposeBlock(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int,
                    into dst: UnsafeMutablePointer<Float>, ldo: Int) {
    var i0 = 0
    while i0 < rows {
        let ni = min(8, rows - i0)
        var j0 = 0
        while j0 < cols {
            let nj = min(8, cols - j0)
            for j in j0..<(j0 + nj) {
                let d = dst + j * ldo + i0
                for i in 0..<ni { d[i] = src[(i0 + i) * ld + j] }
            }
            j0 += nj
        }
        i0 += ni
    }
}

/// Input projection of `cols` steps: `out[row, j] = bias[row] + Σ_k W[row, k] · x[k, j]`, x with row
/// stride `ldx` (a window of a longer sequence), out with row stride `ldo`.
func projectColumns(_ w: PackedConvWeights, x: UnsafePointer<Float>, ldx: Int, cols: Int,
                    out: UnsafeMutablePointer<Float>, ldo: Int, threaded: Bool = true) {
    runConvCore(weights: w, cols: cols, layout: { nc in ConvStageLayout(channelStride: nc, tapOffsets: [0]) },
                stage: { kLo, kHi, c0, bc, nc, dst in
        for k in kLo..<kHi {
            stageRow(dst + (k - kLo) * nc, width: nc, src: x + k * ldx + c0, step: 1, count: bc, alpha: nil)
        }
    }, store: .rows(y: out, ldy: ldo, accumulate: false), threaded: threaded)
}

/// One step for units `8·jb ..< 8·jb + 8`: gates = W_hh · hPrev + projected input, then the cell.
/// The dot products run over k in two halves streamed side by side (more loads in flight from L3),
/// summed as (first half) + (second half): a fixed order.
@inline(__always)
private func lstmCellBlock(_ rec: PackedRecurrentWeights, _ jb: Int, _ hPrev: UnsafePointer<Float>,
                           _ gRow: UnsafePointer<Float>, _ h: UnsafeMutablePointer<Float>,
                           _ c: UnsafeMutablePointer<Float>, _ hOut: UnsafeMutablePointer<Float>) {
    let hid = rec.hidden
    let half = hid / 2
    let stepBytes = 4 * lstmUnitBlock * 4  // one k: 4 gates × 8 units
    var i0 = Vec8(), f0 = Vec8(), g0 = Vec8(), o0 = Vec8(), i1 = Vec8(), f1 = Vec8(), g1 = Vec8(), o1 = Vec8()
    var p = UnsafeRawPointer(rec.w + jb * hid * 4 * lstmUnitBlock)  // packed[jb][k][gate][8], k < H/2
    var q = p + half * stepBytes                                    // k ≥ H/2
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
    if hid % 2 == 1 {  // odd H: the last k belongs to the second half
        let hb = Vec8(repeating: hPrev[hid - 1])
        i1.addProduct(hb, q.load(fromByteOffset: 0, as: Vec8.self))
        f1.addProduct(hb, q.load(fromByteOffset: 32, as: Vec8.self))
        g1.addProduct(hb, q.load(fromByteOffset: 64, as: Vec8.self))
        o1.addProduct(hb, q.load(fromByteOffset: 96, as: Vec8.self))
    }
    let base = jb * lstmUnitBlock
    let n = min(lstmUnitBlock, hid - base)
    // Projected input of this step for the 8 units (entries g·H + j of the step's gate row).
    let gBase = gRow + base
    if n == lstmUnitBlock {
        let ig = vsigmoid((i0 + i1) + load8(gBase))
        let fg = vsigmoid((f0 + f1) + load8(gBase + hid))
        let gg = vtanh((g0 + g1) + load8(gBase + 2 * hid))
        let og = vsigmoid((o0 + o1) + load8(gBase + 3 * hid))
        let cv = fg * load8(c + base) + ig * gg
        let hv = og * vtanh(cv)
        store8(cv, c + base)
        store8(hv, h + base)
        store8(hv, hOut + base)
        return
    }
    let ig = vsigmoid((i0 + i1) + gather8(gBase, 1, n))
    let fg = vsigmoid((f0 + f1) + gather8(gBase + hid, 1, n))
    let gg = vtanh((g0 + g1) + gather8(gBase + 2 * hid, 1, n))
    let og = vsigmoid((o0 + o1) + gather8(gBase + 3 * hid, 1, n))
    let cv = fg * gather8(UnsafePointer(c + base), 1, n) + ig * gg
    let hv = og * vtanh(cv)
    for u in 0..<n {
        c[base + u] = cv[u]
        h[base + u] = hv[u]
        hOut[base + u] = hv[u]
    }
}

/// Lanes `p[u·stride]` for u < n, zeros after.
@inline(__always)
private func gather8(_ p: UnsafePointer<Float>, _ stride: Int, _ n: Int) -> Vec8 {
    var v = Vec8()
    for u in 0..<n { v[u] = p[u * stride] }
    return v
}

/// Scalar reference for `lstmLayerForward` on the unpacked weights (Double sums, libm sigmoid/tanh).
public func lstmLayerForwardReference(out: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>,
                                      c: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                      weights: LSTMLayerWeights, shape: LSTMShape) {
    shape.validate("lstmLayerForwardReference")
    let hid = shape.hiddenSize, inp = shape.inputSize, t = shape.length
    var pre = [Double](repeating: 0, count: 4 * hid)
    for b in 0..<shape.batch {
        for step in 0..<t {
            for row in 0..<4 * hid {
                var acc = Double(weights.biasIH[row]) + Double(weights.biasHH[row])
                for k in 0..<inp { acc += Double(weights.weightIH[row * inp + k]) * Double(x[(b * inp + k) * t + step]) }
                for k in 0..<hid { acc += Double(weights.weightHH[row * hid + k]) * Double(h[b * hid + k]) }
                pre[row] = acc
            }
            for j in 0..<hid {
                let sig = { (v: Double) in 1 / (1 + Foundation.exp(-v)) }
                let ig = sig(pre[j]), fg = sig(pre[hid + j]), gg = Foundation.tanh(pre[2 * hid + j]), og = sig(pre[3 * hid + j])
                let cNew = fg * Double(c[b * hid + j]) + ig * gg
                c[b * hid + j] = Float(cNew)
                h[b * hid + j] = Float(og * Foundation.tanh(cNew))
                out[(b * hid + j) * t + step] = h[b * hid + j]
            }
        }
    }
}

/// The state an LSTM carries between calls: `h` and `c`, each `[L, B, H]` (PyTorch's (h_n, c_n) layout).
public struct LSTMState: Equatable, Sendable {
    public var h: Tensor
    public var c: Tensor

    public init(h: Tensor, c: Tensor) {
        precondition(h.shape == c.shape && h.rank == 3, "LSTMState: h \(h.shape) and c \(c.shape) must both be [L, B, H]")
        self.h = h
        self.c = c
    }

    /// All-zero state (what PyTorch uses when no initial state is given).
    public static func zeros(layers: Int, batch: Int, hiddenSize: Int) -> LSTMState {
        LSTMState(h: .zeros([layers, batch, hiddenSize]), c: .zeros([layers, batch, hiddenSize]))
    }
}

/// A stack of LSTM layers (torch.nn.LSTM, batch_first=False, unidirectional, no dropout), taking and
/// returning the channels-first layout: `[B, In, T] → [B, H, T]`. Layer l + 1 reads layer l's output.
public struct LSTM: Sendable {
    public let layers: [LSTMLayerWeights]
    public var inputSize: Int { layers[0].inputSize }
    public var hiddenSize: Int { layers[0].hiddenSize }
    public var numLayers: Int { layers.count }

    public init(layers: [LSTMLayerWeights]) {
        precondition(!layers.isEmpty, "LSTM: needs at least one layer")
        for l in 1..<layers.count {
            precondition(layers[l].inputSize == layers[l - 1].hiddenSize && layers[l].hiddenSize == layers[0].hiddenSize,
                         "LSTM: layer \(l) has input \(layers[l].inputSize), hidden \(layers[l].hiddenSize); expected input \(layers[l - 1].hiddenSize), hidden \(layers[0].hiddenSize)")
        }
        self.layers = layers
    }

    /// `x [B, In, T] → [B, H, T]` from a zero state.
    public func callAsFunction(_ x: Tensor) -> Tensor { callAsFunction(x, state: nil).output }

    /// `x [B, In, T] → [B, H, T]` from `state` (zeros when nil), also returning the final state, to pass
    /// to the next call when the sequence arrives in blocks.
    public func callAsFunction(_ x: Tensor, state: LSTMState?) -> (output: Tensor, state: LSTMState) {
        precondition(x.rank == 3 && x.shape[1] == inputSize, "LSTM: input must be [B, \(inputSize), T], got \(x.shape)")
        let batch = x.shape[0], t = x.shape[2], hid = hiddenSize
        var st = state ?? .zeros(layers: numLayers, batch: batch, hiddenSize: hid)
        precondition(st.h.shape == [numLayers, batch, hid], "LSTM: state is \(st.h.shape), expected [\(numLayers), \(batch), \(hid)]")
        guard t > 0, batch > 0 else { return (Tensor.zeros([batch, hid, t]), st) }
        // Layers at the same time on different threads when there are two threads and enough steps.
        let concurrent = numLayers >= 2 && Parallel.threadCount >= 2 && t >= 2 * lstmWavefrontChunk
        let n = batch * hid * t
        var y = Tensor(shape: [batch, hid, t], data: [Float](unsafeUninitializedCapacity: n) { _, count in count = n })
        let below = (1..<numLayers).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: n) }  // layers 0 ..< L − 1
        defer { below.forEach { $0.deallocate() } }
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                st.h.data.withUnsafeMutableBufferPointer { hp in
                    st.c.data.withUnsafeMutableBufferPointer { cp in
                        lstmStackForward(outs: below + [yp.baseAddress!], h: hp.baseAddress!, c: cp.baseAddress!,
                                         x: xp.baseAddress!, layers: layers, batch: batch, length: t, concurrent: concurrent)
                    }
                }
            }
        }
        return (y, st)
    }
}
