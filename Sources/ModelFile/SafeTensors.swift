// safetensors read and write, verified on load: 8-byte little-endian header length, a JSON header (dtype,
// shape, data_offsets per tensor, optional "__metadata__" string map), then the raw little-endian data.
// Format: https://github.com/huggingface/safetensors (README "Format"); validation rules follow its loader.
import Foundation

/// A safetensors file loaded into memory.
///
/// Floating-point tensors (F64, F32, F16, BF16) are converted to Float32 on load; integer tensors (I64, I32,
/// I16, I8, U8, U16, U32, BOOL) are kept as integers (`IntTensorData`, widened to Int64, with their stored type).
public struct SafeTensorsFile: Sendable {
    /// The file it was read from (used in error messages).
    public var path: String
    /// Every tensor by name.
    public var tensors: [String: StoredTensor]
    /// The `__metadata__` map (empty when the file has none).
    public var metadata: [String: String]
    /// The dtype each tensor had in the file, as the header spells it ("F16", "I64", ...).
    public var storedDTypes: [String: String]

    /// The float tensor `name`; throws `missingTensor`, or `unsupportedDType` if it holds integers.
    public func float(_ name: String) throws -> TensorData {
        guard let t = tensors[name] else { throw ModelFileError.missingTensor(path: path, name: name) }
        guard case .float(let f) = t else {
            throw ModelFileError.unsupportedDType(path: path, name: name,
                                                  dtype: "\(storedDTypes[name] ?? "?") (expected a floating-point tensor)")
        }
        return f
    }

    /// The integer tensor `name`; throws `missingTensor`, or `unsupportedDType` if it holds floats.
    public func integer(_ name: String) throws -> IntTensorData {
        guard let t = tensors[name] else { throw ModelFileError.missingTensor(path: path, name: name) }
        guard case .integer(let i) = t else {
            throw ModelFileError.unsupportedDType(path: path, name: name,
                                                  dtype: "\(storedDTypes[name] ?? "?") (expected an integer tensor)")
        }
        return i
    }

    /// All tensors as floats; throws `unsupportedDType` naming the first (by name) integer tensor.
    public func floatTensors() throws -> [String: TensorData] {
        var out: [String: TensorData] = [:]
        for name in tensors.keys.sorted() { out[name] = try float(name) }
        return out
    }

    /// Shape of every tensor, for `verifyTensors`.
    public var shapes: [String: [Int]] { tensors.mapValues(\.shape) }
}

/// Reading and writing safetensors files.
public enum SafeTensors {
    /// Largest header the reader accepts (the reference loader's limit).
    public static let maximumHeaderLength = 100_000_000

    /// The dtype names of the format and the element kinds they map to (nil: known to the format, not read).
    static func kind(ofDType dtype: String) -> ElementKind? {
        switch dtype {
        case "F64": return .float64
        case "F32": return .float32
        case "F16": return .float16
        case "BF16": return .bfloat16
        case "I64": return .integer(.int64)
        case "I32": return .integer(.int32)
        case "I16": return .integer(.int16)
        case "I8": return .integer(.int8)
        case "U8": return .integer(.uint8)
        case "U16": return .integer(.uint16)
        case "U32": return .integer(.uint32)
        case "BOOL": return .integer(.bool)
        default: return nil   // U64, F8_E4M3, F8_E5M2, and anything unknown
        }
    }

    static func dtypeName(_ type: IntegerElementType) -> String {
        switch type {
        case .bool: return "BOOL"
        case .int8: return "I8"
        case .uint8: return "U8"
        case .int16: return "I16"
        case .uint16: return "U16"
        case .int32: return "I32"
        case .uint32: return "U32"
        case .int64: return "I64"
        }
    }

