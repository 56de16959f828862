// PyTorch checkpoints as `torch.save` writes them since 1.6: a zip holding `<archive>/data.pkl` (a pickled
// state dict), `<archive>/data/<key>` (one file per storage), `<archive>/byteorder` and `<archive>/version`.
// Mirrors torch/serialization.py `_load` (persistent ids) and torch/_utils.py `_rebuild_tensor_v2`.
import Foundation
import ZIPFoundation

/// A non-tensor value found in a checkpoint (an epoch counter, a config string, a flag).
public enum CheckpointScalar: Equatable, Sendable {
    case int(Int64), float(Double), string(String), bool(Bool), none
}

/// A `.th`/`.pt` checkpoint written by `torch.save`, read without Python.
///
/// **Which dict is the state dict.** If the pickled top-level dict holds tensors directly (as EnCodec's
/// released checkpoints do: `torch.save(model.state_dict())`), it is the state dict. Otherwise, the first of
/// `stateDictKeys` (`state_dict`, `model_state_dict`, `model`, `best_state`, `state`, `module`) whose value is a
/// dict holding tensors is used, and `stateDictKey` says which. Nested dicts inside the state dict are
/// flattened with dotted names (`{"encoder": {"w": t}}` → `encoder.w`).
///
/// **What is kept.** `tensors`: every tensor (floats converted to Float32; Long/Int/Short/Char/Byte/Bool as
/// integers), each materialized in C order, whatever its storage offset and strides (transposed and other
/// non-contiguous views, and views sharing one storage, each get their own values). `scalars`: ints,
/// floats, strings, bools and None found beside the tensors. `skipped`: names of other entries (lists,
/// tuples, and every top-level entry outside the chosen state dict), which are not loaded.
///
/// **What is refused.** The pre-1.6 (non-zip) format and TorchScript archives (`unsupportedVersion`/`corrupt`),
/// any pickle opcode or global outside what state dicts use (`unsupportedPickle`, naming it), storages that are
/// missing, short or fail their CRC (`corrupt`/`corruptTensor`).
public struct TorchCheckpoint: Sendable {
    public var path: String
    public var tensors: [String: StoredTensor]
    public var scalars: [String: CheckpointScalar]
    public var skipped: [String]
    /// The top-level key the state dict was found under, or nil when the top level is the state dict.
    public var stateDictKey: String?

    /// Keys searched, in order, for a nested state dict.
    public static let stateDictKeys = ["state_dict", "model_state_dict", "model", "best_state", "state", "module"]

    /// All tensors as floats; throws `unsupportedDType` naming the first (by name) integer tensor.
    public func floatTensors() throws -> [String: TensorData] {
        var out: [String: TensorData] = [:]
        for name in tensors.keys.sorted() {
            switch tensors[name]! {
            case .float(let t): out[name] = t
            case .integer(let t):
                throw ModelFileError.unsupportedDType(path: path, name: name,
                    dtype: "\(t.elementType.rawValue) (expected a floating-point tensor)")
            }
        }
        return out
    }

    /// Shape of every tensor, for `verifyTensors`.
    public var shapes: [String: [Int]] { tensors.mapValues(\.shape) }

    /// Reads a checkpoint; see the type's documentation for what is accepted.
    public static func read(path: String) throws -> TorchCheckpoint {
        try TorchArchiveReader(path: path).read()
    }
}

// MARK: - Globals, storages and tensor views

/// The globals a state dict pickle may name.
enum TorchGlobal {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case rebuildParameterWithState
    case storageType(name: String, kind: ElementKind)

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .storageType(let name, _): return "torch.\(name)"
        }
    }

    /// The storage classes torch.save names (torch/storage.py legacy typed storages) and their elements.
    static let storageKinds: [String: ElementKind] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "LongStorage": .integer(.int64), "IntStorage": .integer(.int32), "ShortStorage": .integer(.int16),
        "CharStorage": .integer(.int8), "ByteStorage": .integer(.uint8), "BoolStorage": .integer(.bool),
    ]

    static func resolve(module: String, name: String) -> TorchGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch", _): return storageKinds[name].map { .storageType(name: name, kind: $0) }
        default: return nil
        }
    }
}

