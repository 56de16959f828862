// Helpers for the ModelFile tests: fixture paths, the expected-values JSON written by
// scripts/make-modelfile-fixtures.py, error assertions, and a minimal zip writer for hand-made checkpoints.
import Foundation
import XCTest
import ModelFile
import TestSupport

/// Path of a file in Tests/Fixtures/modelfile.
func modelFixture(_ name: String) -> String {
    RepoPaths.fixtures.appendingPathComponent("modelfile").appendingPathComponent(name).path
}

/// One tensor's expected values: float tensors as Float32 bit patterns, integer tensors as integers.
struct ExpectedTensor: Decodable {
    let shape: [Int]
    let kind: String
    let bits: [UInt32]?
    let values: [Int64]?
}

func loadExpected<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let data = try Data(contentsOf: URL(fileURLWithPath: modelFixture(name)))
    return try JSONDecoder().decode(T.self, from: data)
}

/// Fails unless `tensor` holds exactly the expected shape and values (float bits compared exactly).
func assertMatches(_ tensor: StoredTensor?, _ expected: ExpectedTensor, _ name: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    guard let tensor else { return XCTFail("\(name): missing", file: file, line: line) }
    XCTAssertEqual(tensor.shape, expected.shape, "\(name): shape", file: file, line: line)
    switch (tensor, expected.kind) {
    case (.float(let t), "float"):
        XCTAssertEqual(t.values.map(\.bitPattern), expected.bits!, "\(name): values", file: file, line: line)
    case (.integer(let t), "int"):
        XCTAssertEqual(t.values, expected.values!, "\(name): values", file: file, line: line)
    default:
        XCTFail("\(name): kind \(tensor) vs expected \(expected.kind)", file: file, line: line)
    }
}

func floats(_ e: ExpectedTensor) -> [Float] { e.bits!.map(Float.init(bitPattern:)) }

/// Runs `body`, which must throw a `ModelFileError` for which `matches` holds and whose message names
/// the file `path` (and `mentions`, when given). Returns the error for further checks.
@discardableResult
func assertModelFileError<T>(_ body: @autoclosure () throws -> T, path: String, mentions: [String] = [],
                             file: StaticString = #filePath, line: UInt = #line,
                             _ matches: (ModelFileError) -> Bool) -> ModelFileError? {
    do {
        _ = try body()
        XCTFail("expected a ModelFileError, got a result", file: file, line: line)
    } catch let error as ModelFileError {
        XCTAssertTrue(matches(error), "unexpected error case: \(error)", file: file, line: line)
        XCTAssertTrue(error.description.contains(path), "message does not name the file: \(error)", file: file, line: line)
        XCTAssertEqual(error.path, path, file: file, line: line)
        for word in mentions {
            XCTAssertTrue(error.description.contains(word), "message does not mention '\(word)': \(error)", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("expected a ModelFileError, got \(error)", file: file, line: line)
    }
    return nil
}

// MARK: - A minimal zip writer (stored entries), to hand-make torch.save-like archives

private let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}

/// A zip archive of uncompressed entries (what torch.save writes), built in memory.
func makeZip(_ entries: [(name: String, bytes: [UInt8])]) -> Data {
    var out = [UInt8]()
    var central = [UInt8]()
    func u16(_ v: Int, _ a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    func u32(_ v: UInt32, _ a: inout [UInt8]) { for k in 0..<4 { a.append(UInt8((v >> (8 * UInt32(k))) & 0xFF)) } }
    for (name, bytes) in entries {
        let offset = UInt32(out.count)
        let nameBytes = Array(name.utf8)
        let crc = crc32(bytes)
        u32(0x0403_4b50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0, &out)
        u32(crc, &out); u32(UInt32(bytes.count), &out); u32(UInt32(bytes.count), &out)
        u16(nameBytes.count, &out); u16(0, &out); out += nameBytes; out += bytes
        u32(0x0201_4b50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
        u16(0, &central); u16(0, &central); u32(crc, &central); u32(UInt32(bytes.count), &central)
        u32(UInt32(bytes.count), &central); u16(nameBytes.count, &central); u16(0, &central); u16(0, &central)
        u16(0, &central); u16(0, &central); u32(0, &central); u32(offset, &central); central += nameBytes
    }
    let centralOffset = UInt32(out.count)
    out += central
    u32(0x0605_4b50, &out); u16(0, &out); u16(0, &out); u16(entries.count, &out); u16(entries.count, &out)
    u32(UInt32(central.count), &out); u32(centralOffset, &out); u16(0, &out)
    return Data(out)
}

/// Pickle building blocks (protocol 2) for hand-made state dicts.
enum P {
    static let proto: [UInt8] = [0x80, 0x02]
    static let mark: [UInt8] = [0x28]
    static let stop: [UInt8] = [0x2e]
    static let emptyDict: [UInt8] = [0x7d]
    static let emptyTuple: [UInt8] = [0x29]
    static let setitems: [UInt8] = [0x75]
    static let setitem: [UInt8] = [0x73]
    static let tuple: [UInt8] = [0x74]
    static let reduce: [UInt8] = [0x52]
    static let binpersid: [UInt8] = [0x51]
    static let newFalse: [UInt8] = [0x89]
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static func str(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(b.count).littleEndian, Array.init) + b
    }
    static func int(_ v: Int) -> [UInt8] { [0x4a] + withUnsafeBytes(of: Int32(v).littleEndian, Array.init) }
    static func ints(_ vs: [Int]) -> [UInt8] { mark + vs.flatMap(int) + tuple }

    /// `_rebuild_tensor_v2(('storage', <type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`.
    static func tensor(storageType: String = "FloatStorage", key: String, numel: Int,
                       offset: Int, size: [Int], stride: [Int]) -> [UInt8] {
        global("torch._utils", "_rebuild_tensor_v2") + mark
            + mark + str("storage") + global("torch", storageType) + str(key) + str("cpu") + int(numel) + tuple + binpersid
            + int(offset) + ints(size) + ints(stride) + newFalse
            + global("collections", "OrderedDict") + emptyTuple + reduce
            + tuple + reduce
    }

    /// A dict {name: value-bytes, …} built with EMPTY_DICT, MARK, SETITEMS.
    static func dict(_ items: [(String, [UInt8])]) -> [UInt8] {
        emptyDict + mark + items.flatMap { str($0.0) + $0.1 } + setitems
    }
}

/// Float32 values as little-endian bytes.
func leBytes(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

/// Writes a torch.save-like archive `archive/…` holding `pickle` and `storages` (key → bytes) to `path`.
func writeTorchArchive(_ path: String, pickle: [UInt8], storages: [(String, [UInt8])], byteorder: String = "little") throws {
    var entries: [(name: String, bytes: [UInt8])] = [("archive/data.pkl", pickle), ("archive/byteorder", Array(byteorder.utf8))]
    for (key, bytes) in storages { entries.append(("archive/data/\(key)", bytes)) }
    entries.append(("archive/version", Array("3\n".utf8)))
    try makeZip(entries).write(to: URL(fileURLWithPath: path))
}