    /// Reads and verifies a safetensors file.
    ///
    /// Checks, each failing with a `ModelFileError` that names the file (and the tensor where there is one):
    /// the file holds the 8-byte header length and the header (`corrupt`); the header is UTF-8 JSON, an
    /// object of tensor entries with `dtype`, `shape` and `data_offsets` (`corrupt`/`corruptTensor`); the
    /// dtype is one we read (`unsupportedDType`); each tensor's bytes match shape × dtype size, lie inside the
    /// data section, and the tensors tile the data section without overlap or gap (`corruptTensor`), as the
    /// reference loader requires; `__metadata__` maps strings to strings (`corrupt`).
    public static func read(path: String) throws -> SafeTensorsFile {
        let data = try readWholeFile(path)
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in try parse(raw, path: path) }
    }

    private struct Entry { let name: String; let dtype: String; let kind: ElementKind; let shape: [Int]; let begin: Int; let end: Int }

    static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws -> SafeTensorsFile {
        guard raw.count >= 8 else {
            throw ModelFileError.corrupt(path: path, reason: "file is \(raw.count) bytes, too short for the 8-byte header length")
        }
        let headerLength64 = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard headerLength64 <= UInt64(raw.count - 8) else {
            throw ModelFileError.corrupt(path: path,
                reason: "header length \(headerLength64) runs past the end of the file (\(raw.count) bytes)")
        }
        guard headerLength64 <= UInt64(maximumHeaderLength) else {
            throw ModelFileError.corrupt(path: path, reason: "header length \(headerLength64) exceeds the limit of \(maximumHeaderLength) bytes")
        }
        let headerLength = Int(headerLength64)
        let headerBytes = Data(raw[8..<(8 + headerLength)])
        let dataStart = 8 + headerLength
        let dataLength = raw.count - dataStart

        guard String(data: headerBytes, encoding: .utf8) != nil else {
            throw ModelFileError.corrupt(path: path, reason: "header is not valid UTF-8")
        }
        let json: JSONValue
        do { json = try JSONDecoder().decode(JSONValue.self, from: headerBytes) } catch {
            throw ModelFileError.corrupt(path: path, reason: "header is not valid JSON (\(jsonErrorSummary(error)))")
        }
        guard case .object(let top) = json else {
            throw ModelFileError.corrupt(path: path, reason: "header JSON is not an object")
        }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in top {
            if name == "__metadata__" {
                guard case .object(let m) = value else {
                    throw ModelFileError.corrupt(path: path, reason: "__metadata__ is not an object of strings")
                }
                for (k, v) in m {
                    guard case .string(let s) = v else {
                        throw ModelFileError.corrupt(path: path, reason: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(name: name, value: value, path: path))
        }

        // Sizes and bounds, tensor by tensor (sorted by name so the first error reported is stable).
        entries.sort { $0.name < $1.name }
        for e in entries {
            guard let count = checkedElementCount(e.shape),
                  case let (bytes, overflow) = count.multipliedReportingOverflow(by: e.kind.byteCount), !overflow else {
                throw ModelFileError.corruptTensor(path: path, name: e.name, reason: "shape \(e.shape) is too large")
            }
            guard e.end - e.begin == bytes else {
                throw ModelFileError.corruptTensor(path: path, name: e.name,
                    reason: "data_offsets [\(e.begin), \(e.end)] span \(e.end - e.begin) bytes, but shape \(e.shape) of \(e.dtype) needs \(bytes)")
            }
            guard e.end <= dataLength else {
                throw ModelFileError.corruptTensor(path: path, name: e.name,
                    reason: "data_offsets [\(e.begin), \(e.end)] lie beyond the data section (\(dataLength) bytes)")
            }
        }
        // The tensors must tile the data section: no overlap, no gap, nothing after the last one.
        let byOffset = entries.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        var previous: Entry? = nil
        for e in byOffset {
            if e.begin < cursor, let p = previous {
                throw ModelFileError.corruptTensor(path: path, name: e.name,
                    reason: "data_offsets [\(e.begin), \(e.end)] overlap tensor '\(p.name)' [\(p.begin), \(p.end)]")
            }
            if e.begin > cursor {
                throw ModelFileError.corruptTensor(path: path, name: e.name,
                    reason: "data_offsets [\(e.begin), \(e.end)] leave bytes [\(cursor), \(e.begin)) that belong to no tensor")
            }
            cursor = e.end
            previous = e
        }
        guard cursor == dataLength else {
            throw ModelFileError.corrupt(path: path,
                reason: "data section is \(dataLength) bytes but the tensors cover \(cursor) (bytes after the last tensor belong to no tensor)")
        }

        var tensors: [String: StoredTensor] = [:]
        var dtypes: [String: String] = [:]
        for e in entries {
            let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)])
            let count = e.shape.reduce(1, *)
            switch e.kind {
            case .integer(let t):
                tensors[e.name] = .integer(IntTensorData(shape: e.shape,
                    values: decodeIntegers(bytes, type: t, count: count, bigEndian: false), elementType: t))
            default:
                tensors[e.name] = .float(TensorData(shape: e.shape,
                    values: decodeFloats(bytes, kind: e.kind, count: count, bigEndian: false)))
            }
            dtypes[e.name] = e.dtype
        }
        return SafeTensorsFile(path: path, tensors: tensors, metadata: metadata, storedDTypes: dtypes)
    }

    private static func parseEntry(name: String, value: JSONValue, path: String) throws -> Entry {
        func bad(_ reason: String) -> ModelFileError { .corruptTensor(path: path, name: name, reason: reason) }
        guard case .object(let fields) = value else { throw bad("header entry is not an object") }
        guard case .string(let dtype)? = fields["dtype"] else { throw bad("header entry has no string 'dtype'") }
        guard case .array(let shapeValues)? = fields["shape"] else { throw bad("header entry has no array 'shape'") }
        guard case .array(let offsetValues)? = fields["data_offsets"], offsetValues.count == 2 else {
            throw bad("header entry has no 'data_offsets' pair")
        }
        var shape: [Int] = []
        for v in shapeValues {
            guard case .int(let d) = v, d >= 0, d <= Int64(Int.max) else { throw bad("shape \(shapeValues) is not a list of non-negative integers") }
            shape.append(Int(d))
        }
        var offsets: [Int] = []
        for v in offsetValues {
            guard case .int(let o) = v, o >= 0, o <= Int64(Int.max) else { throw bad("data_offsets are not two non-negative integers") }
            offsets.append(Int(o))
        }
        guard offsets[0] <= offsets[1] else { throw bad("data_offsets [\(offsets[0]), \(offsets[1])] end before they begin") }
        guard let kind = kind(ofDType: dtype) else {
            throw ModelFileError.unsupportedDType(path: path, name: name, dtype: dtype)
        }
        return Entry(name: name, dtype: dtype, kind: kind, shape: shape, begin: offsets[0], end: offsets[1])
    }

    /// The bytes of a safetensors file holding `tensors` and `metadata`.
    ///
    /// Float tensors are written as F32, integer tensors with their element type (I64, I32, I16, I8, U8, U16,
    /// U32, BOOL). The header lists `__metadata__` first (when non-empty), then tensors by name; the data is
    /// laid out widest element type first, then by name, so every tensor is aligned to its element size; the
    /// header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
    /// Throws `valueOutOfRange` when an integer tensor holds a value outside its element type, and
    /// `unwritable` for a reserved or empty tensor name (`path` is only used in these messages).
    public static func encode(_ tensors: [String: StoredTensor], metadata: [String: String] = [:], path: String = "") throws -> Data {
        struct Item { let name: String; let dtype: String; let width: Int; let tensor: StoredTensor }
        var items: [Item] = []
        for (name, t) in tensors {
            guard !name.isEmpty, name != "__metadata__" else {
                throw ModelFileError.unwritable(path: path, reason: "invalid tensor name '\(name)'")
            }
            switch t {
            case .float: items.append(Item(name: name, dtype: "F32", width: 4, tensor: t))
            case .integer(let i):
                if let bad = i.firstValueOutside(i.elementType) {
                    throw ModelFileError.valueOutOfRange(path: path, name: name,
                        reason: "value \(i.values[bad]) at flat index \(bad) does not fit in \(i.elementType.rawValue)")
                }
                items.append(Item(name: name, dtype: dtypeName(i.elementType), width: i.elementType.byteCount, tensor: t))
            }
        }
        let layout = items.sorted { ($1.width, $0.name) < ($0.width, $1.name) }
        var offsets: [String: (Int, Int)] = [:]
        var cursor = 0
        for item in layout {
            let bytes = item.tensor.shape.reduce(1, *) * item.width
            offsets[item.name] = (cursor, cursor + bytes)
            cursor += bytes
        }

        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            header += "}"
            first = false
        }
        for item in items.sorted(by: { $0.name < $1.name }) {
            let (b, e) = offsets[item.name]!
            if !first { header += "," }
            first = false
            header += "\(jsonString(item.name)):{\"dtype\":\"\(item.dtype)\",\"shape\":[\(item.tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(b),\(e)]}"
        }
        header += "}"
        var headerBytes = Data(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

        var out = Data()
        out.reserveCapacity(8 + headerBytes.count + cursor)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        for item in layout {
            switch item.tensor {
            case .float(let f): appendLittleEndian(f.values, to: &out)
            case .integer(let i): appendLittleEndian(i.values, as: i.elementType, to: &out)
            }
        }
        return out
    }

    /// Writes `tensors` and `metadata` to `path` (format as in `encode`), through a temporary file in the same
    /// directory renamed into place: on failure nothing is left behind and an existing file is untouched.
    public static func write(_ tensors: [String: StoredTensor], metadata: [String: String] = [:], to path: String) throws {
        try writeFileAtomically(try encode(tensors, metadata: metadata, path: path), to: path)
    }

    /// Writes float tensors (as F32) and `metadata` to `path`; see `write(_:metadata:to:)`.
    public static func write(_ tensors: [String: TensorData], metadata: [String: String] = [:], to path: String) throws {
        try write(tensors.mapValues { StoredTensor.float($0) }, metadata: metadata, to: path)
    }
}

// MARK: - A minimal JSON value for the header

/// Any JSON value; integers are kept apart from other numbers so offsets and shapes stay exact.
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), int(Int64), double(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

/// A short description of a JSON decoding error (the debug description, not Foundation's generic text).
func jsonErrorSummary(_ error: Error) -> String {
    if case DecodingError.dataCorrupted(let context) = error {
        let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
        return underlying ?? context.debugDescription
    }
    return "\(error)"
}

/// `s` as a JSON string literal (quotes, backslashes and control characters escaped; other text as UTF-8).
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
