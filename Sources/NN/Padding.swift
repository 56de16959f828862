// Padding: pad1d and unpad1d over the last (time) axis.
// Mirrors encodec/modules/conv.py: pad1d (F.pad, with extra zeros before reflecting a short input), unpad1d.
// Legend: R rows (B·C), L input length, left/right padding.

/// How `pad1d` fills the padding (torch.nn.functional.pad modes).
public enum PadMode: Equatable, Sendable {
    /// The value everywhere in the padding (`'constant'`; EnCodec's zero padding is `.constant(0)`).
    case constant(Float)
    /// Mirror without repeating the edge: `[a b c]` padded by 2 on each side is `c b [a b c] b a`.
    /// Inputs not longer than the padding are first extended with zeros on the right (EnCodec's rule).
    case reflect
    /// Repeat the edge element.
    case replicate

    /// Zero padding.
    public static let zero = PadMode.constant(0)
}

/// Sizes of a 1-D padding of R rows of length L.
public struct Pad1dShape: Equatable, Sendable {
    /// Rows padded independently (B·C for `[B, C, L]`).
    public var rows: Int
    public var inLength: Int
    public var left: Int
    public var right: Int

    public init(rows: Int, inLength: Int, left: Int, right: Int) {
        self.rows = rows
        self.inLength = inLength
        self.left = left
        self.right = right
    }

    /// L + left + right.
    public var outLength: Int { inLength + left + right }
}

/// pad1d forward: `out[r, p]` for p < L + left + right from row `x[r, :]`, as encodec's `pad1d`:
/// - `.constant(v)`: `x[r, p − left]` inside, v outside;
/// - `.replicate`: `x[r, clamp(p − left, 0, L − 1)]` (L ≥ 1);
/// - `.reflect`: when L ≤ max(left, right) the row is first extended with `extra = max − L + 1` zeros
///   (length L′ = L + extra), reflected as F.pad does (`q < 0 → x′[−q]`, `q ≥ L′ → x′[2(L′ − 1) − q]`,
///   q = p − left), and the last `extra` outputs are dropped.
/// out: `[R, L + left + right]`; x: `[R, L]`.
public func pad1dForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape: Pad1dShape, mode: PadMode) {
    let l = shape.inLength, left = shape.left, right = shape.right, outLen = shape.outLength
    precondition(shape.rows >= 0 && l >= 0 && left >= 0 && right >= 0, "pad1d: invalid shape \(shape)")
    if case .replicate = mode { precondition(l > 0 || shape.rows == 0, "pad1d: replicate padding of an empty row") }
    for r in 0..<shape.rows {
        let xRow = x + r * l, yRow = out + r * outLen  // x[r, :], out[r, :]
        (yRow + left).update(from: xRow, count: l)
        for p in 0..<outLen where p < left || p >= left + l {
            yRow[p] = paddedSource(p - left, length: l, left: left, right: right, mode: mode).map { xRow[$0] } ?? mode.fill
        }
    }
}

extension PadMode {
    /// The value of padding that does not copy an input element: the constant, or the zeros a short
    /// input is extended with before reflecting.
    var fill: Float {
        if case .constant(let v) = self { return v }
        return 0
    }
}

/// Element `p` of `pad1d(f(row))` (row of `length` elements, `left`/`right` padding, f = ELU(alpha) when
/// given, applied to copied elements and not to a constant fill), and 0 at or past the padded end: what the
/// conv kernels' stagers write outside the stretch they copy as vectors.
@inline(__always)
func paddedElement(_ row: UnsafePointer<Float>, at p: Int, length: Int, left: Int, right: Int, mode: PadMode,
                   alpha: Float?) -> Float {
    if p >= length + left + right { return 0 }
    guard let i = paddedSource(p - left, length: length, left: left, right: right, mode: mode) else { return mode.fill }
    return alpha.map { elu1(row[i], $0) } ?? row[i]
}

/// Which input element padded position `q` (counted from the first input element; negative in the left
/// padding, ≥ L in the right) copies, or nil where the padding is `mode.fill`. The rule of `pad1d`, shared
/// with the conv kernels that pad while staging their input.
@inline(__always)
func paddedSource(_ q: Int, length l: Int, left: Int, right: Int, mode: PadMode) -> Int? {
    if q >= 0 && q < l { return q }
    switch mode {
    case .constant:
        return nil
    case .replicate:
        return q < 0 ? 0 : l - 1
    case .reflect:
        // Reflect within the row extended by zeros to length max(L, max pad + 1) (EnCodec's rule).
        let extended = max(l, max(left, right) + 1)
        let i = q < 0 ? -q : (q >= extended ? 2 * (extended - 1) - q : q)
        return i < l ? i : nil
    }
}

/// Pads the last axis of `x` (any rank ≥ 1): `[…, L] → […, L + left + right]`.
public func pad1d(_ x: Tensor, left: Int, right: Int, mode: PadMode = .zero) -> Tensor {
    precondition(x.rank >= 1, "pad1d: needs at least one dimension")
    let l = x.shape[x.rank - 1]
    let shape = Pad1dShape(rows: l == 0 ? x.shape.dropLast().reduce(1, *) : x.count / l, inLength: l, left: left, right: right)
    var outShape = x.shape
    outShape[x.rank - 1] = shape.outLength
    var y = Tensor.zeros(outShape)
    guard y.count > 0 else { return y }
    let input = x.data.isEmpty ? [0] : x.data  // an empty input still needs a valid pointer
    input.withUnsafeBufferPointer { xp in
        y.data.withUnsafeMutableBufferPointer { yp in
            pad1dForward(out: yp.baseAddress!, x: xp.baseAddress!, shape: shape, mode: mode)
        }
    }
    return y
}

/// Removes `left` and `right` steps from the last axis (encodec `unpad1d`): `[…, L] → […, L − left − right]`;
/// precondition: left, right ≥ 0 and left + right ≤ L.
public func unpad1d(_ x: Tensor, left: Int, right: Int) -> Tensor {
    precondition(x.rank >= 1, "unpad1d: needs at least one dimension")
    let l = x.shape[x.rank - 1]
    precondition(left >= 0 && right >= 0 && left + right <= l, "unpad1d: cannot remove (\(left), \(right)) from length \(l)")
    let keep = l - left - right
    let rows = x.shape.dropLast().reduce(1, *)
    var outShape = x.shape
    outShape[x.rank - 1] = keep
    var y = Tensor.zeros(outShape)
    guard y.count > 0 else { return y }
    x.data.withUnsafeBufferPointer { xp in
        y.data.withUnsafeMutableBufferPointer { yp in
            for r in 0..<rows { (yp.baseAddress! + r * keep).update(from: xp.baseAddress! + r * l + left, count: keep) }
        }
    }
    return y
}
