// GroupNorm: forward kernel (chunked, threaded, deterministic) and its scalar reference, and the layer
// (torch.nn.GroupNorm; GroupNorm(1, C) is EnCodec's norm='time_group_norm').
// Legend: B batch, C channels, T time, G groups, n = (C/G)·T elements per group.
import Foundation

/// Sizes of a group normalization over `[B, C, T]` with `groups` dividing `C`.
public struct GroupNormShape: Equatable, Sendable {
    public var batch: Int
    public var channels: Int
    public var length: Int
    public var groups: Int

    public init(batch: Int = 1, channels: Int, length: Int, groups: Int) {
        self.batch = batch
        self.channels = channels
        self.length = length
        self.groups = groups
    }

    /// Elements of the input and output `[B, C, T]`.
    public var count: Int { batch * channels * length }

    func validate(_ caller: String) {
        precondition(batch >= 0 && channels > 0 && length > 0 && groups > 0 && channels % groups == 0,
                     "\(caller): invalid shape \(self) (groups must divide channels, length must be positive)")
    }
}

/// Elements per partial sum: fixed, so the statistics are summed in the same order for any thread count.
let groupNormChunk = 8192

/// GroupNorm forward (fast path), as torch.nn.GroupNorm:
/// `out[b, c, t] = (x[b, c, t] − μ[b, g]) · rstd[b, g] · weight[c] + bias[c]` with g = c / (C/G),
/// μ and σ² the mean and biased variance over group g's (C/G)·T elements, rstd = 1/√(σ² + eps).
///
/// - out, x: `[B, C, T]` (out may be x); weight, bias: `[C]` or nil (1 and 0).
/// - mean, rstd: optional `[B, G]` outputs saved for a backward pass.
/// Statistics are two-pass (mean, then squared deviations), partial sums over fixed chunks of 8192
/// elements in Float SIMD, combined in Double in chunk order.
public func groupNormForward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>? = nil,
                             rstd: UnsafeMutablePointer<Float>? = nil, x: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, shape: GroupNormShape,
                             eps: Float = 1e-5) {
    shape.validate("groupNormForward")
    let cpg = shape.channels / shape.groups, t = shape.length
    let n = cpg * t
    let chunks = (n + groupNormChunk - 1) / groupNormChunk
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: chunks)
    defer { partial.deallocate() }
    for b in 0..<shape.batch {
        for g in 0..<shape.groups {
            let xg = x + (b * shape.channels + g * cpg) * t  // x[b, g·C/G, 0]: the group is contiguous
            // Pass 1: mean.
            parallelFor(chunks, minChunk: 16) { r in
                for ch in r {
                    let lo = ch * groupNormChunk, hi = min(n, lo + groupNormChunk)
                    partial[ch] = Double(chunkSum(xg + lo, hi - lo, center: 0, squared: false))
                }
            }
            var s = 0.0
            for ch in 0..<chunks { s += partial[ch] }
            let mu = Float(s / Double(n))
            // Pass 2: biased variance around the mean.
            parallelFor(chunks, minChunk: 16) { r in
                for ch in r {
                    let lo = ch * groupNormChunk, hi = min(n, lo + groupNormChunk)
                    partial[ch] = Double(chunkSum(xg + lo, hi - lo, center: mu, squared: true))
                }
            }
            var s2 = 0.0
            for ch in 0..<chunks { s2 += partial[ch] }
            let rs = Float(1 / (s2 / Double(n) + Double(eps)).squareRoot())
            mean?[b * shape.groups + g] = mu
            rstd?[b * shape.groups + g] = rs
            // Normalize and apply the affine parameters: y = x·scale + shift per channel.
            let yg = out + (b * shape.channels + g * cpg) * t
            parallelFor(cpg, minChunk: max(1, 16384 / t)) { r in
                for cl in r {
                    let c = g * cpg + cl
                    let scale = rs * (weight?[c] ?? 1)
                    let shift = (bias?[c] ?? 0) - mu * scale
                    let xRow = xg + cl * t, yRow = yg + cl * t  // x[b, c, :], out[b, c, :]
                    let sv = Vec8(repeating: scale), hv = Vec8(repeating: shift)
                    var i = 0
                    while i + 8 <= t { store8(hv.addingProduct(load8(xRow + i), sv), yRow + i); i += 8 }
                    while i < t { yRow[i] = shift.addingProduct(xRow[i], scale); i += 1 }
                }
            }
        }
    }
}

