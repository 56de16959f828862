// Element kinds shared by the safetensors, .npy and PyTorch readers, and the byte-level conversions between
// stored elements and Float32/Int64 (half and bfloat16 decoded bit by bit, so no platform Float16 is needed).
import Foundation

/// A stored element type, whatever the file format calls it.
enum ElementKind: Equatable, Sendable {
    case float16, bfloat16, float32, float64
    case integer(IntegerElementType)

    var byteCount: Int {
        switch self {
        case .float16, .bfloat16: return 2
        case .float32: return 4
        case .float64: return 8
        case .integer(let t): return t.byteCount
        }
    }

    var isFloatingPoint: Bool { if case .integer = self { return false }; return true }
}

/// Exact Float32 value of an IEEE 754 binary16 bit pattern (every half is representable in Float32).
@inline(__always)
func floatFromHalfBits(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0x1F {                       // inf / NaN: keep the payload
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {                          // zero or subnormal: mantissa · 2^-24
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}

/// Exact Float32 value of a bfloat16 bit pattern (the upper half of a Float32).
@inline(__always)
func floatFromBFloat16Bits(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

/// Reads element `i` of kind `kind` as a fixed-width unsigned pattern, honouring the byte order.
@inline(__always)
private func load<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ i: Int, _ bigEndian: Bool, as: T.Type) -> T {
    let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
    return bigEndian ? T(bigEndian: v) : T(littleEndian: v)
}

/// Decodes `count` floating-point elements of `kind` from `raw` to Float32 (float64 rounds to nearest).
/// `raw` must hold at least `count * kind.byteCount` bytes (checked by the callers, a precondition here).
func decodeFloats(_ raw: UnsafeRawBufferPointer, kind: ElementKind, count: Int, bigEndian: Bool) -> [Float] {
    precondition(kind.isFloatingPoint && raw.count >= count * kind.byteCount, "decodeFloats: short buffer")
    var out = [Float](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { o in
        switch kind {
        case .float16: for i in 0..<count { o[i] = floatFromHalfBits(load(raw, i, bigEndian, as: UInt16.self)) }
        case .bfloat16: for i in 0..<count { o[i] = floatFromBFloat16Bits(load(raw, i, bigEndian, as: UInt16.self)) }
        case .float32: for i in 0..<count { o[i] = Float(bitPattern: load(raw, i, bigEndian, as: UInt32.self)) }
        case .float64: for i in 0..<count { o[i] = Float(Double(bitPattern: load(raw, i, bigEndian, as: UInt64.self))) }
        case .integer: break
        }
    }
    return out
}

/// Decodes `count` float64 elements and reports the first finite value that overflows Float32, if any.
func firstFloat32Overflow(_ raw: UnsafeRawBufferPointer, count: Int, bigEndian: Bool) -> (index: Int, value: Double)? {
    for i in 0..<count {
        let d = Double(bitPattern: load(raw, i, bigEndian, as: UInt64.self))
        if d.isFinite && !Float(d).isFinite { return (i, d) }
    }
    return nil
}

/// Decodes `count` integer elements of `type` from `raw`, widened to Int64 (sign-extended for signed types).
func decodeIntegers(_ raw: UnsafeRawBufferPointer, type: IntegerElementType, count: Int, bigEndian: Bool) -> [Int64] {
    precondition(raw.count >= count * type.byteCount, "decodeIntegers: short buffer")
    var out = [Int64](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { o in
        switch type {
        case .bool: for i in 0..<count { o[i] = raw[i] != 0 ? 1 : 0 }
        case .uint8: for i in 0..<count { o[i] = Int64(raw[i]) }
        case .int8: for i in 0..<count { o[i] = Int64(Int8(bitPattern: raw[i])) }
        case .int16: for i in 0..<count { o[i] = Int64(Int16(bitPattern: load(raw, i, bigEndian, as: UInt16.self))) }
        case .uint16: for i in 0..<count { o[i] = Int64(load(raw, i, bigEndian, as: UInt16.self)) }
        case .int32: for i in 0..<count { o[i] = Int64(Int32(bitPattern: load(raw, i, bigEndian, as: UInt32.self))) }
        case .uint32: for i in 0..<count { o[i] = Int64(load(raw, i, bigEndian, as: UInt32.self)) }
        case .int64: for i in 0..<count { o[i] = Int64(bitPattern: load(raw, i, bigEndian, as: UInt64.self)) }
        }
    }
    return out
}

/// Appends Float32 values little-endian.
func appendLittleEndian(_ values: [Float], to data: inout Data) {
    let le = values.map { $0.bitPattern.littleEndian }   // identity on little-endian hosts
    le.withUnsafeBytes { data.append(contentsOf: $0) }
}

/// Appends integer values little-endian with `type`'s width; the caller has checked that they fit.
func appendLittleEndian(_ values: [Int64], as type: IntegerElementType, to data: inout Data) {
    switch type {
    case .bool, .int8, .uint8:
        values.map { UInt8(truncatingIfNeeded: $0) }.withUnsafeBytes { data.append(contentsOf: $0) }
    case .int16, .uint16:
        values.map { UInt16(truncatingIfNeeded: $0).littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
    case .int32, .uint32:
        values.map { UInt32(truncatingIfNeeded: $0).littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
    case .int64:
        values.map { $0.littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
    }
}

/// Product of `shape`, or nil when it overflows Int (a corrupt header can claim any size).
func checkedElementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}

/// Elements of `source` in C order for a view with `shape`, per-dimension `strides` (in elements) and
/// `offset`: `out[i0, …, in-1] = source[offset + Σ ik·strides[k]]`. Serves non-contiguous PyTorch tensors and
/// Fortran-order `.npy` arrays. The caller has checked that every addressed index lies inside `source`.
func gatherStrided<T>(_ source: [T], shape: [Int], strides: [Int], offset: Int) -> [T] {
    precondition(shape.count == strides.count, "gatherStrided: rank of shape and strides differ")
    let count = shape.reduce(1, *)
    if count == 0 { return [] }
    if shape.isEmpty { return [source[offset]] }
    var out: [T] = []
    out.reserveCapacity(count)
    let rank = shape.count
    let innerSize = shape[rank - 1], innerStride = strides[rank - 1]
    var index = [Int](repeating: 0, count: rank)     // odometer over the outer dimensions
    var base = offset
    while true {
        var p = base
        for _ in 0..<innerSize { out.append(source[p]); p += innerStride }
        // Advance the odometer over dimensions rank-2 … 0.
        var k = rank - 2
        while k >= 0 {
            index[k] += 1
            base += strides[k]
            if index[k] < shape[k] { break }
            base -= strides[k] * shape[k]
            index[k] = 0
            k -= 1
        }
        if k < 0 { break }
    }
    return out
}

/// Largest element index a strided view addresses (`offset` when the view is empty or a scalar).
func largestStridedIndex(shape: [Int], strides: [Int], offset: Int) -> Int? {
    var top = offset
    for (s, st) in zip(shape, strides) where s > 0 {
        let (p, o1) = (s - 1).multipliedReportingOverflow(by: st)
        let (t, o2) = top.addingReportingOverflow(p)
        if o1 || o2 { return nil }
        top = t
    }
    return top
}
