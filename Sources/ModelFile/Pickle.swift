// A small unpickler: the part of Python's pickle protocol (2, plus the protocol-4 framing opcodes) that
// PyTorch state dicts use. It builds values only; globals, calls and persistent ids go through hooks that
// the checkpoint reader supplies, so nothing outside an explicit allow-list can be named or run.
// Opcode semantics: CPython Lib/pickle.py (`_Unpickler.load_*`) and Lib/pickletools.py (the opcode table).
import Foundation

/// A value built by the unpickler.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A global the hooks accepted (a class or function the checkpoint reader knows).
    case global(TorchGlobal)
    /// A storage, from a persistent id.
    case storage(TorchStorage)
    /// A tensor view of a storage, from `_rebuild_tensor_v2`.
    case tensor(TorchTensorView)

    /// Short name of the value's kind, for error messages.
    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let g): return "global \(g.qualifiedName)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// A Python list (a reference: the memo and the stack share it, as in Python).
final class PickleList { var items: [PickleValue] = [] }

/// A Python dict with its insertion order (a reference, like `PickleList`).
final class PickleDict { var entries: [(key: PickleValue, value: PickleValue)] = [] }

/// The opcodes of the pickle protocols, by byte, for messages (names as in pickletools).
let pickleOpcodeNames: [UInt8: String] = [
    0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
    0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID",
    0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
    0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
    0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6a: "LONG_BINGET",
    0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
    0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
    0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
    0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4", 0x42: "BINBYTES",
    0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8",
    0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL",
    0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
]

/// Runs a pickle program. `resolveGlobal`, `persistentLoad`, `call` (REDUCE and NEWOBJ) and `build` (BUILD)
/// decide what objects may exist; everything else is plain data. Errors name `path`.
struct Unpickler {
    let path: String
    let resolveGlobal: (_ module: String, _ name: String) throws -> PickleValue
    let persistentLoad: (_ pid: PickleValue) throws -> PickleValue
    let call: (_ callable: PickleValue, _ args: [PickleValue], _ opcode: String) throws -> PickleValue
    let build: (_ object: PickleValue, _ state: PickleValue) throws -> Void

    func load(_ bytes: [UInt8]) throws -> PickleValue {
        var pos = 0
        var stack: [PickleValue] = []
        var metastack: [[PickleValue]] = []
        var memo: [Int: PickleValue] = [:]

        func corrupt(_ reason: String) -> ModelFileError { .corrupt(path: path, reason: "pickle: \(reason)") }
        func take(_ n: Int, _ op: String) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - pos else { throw corrupt("data ends inside \(op) at byte \(pos)") }
            defer { pos += n }
            return bytes[pos..<(pos + n)]
        }
        func uint(_ n: Int, _ op: String) throws -> UInt64 {   // little-endian unsigned
            var v: UInt64 = 0
            for (k, b) in try take(n, op).enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
            return v
        }
        func utf8(_ n: Int, _ op: String) throws -> String {
            guard let s = String(bytes: try take(n, op), encoding: .utf8) else { throw corrupt("\(op) at byte \(pos - n) is not valid UTF-8") }
            return s
        }
        func line(_ op: String) throws -> String {   // GLOBAL's "module\nname\n" arguments
            guard let end = bytes[pos...].firstIndex(of: 0x0a) else { throw corrupt("data ends inside \(op) at byte \(pos)") }
            let s = String(decoding: bytes[pos..<end], as: UTF8.self)
            pos = end + 1
            return s
        }
        func pop(_ op: String) throws -> PickleValue {
            guard let v = stack.popLast() else { throw corrupt("stack underflow in \(op) at byte \(pos)") }
            return v
        }
        func popMark(_ op: String) throws -> [PickleValue] {
            guard let previous = metastack.popLast() else { throw corrupt("\(op) without MARK at byte \(pos)") }
            let items = stack
            stack = previous
            return items
        }
        func memoGet(_ index: Int, _ op: String) throws -> PickleValue {
            guard let v = memo[index] else { throw corrupt("\(op) of memo entry \(index) that was never stored") }
            return v
        }
        func setItems(_ dict: PickleValue, _ items: [PickleValue], _ op: String) throws {
            guard case .dict(let d) = dict else { throw corrupt("\(op) on a \(dict.kindName), not a dict") }
            guard items.count % 2 == 0 else { throw corrupt("\(op) with an odd number of items") }
            for k in stride(from: 0, to: items.count, by: 2) { d.entries.append((items[k], items[k + 1])) }
        }
        func append(_ list: PickleValue, _ items: [PickleValue], _ op: String) throws {
            guard case .list(let l) = list else { throw corrupt("\(op) on a \(list.kindName), not a list") }
            l.items.append(contentsOf: items)
        }