/// One storage of the archive (`<archive>/data/<key>`), decoded once however many tensors view it.
final class TorchStorage {
    let key: String
    let kind: ElementKind
    let typeName: String
    /// Element count from the persistent id.
    let count: Int
    let entryPath: String
    var floats: [Float]?
    var integers: [Int64]?
    init(key: String, kind: ElementKind, typeName: String, count: Int, entryPath: String) {
        self.key = key; self.kind = kind; self.typeName = typeName; self.count = count; self.entryPath = entryPath
    }
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`: a strided view of a storage.
struct TorchTensorView {
    let storage: TorchStorage
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

// MARK: - The reader

/// Reads one archive; holds the zip and the storage cache while the pickle runs.
private final class TorchArchiveReader {
    let path: String
    var archive: Archive!
    var prefix = ""
    var bigEndian = false
    var storages: [String: TorchStorage] = [:]

    init(path: String) { self.path = path }

    func read() throws -> TorchCheckpoint {
        try openArchive()
        let pickle = try entryData("\(prefix)/data.pkl")
        let unpickler = Unpickler(
            path: path,
            resolveGlobal: { [path] module, name in
                guard let g = TorchGlobal.resolve(module: module, name: name) else {
                    throw ModelFileError.unsupportedPickle(path: path,
                        reason: "global '\(module).\(name)' is not supported (a state dict only uses collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.*Storage types)")
                }
                return .global(g)
            },
            persistentLoad: { [unowned self] pid in try self.persistentLoad(pid) },
            call: { [path] callable, args, opcode in try TorchArchiveReader.call(callable, args, opcode: opcode, path: path) },
            build: { [path] object, _ in
                // BUILD sets attributes: a state dict's `_metadata` (module versions) or a parameter's state.
                // They do not change tensor values, so they are dropped.
                switch object {
                case .dict, .tensor: return
                default: throw ModelFileError.unsupportedPickle(path: path, reason: "BUILD on a \(object.kindName)")
                }
            })
        let root = try unpickler.load(pickle)
        return try interpret(root)
    }

    // Opens the zip, finds `<archive>/data.pkl`, reads the byte order.
    private func openArchive() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelFileError.unreadable(path: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw ModelFileError.unreadable(path: path, reason: "is a directory") }
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read, pathEncoding: nil)
        } catch {
            // torch.save before 1.6 wrote a bare pickle: PROTO 2, then the magic number as a LONG1.
            if let head = try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).readData(ofLength: 3),
               head.count == 3, head[head.startIndex] == 0x80, head[head.startIndex + 2] == 0x8a {
                throw ModelFileError.unsupportedVersion(path: path, found: "legacy (pre-1.6, non-zip) torch.save format",
                    supported: "the zip format of torch.save since PyTorch 1.6 (load and re-save the file with a recent PyTorch)")
            }
            throw ModelFileError.corrupt(path: path, reason: "not a PyTorch checkpoint: not a readable zip archive (truncated or another format)")
        }
        var names: [String] = []
        for entry in archive { names.append(entry.path) }
        let pickles = names.filter { n in
            let parts = n.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl"
        }
        guard let pickleName = pickles.sorted().first else {
            if names.contains(where: { $0.hasSuffix("/constants.pkl") || $0.contains("/code/") }) {
                throw ModelFileError.corrupt(path: path, reason: "a TorchScript archive (torch.jit.save), not a torch.save state dict")
            }
            throw ModelFileError.corrupt(path: path, reason: "zip archive has no <archive>/data.pkl (not a torch.save checkpoint)")
        }
        prefix = String(pickleName.dropLast("/data.pkl".count))
        if archive["\(prefix)/byteorder"] != nil {
            let order = String(decoding: try entryData("\(prefix)/byteorder"), as: UTF8.self)
            switch order {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default: throw ModelFileError.corrupt(path: path, reason: "byteorder record is '\(order)' (expected little or big)")
            }
        }
    }

    /// The bytes of one zip entry, CRC-checked.
    private func entryData(_ name: String) throws -> [UInt8] {
        guard let entry = archive[name] else {
            throw ModelFileError.corrupt(path: path, reason: "archive has no entry '\(name)'")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(clamping: min(entry.uncompressedSize, 1 << 28)))  // a damaged header may claim any size
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry, bufferSize: 1 << 20, skipCRC32: false) { chunk in bytes.append(contentsOf: chunk) }
        } catch {
            throw ModelFileError.corrupt(path: path, reason: "cannot extract '\(name)' (\(error))")
        }
        guard checksum == entry.checksum else {
            throw ModelFileError.corrupt(path: path, reason: "entry '\(name)' fails its CRC-32 check (damaged file)")
        }
        return bytes
    }

    // BINPERSID: ('storage', storage_type, key, location, numel) → the storage, shared by key.
    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = pid, t.count == 5, case .string("storage") = t[0] else {
            throw ModelFileError.unsupportedPickle(path: path, reason: "persistent id \(describe(pid)) (expected ('storage', type, key, location, numel))")
        }
        guard case .global(.storageType(let typeName, let kind)) = t[1] else {
            throw ModelFileError.unsupportedPickle(path: path, reason: "persistent id names \(t[1].kindName), not a torch storage type")
        }
        guard case .string(let key) = t[2], case .string = t[3], case .int(let numel) = t[4], numel >= 0 else {
            throw ModelFileError.corrupt(path: path, reason: "persistent id \(describe(pid)) has the wrong field types")
        }
        if let s = storages[key] {
            guard s.kind == kind else {
                throw ModelFileError.corrupt(path: path, reason: "storage '\(key)' is named as both \(s.typeName) and \(typeName)")
            }
            return .storage(s)
        }
        let entryPath = "\(prefix)/data/\(key)"
        guard archive[entryPath] != nil else {
            throw ModelFileError.corrupt(path: path, reason: "storage '\(key)' is missing from the archive (no '\(entryPath)')")
        }
        let s = TorchStorage(key: key, kind: kind, typeName: typeName, count: Int(numel), entryPath: entryPath)
        storages[key] = s
        return .storage(s)
    }

    // REDUCE / NEWOBJ on an allowed global.
    private static func call(_ callable: PickleValue, _ args: [PickleValue], opcode: String, path: String) throws -> PickleValue {
        guard case .global(let g) = callable else {
            throw ModelFileError.unsupportedPickle(path: path, reason: "\(opcode) on a \(callable.kindName), not a known global")
        }
        func bad(_ reason: String) -> ModelFileError { .corrupt(path: path, reason: "pickle: \(g.qualifiedName)\(reason)") }
        switch g {
        case .orderedDict:
            guard args.isEmpty else { throw ModelFileError.unsupportedPickle(path: path, reason: "collections.OrderedDict called with arguments") }
            return .dict(PickleDict())
        case .rebuildTensorV2:
            guard opcode == "REDUCE", args.count >= 6, args.count <= 7 else { throw bad(" with \(args.count) arguments") }
            guard case .storage(let storage) = args[0] else { throw bad(": first argument is a \(args[0].kindName), not a storage") }
            guard case .int(let offset) = args[1], offset >= 0 else { throw bad(": storage offset is not a non-negative int") }
            guard let shape = intTuple(args[2]), let strides = intTuple(args[3]), shape.count == strides.count else {
                throw bad(": size and stride are not int tuples of one length")
            }
            guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else { throw bad(": negative size or stride") }
            return .tensor(TorchTensorView(storage: storage, offset: Int(offset), shape: shape, strides: strides))
        case .rebuildParameter, .rebuildParameterWithState:
            guard opcode == "REDUCE", args.count >= 3, case .tensor = args[0] else { throw bad(" without a tensor argument") }
            return args[0]
        case .storageType(let name, _):
            throw ModelFileError.unsupportedPickle(path: path, reason: "\(opcode) on torch.\(name) (storages come from persistent ids)")
        }
    }

    private static func intTuple(_ v: PickleValue) -> [Int]? {
        guard case .tuple(let items) = v else { return nil }
        var out: [Int] = []
        for item in items {
            guard case .int(let i) = item else { return nil }
            out.append(Int(i))
        }
        return out
    }

    private func describe(_ v: PickleValue) -> String {
        switch v {
        case .string(let s): return "'\(s)'"
        case .int(let i): return "\(i)"
        case .tuple(let items): return "(" + items.map(describe).joined(separator: ", ") + ")"
        default: return v.kindName
        }
    }

    // MARK: Interpreting the unpickled object

    private func interpret(_ root: PickleValue) throws -> TorchCheckpoint {
        guard case .dict(let top) = root else {
            throw ModelFileError.corrupt(path: path, reason: "the checkpoint holds a \(root.kindName), not a dict of tensors")
        }
        var stateDict = top
        var stateDictKey: String? = nil
        var skipped: [String] = []
        let holdsTensorsDirectly = top.entries.contains { if case .tensor = $0.value { return true }; return false }
        if !holdsTensorsDirectly {
            for key in TorchCheckpoint.stateDictKeys {
                if let entry = top.entries.last(where: { keyName($0.key) == key }),
                   case .dict(let inner) = entry.value, containsTensor(.dict(inner)) {
                    stateDict = inner
                    stateDictKey = key
                    skipped = top.entries.map { keyName($0.key) }.filter { $0 != key }
                    break
                }
            }
        }
        var tensors: [String: StoredTensor] = [:]
        var scalars: [String: CheckpointScalar] = [:]
        try flatten(stateDict, prefix: "", tensors: &tensors, scalars: &scalars, skipped: &skipped)
        return TorchCheckpoint(path: path, tensors: tensors, scalars: scalars, skipped: skipped.sorted(),
                               stateDictKey: stateDictKey)
    }

    private func keyName(_ key: PickleValue) -> String {
        switch key {
        case .string(let s): return s
        case .int(let i): return "\(i)"
        case .bool(let b): return b ? "True" : "False"
        case .float(let f): return "\(f)"
        case .none: return "None"
        default: return "<\(key.kindName)>"
        }
    }

    private func containsTensor(_ v: PickleValue) -> Bool {
        switch v {
        case .tensor: return true
        case .dict(let d): return d.entries.contains { containsTensor($0.value) }
        default: return false
        }
    }

    private func flatten(_ dict: PickleDict, prefix: String, tensors: inout [String: StoredTensor],
                         scalars: inout [String: CheckpointScalar], skipped: inout [String]) throws {
        for (key, value) in dict.entries {
            let name = prefix + keyName(key)
            switch value {
            case .tensor(let view): tensors[name] = try materialize(view, name: name)
            case .dict(let inner): try flatten(inner, prefix: name + ".", tensors: &tensors, scalars: &scalars, skipped: &skipped)
            case .int(let i): scalars[name] = .int(i)
            case .float(let f): scalars[name] = .float(f)
            case .string(let s): scalars[name] = .string(s)
            case .bool(let b): scalars[name] = .bool(b)
            case .none: scalars[name] = CheckpointScalar.none
            default: skipped.append(name)
            }
        }
    }

    /// The tensor's values in C order: element (i0, …) = storage[offset + Σ ik·stride_k].
    private func materialize(_ view: TorchTensorView, name: String) throws -> StoredTensor {
        let storage = view.storage
        try decode(storage, name: name)
        // Stride-0 views (expanded tensors) may hold more elements than their storage, but not absurdly many.
        guard let count = checkedElementCount(view.shape), count <= max(storage.count, 1 << 31) else {
            throw ModelFileError.corruptTensor(path: path, name: name, reason: "size \(view.shape) is too large")
        }
        if count > 0 {
            guard let top = largestStridedIndex(shape: view.shape, strides: view.strides, offset: view.offset),
                  top < storage.count else {
                throw ModelFileError.corruptTensor(path: path, name: name,
                    reason: "view (offset \(view.offset), size \(view.shape), stride \(view.strides)) reaches past storage '\(storage.key)' of \(storage.count) elements")
            }
        }
        let contiguous = view.offset == 0 && count == storage.count && view.strides == contiguousStrides(view.shape)
        switch storage.kind {
        case .integer(let t):
            let all = storage.integers!
            let values = contiguous ? all : gatherStrided(all, shape: view.shape, strides: view.strides, offset: view.offset)
            return .integer(IntTensorData(shape: view.shape, values: values, elementType: t))
        default:
            let all = storage.floats!
            let values = contiguous ? all : gatherStrided(all, shape: view.shape, strides: view.strides, offset: view.offset)
            return .float(TensorData(shape: view.shape, values: values))
        }
    }

    /// Reads and decodes a storage once (its size must be numel × element size).
    private func decode(_ storage: TorchStorage, name: String) throws {
        if storage.floats != nil || storage.integers != nil { return }
        let bytes = try entryData(storage.entryPath)
        let (needed, overflow) = storage.count.multipliedReportingOverflow(by: storage.kind.byteCount)
        guard !overflow, bytes.count == needed else {
            throw ModelFileError.corruptTensor(path: path, name: name,
                reason: "storage '\(storage.key)' holds \(bytes.count) bytes, expected \(storage.count) × \(storage.kind.byteCount) = \(needed) (\(storage.typeName))")
        }
        bytes.withUnsafeBytes { raw in
            switch storage.kind {
            case .integer(let t): storage.integers = decodeIntegers(raw, type: t, count: storage.count, bigEndian: bigEndian)
            default: storage.floats = decodeFloats(raw, kind: storage.kind, count: storage.count, bigEndian: bigEndian)
            }
        }
    }
}

/// Row-major strides (in elements) of `shape`.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for k in stride(from: shape.count - 1, through: 0, by: -1) { strides[k] = s; s *= shape[k] }
    return strides
}
