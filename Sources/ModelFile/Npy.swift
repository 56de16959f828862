// NumPy `.npy` read and write (format versions 1.0, 2.0, 3.0), verified on load.
// Format: numpy/lib/format.py (magic "\x93NUMPY", version, header length, a Python dict literal header
// {'descr', 'fortran_order', 'shape'} padded to a multiple of 64 bytes, then the raw array data).
import Foundation

/// Reading and writing NumPy `.npy` array files.
///
/// **Reading.** Accepted dtypes, in little- or big-endian byte order: float16, float32, float64 (→ Float32,
/// `TensorData`), and bool, int8, uint8, int16, uint16, int32, uint32, int64 (→ `IntTensorData`, values widened
/// to Int64 with the stored type kept). C-order and Fortran-order arrays are both read; Fortran order is
/// converted to C order (row-major), so the shape and element positions are what NumPy shows.
/// Refused with `unsupportedArray`: complex, object (pickled), string, void/structured, datetime, float128
/// and uint64 arrays.
///
/// **Conversions, and which are safe.**
/// - float16/float32 → Float32 is exact; float64 → Float32 rounds to nearest (allowed, as the codec computes
///   in Float32), but a finite float64 beyond Float32's range is refused (`valueOutOfRange`) instead of
///   becoming infinity.
/// - Every integer type → Int64 is exact. Narrowing (e.g. int64 codes → int32 or int16) goes through
///   `IntTensorData.converted(to:path:name:)`, which refuses values that do not fit instead of wrapping them.
/// - `readFloat` refuses integer arrays and `readIntegers` refuses float arrays (`unsupportedDType`): reading
///   codes as floats or vectors as integers is almost always a mistake, and float → int would truncate.
///
/// **Writing.** Float32 (`<f4`) and integers with their element type (`<i2`, `<i4`, `<i8`, …), C order,
/// little-endian, format 1.0 (2.0 if the header needs it), through a temporary file renamed into place.
public enum Npy {
    /// Reads an array of any supported dtype.
    public static func read(path: String) throws -> StoredTensor {
        let data = try readWholeFile(path)
        return try data.withUnsafeBytes { try parse($0, path: path) }
    }

    /// Reads a floating-point array as Float32; refuses integer arrays and, when `rank` is given, other ranks.
    public static func readFloat(path: String, rank: Int? = nil) throws -> TensorData {
        let stored = try read(path: path)
        guard case .float(let t) = stored else {
            throw ModelFileError.unsupportedDType(path: path, name: "array",
                dtype: "\(stored.integerData!.elementType.rawValue) (expected floating-point data: float16, float32 or float64)")
        }
        try checkRank(t.shape, rank, path: path)
        return t
    }

    /// Reads an integer array; refuses floating-point arrays and, when `rank` is given, other ranks.
    public static func readIntegers(path: String, rank: Int? = nil) throws -> IntTensorData {
        let stored = try read(path: path)
        guard case .integer(let t) = stored else {
            throw ModelFileError.unsupportedDType(path: path, name: "array",
                dtype: "floating point (expected integer data such as int16, int32 or int64)")
        }
        try checkRank(t.shape, rank, path: path)
        return t
    }

    private static func checkRank(_ shape: [Int], _ rank: Int?, path: String) throws {
        if let rank, shape.count != rank {
            throw ModelFileError.unsupportedArray(path: path, reason: "expected a rank-\(rank) array, found shape \(shape) (rank \(shape.count))")
        }
    }

    /// Writes a Float32 array (`<f4`, C order).
    public static func write(_ tensor: TensorData, to path: String) throws {
        var data = header(descr: "<f4", shape: tensor.shape)
        appendLittleEndian(tensor.values, to: &data)
        try writeFileAtomically(data, to: path)
    }

