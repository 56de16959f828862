// Tensor: a shape and a flat row-major Float array; the value type that layers take and return.
// Kernels work on raw buffers; Tensor is the convenience around them (DESIGN.md §1).

/// A dense Float tensor stored row-major (last index fastest).
///
/// Activations use the layout `[B, C, T]` (batch, channels, time) everywhere, as PyTorch and EnCodec do:
/// element `[b, c, t]` sits at `data[(b * C + c) * T + t]`. Conv weights are `[Cout, Cin, K]`,
/// transposed-conv weights `[Cin, Cout, K]`, LSTM weights `[4H, In]` (PyTorch's layouts).
public struct Tensor: Equatable, Sendable {
    /// Extent of each dimension, outermost first.
    public var shape: [Int]
    /// The elements, row-major; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// Wraps `data` with `shape`; precondition: the element counts agree.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) holds \(shape.reduce(1, *)) elements, data has \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }

    /// Number of elements.
    public var count: Int { data.count }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// Row-major strides in elements (the last is 1).
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) { s[d] = acc; acc *= shape[d] }
        return s
    }

    /// Flat offset of a multi-index; precondition: one index per dimension, each in range.
    public func offset(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count, "Tensor: \(indices.count) indices for shape \(shape)")
        var off = 0
        for d in 0..<shape.count {
            precondition(indices[d] >= 0 && indices[d] < shape[d], "Tensor: index \(indices) out of range for \(shape)")
            off = off * shape[d] + indices[d]
        }
        return off
    }

    /// Element access by multi-index, e.g. `x[b, c, t]`.
    public subscript(_ indices: Int...) -> Float {
        get { data[offset(indices)] }
        set { data[offset(indices)] = newValue }
    }

    /// The same elements under another shape with the same count.
    public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, data: data) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), data: [\(head)\(data.count > 8 ? ", …" : "")])"
    }
}