        while true {
            let start = pos
            let opcode = try take(1, "opcode").first!
            let name = pickleOpcodeNames[opcode] ?? "unknown"
            switch opcode {
            case 0x80: // PROTO
                let version = try take(1, name).first!
                guard version <= 5 else { throw ModelFileError.unsupportedPickle(path: path, reason: "pickle protocol \(version) (supported: up to 5)") }
            case 0x95: _ = try uint(8, name)                                  // FRAME: a length hint only
            case 0x2e: return try pop(name)                                    // STOP
            case 0x28: metastack.append(stack); stack = []                     // MARK
            case 0x7d: stack.append(.dict(PickleDict()))                       // EMPTY_DICT
            case 0x5d: stack.append(.list(PickleList()))                       // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                                // EMPTY_TUPLE
            case 0x4e: stack.append(.none)                                     // NONE
            case 0x88: stack.append(.bool(true))                               // NEWTRUE
            case 0x89: stack.append(.bool(false))                              // NEWFALSE
            case 0x4a: stack.append(.int(Int64(Int32(truncatingIfNeeded: try uint(4, name)))))  // BININT
            case 0x4b: stack.append(.int(Int64(try uint(1, name))))           // BININT1
            case 0x4d: stack.append(.int(Int64(try uint(2, name))))           // BININT2
            case 0x8a: // LONG1: little-endian two's complement of n bytes
                let n = Int(try uint(1, name))
                guard n <= 8 else {
                    throw ModelFileError.unsupportedPickle(path: path, reason: "LONG1 integer of \(n) bytes at byte \(start) (wider than 64 bits)")
                }
                let raw = try uint(n, name)
                let shift = UInt64(64 - 8 * n)
                stack.append(.int(n == 0 ? 0 : Int64(bitPattern: raw << shift) >> Int64(shift)))
            case 0x47: // BINFLOAT: big-endian IEEE double
                var v: UInt64 = 0
                for b in try take(8, name) { v = v << 8 | UInt64(b) }
                stack.append(.float(Double(bitPattern: v)))
            case 0x58: stack.append(.string(try utf8(Int(try uint(4, name)), name)))   // BINUNICODE
            case 0x8c: stack.append(.string(try utf8(Int(try uint(1, name)), name)))   // SHORT_BINUNICODE
            case 0x74: stack.append(.tuple(try popMark(name)))                 // TUPLE
            case 0x85: let a = try pop(name); stack.append(.tuple([a]))        // TUPLE1
            case 0x86: let b = try pop(name), a = try pop(name); stack.append(.tuple([a, b]))   // TUPLE2
            case 0x87: let c = try pop(name), b = try pop(name), a = try pop(name); stack.append(.tuple([a, b, c]))
            case 0x73: // SETITEM
                let value = try pop(name), key = try pop(name)
                guard let dict = stack.last else { throw corrupt("stack underflow in \(name) at byte \(start)") }
                try setItems(dict, [key, value], name)
            case 0x75: // SETITEMS
                let items = try popMark(name)
                guard let dict = stack.last else { throw corrupt("stack underflow in \(name) at byte \(start)") }
                try setItems(dict, items, name)
            case 0x61: // APPEND
                let value = try pop(name)
                guard let list = stack.last else { throw corrupt("stack underflow in \(name) at byte \(start)") }
                try append(list, [value], name)
            case 0x65: // APPENDS
                let items = try popMark(name)
                guard let list = stack.last else { throw corrupt("stack underflow in \(name) at byte \(start)") }
                try append(list, items, name)
            case 0x71, 0x72: // BINPUT, LONG_BINPUT
                let index = Int(try uint(opcode == 0x71 ? 1 : 4, name))
                guard let top = stack.last else { throw corrupt("stack underflow in \(name) at byte \(start)") }
                memo[index] = top
            case 0x94: // MEMOIZE
                guard let top = stack.last else { throw corrupt("stack underflow in \(name) at byte \(start)") }
                memo[memo.count] = top
            case 0x68, 0x6a: // BINGET, LONG_BINGET
                stack.append(try memoGet(Int(try uint(opcode == 0x68 ? 1 : 4, name)), name))
            case 0x63: // GLOBAL
                let module = try line(name), attribute = try line(name)
                stack.append(try resolveGlobal(module, attribute))
            case 0x93: // STACK_GLOBAL
                let attribute = try pop(name), module = try pop(name)
                guard case .string(let m) = module, case .string(let a) = attribute else {
                    throw corrupt("STACK_GLOBAL with non-string operands at byte \(start)")
                }
                stack.append(try resolveGlobal(m, a))
            case 0x52: // REDUCE
                let args = try pop(name), callable = try pop(name)
                guard case .tuple(let a) = args else { throw corrupt("REDUCE with \(args.kindName) arguments at byte \(start)") }
                stack.append(try call(callable, a, name))
            case 0x81: // NEWOBJ
                let args = try pop(name), cls = try pop(name)
                guard case .tuple(let a) = args else { throw corrupt("NEWOBJ with \(args.kindName) arguments at byte \(start)") }
                stack.append(try call(cls, a, name))
            case 0x62: // BUILD
                let state = try pop(name)
                guard let object = stack.last else { throw corrupt("stack underflow in \(name) at byte \(start)") }
                try build(object, state)
            case 0x51: // BINPERSID
                stack.append(try persistentLoad(try pop(name)))
            default:
                let hex = String(opcode, radix: 16, uppercase: false)
                throw ModelFileError.unsupportedPickle(path: path,
                    reason: "opcode \(name) (0x\(hex.count == 1 ? "0" + hex : hex)) at byte \(start) is not supported (a state dict does not need it)")
            }
        }
    }
}
