// Folding weight normalization into plain weights, as torch.nn.utils.weight_norm(dim=0) computes them.
// Mirrors aten/src/ATen/native/cpu/WeightNormKernel.cpp `weight_norm_first_dim_kernel` (Float32 path).

/// Folds one weight-normalized parameter: `w = g · v / ‖v‖`, the norm taken over every dimension except 0.
///
/// - `v`: the direction, any rank ≥ 1, `[M, …]` (Conv1d `[Cout, Cin, K]`; ConvTranspose1d `[Cin, Cout, K]`).
/// - `g`: the magnitude, `M` values (torch stores it as `[M, 1, 1]`).
/// - Returns `w` with `v`'s shape: `w[m, …] = v[m, …] · (g[m] / ‖v[m, :]‖₂)`.
///
/// Dimension 0 is what `weight_norm(dim=0)` (the default, and what EnCodec uses) normalizes per: the output
/// channel of a Conv1d, the input channel of a ConvTranspose1d. The arithmetic follows PyTorch's CPU kernel
/// in Float32 and in its order, so the result matches `torch._weight_norm` bit for bit on PyTorch's AVX2
/// build (8-lane vectors): the squares of each row are summed in 8 interleaved lanes (lane j takes elements
/// j, j+8, j+16, …), the lanes combined as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)); rows shorter than 8 are
/// summed in order; then `a = g / sqrt(sum)` and `w = v · a`, each rounded to Float32.
/// Preconditions (programmer errors; `foldWeightNorms` checks file data before calling): `v` has rank ≥ 1
/// and `g.count == v.shape[0]`.
public func foldWeightNorm(g: TensorData, v: TensorData) -> TensorData {
    precondition(!v.shape.isEmpty, "foldWeightNorm: v must have rank ≥ 1")
    let rows = v.shape[0]
    precondition(g.count == rows, "foldWeightNorm: g has \(g.count) values, v has \(rows) rows")
    let rowLength = rows == 0 ? 0 : v.count / rows
    var w = [Float](repeating: 0, count: v.count)
    v.values.withUnsafeBufferPointer { vp in
        w.withUnsafeMutableBufferPointer { wp in
            for m in 0..<rows {
                let vRow = UnsafeBufferPointer(rebasing: vp[(m * rowLength)..<((m + 1) * rowLength)])  // v[m, :]
                let a = g.values[m] / sumOfSquaresTorchOrder(vRow).squareRoot()
                for j in 0..<rowLength { wp[m * rowLength + j] = vRow[j] * a }
            }
        }
    }
    return TensorData(shape: v.shape, values: w)
}

/// Σ x² over `x` in PyTorch's `vec::map_reduce_all` order for 8-lane Float32 vectors (AVX2), Float32 throughout.
func sumOfSquaresTorchOrder(_ x: UnsafeBufferPointer<Float>) -> Float {
    let n = x.count
    if n == 0 { return 0 }
    if n < 8 {                       // the short-row path: lane 0 accumulates the others in order
        var s = x[0] * x[0]
        for i in 1..<n { s += x[i] * x[i] }
        return s
    }
    var lanes = (0..<8).map { x[$0] * x[$0] }
    var d = 8
    while d < n {                    // full vectors, then the partial tail into the first lanes
        for j in 0..<min(8, n - d) { lanes[j] += x[d + j] * x[d + j] }
        d += 8
    }
    let pairs = (0..<4).map { lanes[$0] + lanes[$0 + 4] }
    return (pairs[0] + pairs[2]) + (pairs[1] + pairs[3])
}

/// Replaces every weight-normalized pair in a state dict by its folded weight.
///
/// Pairs recognised (both as written by PyTorch): `X.weight_g` + `X.weight_v` (torch.nn.utils.weight_norm, as
/// in EnCodec's released checkpoints) and `X.parametrizations.weight.original0` + `…original1`
/// (torch.nn.utils.parametrizations.weight_norm, as in Hugging Face models). Each becomes `X.weight`
/// (`foldWeightNorm`); every other tensor is kept as is.
/// Throws, naming `path` and the tensor: `missingTensor` when one half of a pair is absent,
/// `shapeMismatch` when g is not `[M, 1, …]` for v of shape `[M, …]`, and `corruptTensor` when `X.weight`
/// already exists beside the pair.
public func foldWeightNorms(_ tensors: [String: TensorData], path: String) throws -> [String: TensorData] {
    let suffixes = [(g: ".weight_g", v: ".weight_v"),
                    (g: ".parametrizations.weight.original0", v: ".parametrizations.weight.original1")]
    var out = tensors
    for name in tensors.keys.sorted() {
        for (gSuffix, vSuffix) in suffixes {
            let isG = name.hasSuffix(gSuffix), isV = name.hasSuffix(vSuffix)
            guard isG || isV else { continue }
            let base = String(name.dropLast(isG ? gSuffix.count : vSuffix.count))
            let gName = base + gSuffix, vName = base + vSuffix, wName = base + ".weight"
            guard let g = tensors[gName] else { throw ModelFileError.missingTensor(path: path, name: gName) }
            guard let v = tensors[vName] else { throw ModelFileError.missingTensor(path: path, name: vName) }
            if !isG { continue }   // each pair is folded once, when its g is visited
            guard !v.shape.isEmpty else {
                throw ModelFileError.corruptTensor(path: path, name: vName, reason: "a weight-norm direction must have rank ≥ 1")
            }
            let expectedG = [v.shape[0]] + Array(repeating: 1, count: v.shape.count - 1)
            guard g.shape == expectedG else {
                throw ModelFileError.shapeMismatch(path: path, name: gName, expected: expectedG, found: g.shape)
            }
            guard tensors[wName] == nil else {
                throw ModelFileError.corruptTensor(path: path, name: wName, reason: "present beside its weight-norm pair \(gName), \(vName)")
            }
            out[gName] = nil
            out[vName] = nil
            out[wName] = foldWeightNorm(g: g, v: v)
        }
    }
    return out
}
