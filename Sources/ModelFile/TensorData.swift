// TensorData, IntTensorData, StoredTensor: the tensor values that model and array files hold once loaded.
// Floating-point data is always Float32 in memory; integer data is Int64 with its stored element type.

/// A floating-point tensor as read from or written to a file: a shape and row-major (C order) values.
///
/// Whatever the stored type (F16, BF16, F32, F64), values are converted to Float32 on load. A scalar
/// (0-dimensional) tensor has `shape == []` and one value. Layout follows DESIGN.md §1: activations
/// `[B, C, T]`, conv weights `[Cout, Cin, K]`, the last index varying fastest.
public struct TensorData: Equatable, Sendable {
    /// Size of each dimension; `[]` for a scalar.
    public var shape: [Int]
    /// Row-major values; `values.count == shape.reduce(1, *)`.
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "TensorData: negative dimension in \(shape)")
        precondition(values.count == shape.reduce(1, *),
                     "TensorData: \(values.count) values for shape \(shape) (needs \(shape.reduce(1, *)))")
        self.shape = shape
        self.values = values
    }

    /// Number of elements (product of the shape; 1 for a scalar).
    public var count: Int { values.count }
}

/// The element type an integer tensor was stored with (and is written back with).
public enum IntegerElementType: String, CaseIterable, Sendable {
    case bool, int8, uint8, int16, uint16, int32, uint32, int64

    /// Bytes per element in a file.
    public var byteCount: Int {
        switch self {
        case .bool, .int8, .uint8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32: return 4
        case .int64: return 8
        }
    }

    /// Smallest and largest value the type holds.
    public var range: ClosedRange<Int64> {
        switch self {
        case .bool: return 0...1
        case .int8: return Int64(Int8.min)...Int64(Int8.max)
        case .uint8: return 0...Int64(UInt8.max)
        case .int16: return Int64(Int16.min)...Int64(Int16.max)
        case .uint16: return 0...Int64(UInt16.max)
        case .int32: return Int64(Int32.min)...Int64(Int32.max)
        case .uint32: return 0...Int64(UInt32.max)
        case .int64: return Int64.min...Int64.max
        }
    }
}

/// An integer tensor (token codes, counters, masks): a shape, row-major values widened to Int64 (every
/// supported element type fits, so reading never loses a value), and the element type it was stored with.
///
/// Narrowing is explicit and checked: `converted(to:path:name:)` refuses values outside the target's range
/// rather than wrapping them, and writers check the same before writing.
public struct IntTensorData: Equatable, Sendable {
    public var shape: [Int]
    /// Row-major values; `values.count == shape.reduce(1, *)`.
    public var values: [Int64]
    /// The stored element type; writers use it (`.int16` codes are written as int16).
    public var elementType: IntegerElementType

    public init(shape: [Int], values: [Int64], elementType: IntegerElementType = .int64) {
        precondition(shape.allSatisfy { $0 >= 0 }, "IntTensorData: negative dimension in \(shape)")
        precondition(values.count == shape.reduce(1, *),
                     "IntTensorData: \(values.count) values for shape \(shape) (needs \(shape.reduce(1, *)))")
        self.shape = shape
        self.values = values
        self.elementType = elementType
    }

    /// Convenience for Int32 data (e.g. codes): stored as `.int32`.
    public init(shape: [Int], int32Values: [Int32]) {
        self.init(shape: shape, values: int32Values.map(Int64.init), elementType: .int32)
    }

    public var count: Int { values.count }

    /// Index of the first value outside `type`'s range, or nil when all fit.
    public func firstValueOutside(_ type: IntegerElementType) -> Int? {
        let r = type.range
        return values.firstIndex { !r.contains($0) }
    }

    /// The same values with another element type; throws `valueOutOfRange` (naming `path` and `name`)
    /// if any value does not fit, so no code is silently wrapped.
    public func converted(to type: IntegerElementType, path: String, name: String) throws -> IntTensorData {
        if let i = firstValueOutside(type) {
            throw ModelFileError.valueOutOfRange(
                path: path, name: name,
                reason: "value \(values[i]) at flat index \(i) does not fit in \(type.rawValue) \(type.range)")
        }
        return IntTensorData(shape: shape, values: values, elementType: type)
    }

    /// Values as Int32, refusing (with `valueOutOfRange`) any value outside Int32's range.
    public func int32Values(path: String, name: String) throws -> [Int32] {
        try converted(to: .int32, path: path, name: name).values.map { Int32(truncatingIfNeeded: $0) }
    }
}

/// A tensor of either kind, as files hold them.
public enum StoredTensor: Equatable, Sendable {
    case float(TensorData)
    case integer(IntTensorData)

    public var shape: [Int] {
        switch self {
        case .float(let t): return t.shape
        case .integer(let t): return t.shape
        }
    }

    /// The float tensor, or nil for an integer tensor.
    public var floatData: TensorData? { if case .float(let t) = self { return t }; return nil }
    /// The integer tensor, or nil for a float tensor.
    public var integerData: IntTensorData? { if case .integer(let t) = self { return t }; return nil }
}