/// Σ x or Σ (x − center)² over `count` elements, in 4 × SIMD8 lanes then reduced.
@inline(__always)
private func chunkSum(_ p: UnsafePointer<Float>, _ count: Int, center: Float, squared: Bool) -> Float {
    var a0 = Vec8(), a1 = Vec8(), a2 = Vec8(), a3 = Vec8()
    let cv = Vec8(repeating: center)
    var i = 0
    if squared {
        while i + 32 <= count {
            let d0 = load8(p + i) - cv, d1 = load8(p + i + 8) - cv, d2 = load8(p + i + 16) - cv, d3 = load8(p + i + 24) - cv
            a0.addProduct(d0, d0); a1.addProduct(d1, d1); a2.addProduct(d2, d2); a3.addProduct(d3, d3)
            i += 32
        }
    } else {
        while i + 32 <= count {
            a0 += load8(p + i); a1 += load8(p + i + 8); a2 += load8(p + i + 16); a3 += load8(p + i + 24)
            i += 32
        }
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < count {
        let d = p[i] - center
        s += squared ? d * d : d
        i += 1
    }
    return s
}

/// Scalar reference for `groupNormForward` (Double statistics, plain loops).
public func groupNormForwardReference(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                      weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                                      shape: GroupNormShape, eps: Float = 1e-5) {
    shape.validate("groupNormForwardReference")
    let cpg = shape.channels / shape.groups, t = shape.length, n = cpg * t
    for b in 0..<shape.batch {
        for g in 0..<shape.groups {
            let base = (b * shape.channels + g * cpg) * t
            var s = 0.0
            for i in 0..<n { s += Double(x[base + i]) }
            let mu = s / Double(n)
            var v = 0.0
            for i in 0..<n { v += (Double(x[base + i]) - mu) * (Double(x[base + i]) - mu) }
            let rs = 1 / (v / Double(n) + Double(eps)).squareRoot()
            for i in 0..<n {
                let c = g * cpg + i / t
                out[base + i] = Float((Double(x[base + i]) - mu) * rs * Double(weight?[c] ?? 1) + Double(bias?[c] ?? 0))
            }
        }
    }
}

/// Group normalization layer (torch.nn.GroupNorm with affine parameters) over `[B, C, T]`.
public struct GroupNorm: Sendable {
    public let groups: Int
    public let channels: Int
    public let eps: Float
    /// `[C]`, γ.
    public let weight: [Float]
    /// `[C]`, β.
    public let bias: [Float]

    /// γ = 1 and β = 0 unless given (PyTorch's initialization).
    public init(groups: Int, channels: Int, eps: Float = 1e-5, weight: [Float]? = nil, bias: [Float]? = nil) {
        precondition(groups > 0 && channels % groups == 0, "GroupNorm: \(groups) groups do not divide \(channels) channels")
        precondition(weight == nil || weight!.count == channels, "GroupNorm: weight has \(weight!.count) elements, expected \(channels)")
        precondition(bias == nil || bias!.count == channels, "GroupNorm: bias has \(bias!.count) elements, expected \(channels)")
        self.groups = groups
        self.channels = channels
        self.eps = eps
        self.weight = weight ?? [Float](repeating: 1, count: channels)
        self.bias = bias ?? [Float](repeating: 0, count: channels)
    }

    /// `x [B, C, T] → [B, C, T]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == channels, "GroupNorm: input must be [B, \(channels), T], got \(x.shape)")
        let shape = GroupNormShape(batch: x.shape[0], channels: channels, length: x.shape[2], groups: groups)
        var y = x
        y.data.withUnsafeMutableBufferPointer { yp in
            x.data.withUnsafeBufferPointer { xp in
                weight.withUnsafeBufferPointer { w in
                    bias.withUnsafeBufferPointer { bb in
                        groupNormForward(out: yp.baseAddress!, x: xp.baseAddress!, weight: w.baseAddress!, bias: bb.baseAddress!,
                                         shape: shape, eps: eps)
                    }
                }
            }
        }
        return y
    }
}