    /// Writes an integer array with its element type (`<i2`, `<i4`, `<i8`, …, C order); throws
    /// `valueOutOfRange` if a value does not fit the element type.
    public static func write(_ tensor: IntTensorData, to path: String) throws {
        if let bad = tensor.firstValueOutside(tensor.elementType) {
            throw ModelFileError.valueOutOfRange(path: path, name: "array",
                reason: "value \(tensor.values[bad]) at flat index \(bad) does not fit in \(tensor.elementType.rawValue)")
        }
        var data = header(descr: descr(tensor.elementType), shape: tensor.shape)
        appendLittleEndian(tensor.values, as: tensor.elementType, to: &data)
        try writeFileAtomically(data, to: path)
    }

    static func descr(_ t: IntegerElementType) -> String {
        switch t {
        case .bool: return "|b1"
        case .int8: return "|i1"
        case .uint8: return "|u1"
        case .int16: return "<i2"
        case .uint16: return "<u2"
        case .int32: return "<i4"
        case .uint32: return "<u4"
        case .int64: return "<i8"
        }
    }

    /// Magic, version and the padded header dict, as numpy.lib.format writes them (total a multiple of 64).
    static func header(descr: String, shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let version1 = dict.utf8.count + 1 + 64 <= Int(UInt16.max)  // padded length must fit 2 bytes
        let prefix = version1 ? 10 : 12
        while (prefix + dict.utf8.count + 1) % 64 != 0 { dict += " " }
        dict += "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [version1 ? 1 : 2, 0])
        let n = dict.utf8.count
        if version1 {
            withUnsafeBytes(of: UInt16(n).littleEndian) { out.append(contentsOf: $0) }
        } else {
            withUnsafeBytes(of: UInt32(n).littleEndian) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: Array(dict.utf8))
        return out
    }

    // MARK: Parsing

    static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws -> StoredTensor {
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard raw.count >= 8, Array(raw[0..<6]) == magic else {
            throw ModelFileError.corrupt(path: path, reason: "not a .npy file (bad magic; expected \\x93NUMPY)")
        }
        let major = raw[6], minor = raw[7]
        let lengthBytes: Int
        switch (major, minor) {
        case (1, 0): lengthBytes = 2
        case (2, 0), (3, 0): lengthBytes = 4
        default:
            throw ModelFileError.unsupportedArray(path: path, reason: "npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
        guard raw.count >= 8 + lengthBytes else {
            throw ModelFileError.corrupt(path: path, reason: "truncated: the file ends inside the header length")
        }
        let headerLength = lengthBytes == 2
            ? Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
            : Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        let dataStart = 8 + lengthBytes + headerLength
        guard dataStart <= raw.count else {
            throw ModelFileError.corrupt(path: path,
                reason: "truncated: header length \(headerLength) runs past the end of the file (\(raw.count) bytes)")
        }
        let headerBytes = Array(raw[(8 + lengthBytes)..<dataStart])
        // Versions 1 and 2 encode the header in latin-1, version 3 in UTF-8.
        let headerText = major == 3
            ? (String(bytes: headerBytes, encoding: .utf8) ?? "")
            : String(headerBytes.map { Character(Unicode.Scalar($0)) })
        let dict: [String: PyLiteral]
        do {
            var parser = PyLiteralParser(text: headerText)
            guard case .dict(let d) = try parser.parseValue() else { throw PyLiteralParser.Failure(message: "header is not a dict") }
            dict = d
        } catch let failure as PyLiteralParser.Failure {
            throw ModelFileError.corrupt(path: path, reason: "invalid header: \(failure.message)")
        }

        guard let descrValue = dict["descr"] else { throw ModelFileError.corrupt(path: path, reason: "header has no 'descr'") }
        guard case .string(let descr) = descrValue else {
            throw ModelFileError.unsupportedArray(path: path, reason: "structured dtype \(descrValue) is not supported (only plain numeric arrays)")
        }
        guard case .bool(let fortranOrder)? = dict["fortran_order"] else {
            throw ModelFileError.corrupt(path: path, reason: "header has no boolean 'fortran_order'")
        }
        guard case .tuple(let shapeValues)? = dict["shape"] else {
            throw ModelFileError.corrupt(path: path, reason: "header has no tuple 'shape'")
        }
        var shape: [Int] = []
        for v in shapeValues {
            guard case .int(let d) = v, d >= 0 else { throw ModelFileError.corrupt(path: path, reason: "shape \(shapeValues) is not a tuple of non-negative integers") }
            shape.append(d)
        }
        let (kind, bigEndian) = try elementKind(descr: descr, path: path)
        guard let count = checkedElementCount(shape),
              case let (byteCount, overflow) = count.multipliedReportingOverflow(by: kind.byteCount), !overflow else {
            throw ModelFileError.corrupt(path: path, reason: "shape \(shape) is too large")
        }
        let available = raw.count - dataStart
        guard available >= byteCount else {
            throw ModelFileError.corrupt(path: path,
                reason: "truncated: shape \(shape) of \(descr) needs \(byteCount) bytes of data, the file holds \(available)")
        }
        let body = UnsafeRawBufferPointer(rebasing: raw[dataStart..<(dataStart + byteCount)])

        // Fortran order: element (i0, …, in-1) sits at Σ ik·Π_{j<k} shape[j]; gather it into C order.
        var fortranStrides: [Int] = []
        if fortranOrder && shape.count > 1 {
            var s = 1
            for d in shape { fortranStrides.append(s); s *= d }
        }
        switch kind {
        case .integer(let t):
            var values = decodeIntegers(body, type: t, count: count, bigEndian: bigEndian)
            if !fortranStrides.isEmpty { values = gatherStrided(values, shape: shape, strides: fortranStrides, offset: 0) }
            return .integer(IntTensorData(shape: shape, values: values, elementType: t))
        default:
            if kind == .float64, let (i, v) = firstFloat32Overflow(body, count: count, bigEndian: bigEndian) {
                throw ModelFileError.valueOutOfRange(path: path, name: "array",
                    reason: "float64 value \(v) at flat index \(i) is beyond float32's range")
            }
            var values = decodeFloats(body, kind: kind, count: count, bigEndian: bigEndian)
            if !fortranStrides.isEmpty { values = gatherStrided(values, shape: shape, strides: fortranStrides, offset: 0) }
            return .float(TensorData(shape: shape, values: values))
        }
    }

    /// Element kind and byte order of a NumPy type string such as "<f4", ">i2", "|u1".
    static func elementKind(descr: String, path: String) throws -> (ElementKind, bigEndian: Bool) {
        var chars = Array(descr)
        var bigEndian = false
        if let first = chars.first, "<>|=".contains(first) {
            bigEndian = first == ">"
            chars.removeFirst()
        }
        guard let kindChar = chars.first else {
            throw ModelFileError.corrupt(path: path, reason: "empty dtype descr")
        }
        let size = Int(String(chars.dropFirst()))
        func refuse(_ what: String) -> ModelFileError {
            .unsupportedArray(path: path, reason: "dtype '\(descr)' (\(what)) is not supported; expected float16/32/64 or an integer type")
        }
        switch (kindChar, size) {
        case ("f", 2): return (.float16, bigEndian)
        case ("f", 4): return (.float32, bigEndian)
        case ("f", 8): return (.float64, bigEndian)
        case ("i", 1): return (.integer(.int8), false)
        case ("i", 2): return (.integer(.int16), bigEndian)
        case ("i", 4): return (.integer(.int32), bigEndian)
        case ("i", 8): return (.integer(.int64), bigEndian)
        case ("u", 1): return (.integer(.uint8), false)
        case ("u", 2): return (.integer(.uint16), bigEndian)
        case ("u", 4): return (.integer(.uint32), bigEndian)
        case ("b", 1): return (.integer(.bool), false)
        case ("u", 8): throw refuse("uint64, whose values may not fit in int64")
        case ("f", _): throw refuse("extended-precision float")
        case ("c", _): throw refuse("complex")
        case ("O", _): throw refuse("Python objects, stored as a pickle")
        case ("U", _), ("S", _), ("a", _): throw refuse("strings")
        case ("V", _): throw refuse("raw void/structured records")
        case ("M", _), ("m", _): throw refuse("datetime")
        default: throw refuse("unknown kind")
        }
    }
}

// MARK: - The Python literal subset of .npy headers

/// A Python literal as `.npy` headers use them.
enum PyLiteral: Equatable, CustomStringConvertible {
    case string(String), int(Int), bool(Bool), none
    case tuple([PyLiteral]), list([PyLiteral]), dict([String: PyLiteral])

    var description: String {
        switch self {
        case .string(let s): return "'\(s)'"
        case .int(let i): return "\(i)"
        case .bool(let b): return b ? "True" : "False"
        case .none: return "None"
        case .tuple(let items): return "(" + items.map(\.description).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case .list(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.keys.sorted().map { "'\($0)': \(d[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Parses strings, integers (with an optional Python 2 `L`), True/False/None, tuples, lists and dicts with
/// string keys: what `numpy.lib.format` writes. Nothing is evaluated.
struct PyLiteralParser {
    struct Failure: Error { let message: String }
    private let chars: [Character]
    private var i = 0
    init(text: String) { chars = Array(text) }

    private mutating func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

    mutating func parseValue() throws -> PyLiteral {
        skipSpace()
        guard i < chars.count else { throw Failure(message: "unexpected end") }
        let c = chars[i]
        switch c {
        case "'", "\"": return .string(try parseString())
        case "(": i += 1; return .tuple(try parseItems(close: ")"))
        case "[": i += 1; return .list(try parseItems(close: "]"))
        case "{": i += 1; return try parseDict()
        default:
            if c == "-" || c.isNumber { return .int(try parseInt()) }
            for (word, value) in [("True", PyLiteral.bool(true)), ("False", .bool(false)), ("None", .none)]
            where chars[i...].starts(with: word) {
                i += word.count
                return value
            }
            throw Failure(message: "unexpected character '\(c)' at \(i)")
        }
    }

    private mutating func parseString() throws -> String {
        let quote = chars[i]; i += 1
        var s = ""
        while i < chars.count, chars[i] != quote {
            if chars[i] == "\\", i + 1 < chars.count { i += 1 }
            s.append(chars[i]); i += 1
        }
        guard i < chars.count else { throw Failure(message: "unterminated string") }
        i += 1
        return s
    }

    private mutating func parseInt() throws -> Int {
        var s = ""
        if chars[i] == "-" { s.append("-"); i += 1 }
        while i < chars.count, chars[i].isASCII, chars[i].isNumber { s.append(chars[i]); i += 1 }
        if i < chars.count, chars[i] == "L" { i += 1 }
        guard let v = Int(s) else { throw Failure(message: "bad integer '\(s)'") }
        return v
    }

    private mutating func parseItems(close: Character) throws -> [PyLiteral] {
        var items: [PyLiteral] = []
        while true {
            skipSpace()
            guard i < chars.count else { throw Failure(message: "unterminated sequence") }
            if chars[i] == close { i += 1; return items }
            items.append(try parseValue())
            skipSpace()
            guard i < chars.count else { throw Failure(message: "unterminated sequence") }
            if chars[i] == "," { i += 1 } else if chars[i] != close { throw Failure(message: "expected ',' or '\(close)' at \(i)") }
        }
    }

    private mutating func parseDict() throws -> PyLiteral {
        var d: [String: PyLiteral] = [:]
        while true {
            skipSpace()
            guard i < chars.count else { throw Failure(message: "unterminated dict") }
            if chars[i] == "}" { i += 1; return .dict(d) }
            guard case .string(let key) = try parseValue() else { throw Failure(message: "dict key is not a string") }
            skipSpace()
            guard i < chars.count, chars[i] == ":" else { throw Failure(message: "expected ':' after '\(key)'") }
            i += 1
            d[key] = try parseValue()
            skipSpace()
            guard i < chars.count else { throw Failure(message: "unterminated dict") }
            if chars[i] == "," { i += 1 } else if chars[i] != "}" { throw Failure(message: "expected ',' or '}' at \(i)") }
        }
    }
}
