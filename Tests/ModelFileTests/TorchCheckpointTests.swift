// TorchCheckpoint: files written by torch.save (fixtures) read value for value; hand-made archives for the
// pickle rules and every bad input.
import Foundation
import XCTest
import ModelFile
import TestSupport

private struct StateDictExpected: Decodable {
    let tensors: [String: ExpectedTensor]
    let folded: [String: ExpectedTensor]
    let cpu_capability: String
}

private struct OtherExpected: Decodable {
    let protocol4: [String: ExpectedTensor]
    let nested: [String: ExpectedTensor]
}

final class TorchCheckpointTests: XCTestCase {
    func testStateDictMatchesTorchValues() throws {
        let path = modelFixture("state_dict.th")
        let checkpoint = try TorchCheckpoint.read(path: path)
        let expected = try loadExpected("state_dict_expected.json", as: StateDictExpected.self)
        XCTAssertNil(checkpoint.stateDictKey)
        XCTAssertEqual(Set(checkpoint.tensors.keys), Set(expected.tensors.keys))
        for (name, e) in expected.tensors { assertMatches(checkpoint.tensors[name], e, name) }
        XCTAssertEqual(checkpoint.scalars, ["steps": .int(12345)])
        XCTAssertEqual(checkpoint.skipped, [])
        // Element types as stored.
        XCTAssertEqual(checkpoint.tensors["i64"]?.integerData?.elementType, .int64)
        XCTAssertEqual(checkpoint.tensors["i32"]?.integerData?.elementType, .int32)
        XCTAssertEqual(checkpoint.tensors["i16"]?.integerData?.elementType, .int16)
        XCTAssertEqual(checkpoint.tensors["u8"]?.integerData?.elementType, .uint8)
        XCTAssertEqual(checkpoint.tensors["mask"]?.integerData?.elementType, .bool)
        // Views: the transposed tensor is [3, 4] in C order, the scalar has shape [], the empty one [0, 3].
        XCTAssertEqual(checkpoint.tensors["transposed"]?.shape, [3, 4])
        XCTAssertEqual(checkpoint.tensors["scalar"], .float(TensorData(shape: [], values: [3.5])))
        XCTAssertEqual(checkpoint.tensors["empty"]?.shape, [0, 3])
        // Stride 0 (an expanded tensor): each row repeats its one stored value.
        let expanded = try XCTUnwrap(checkpoint.tensors["expanded"]?.floatData)
        for r in 0..<3 { XCTAssertEqual(Set(expanded.values[(r * 4)..<(r * 4 + 4)]).count, 1) }
        // Shared storage: shared_a is elements 2..<7 of shared_b's storage.
        let a = try XCTUnwrap(checkpoint.tensors["shared_a"]?.floatData), b = try XCTUnwrap(checkpoint.tensors["shared_b"]?.floatData)
        XCTAssertEqual(a.values, Array(b.values[2..<7]))
        // floatTensors refuses the integer tensors, naming one.
        assertModelFileError(try checkpoint.floatTensors(), path: path, mentions: ["i16"]) {
            if case .unsupportedDType = $0 { return true }; return false
        }
    }

    func testProtocol4Checkpoint() throws {
        let checkpoint = try TorchCheckpoint.read(path: modelFixture("protocol4.th"))
        let expected = try loadExpected("other_expected.json", as: OtherExpected.self)
        XCTAssertEqual(Set(checkpoint.tensors.keys), Set(expected.protocol4.keys))
        for (name, e) in expected.protocol4 { assertMatches(checkpoint.tensors[name], e, name) }
    }

    func testNestedStateDictParameterAndScalars() throws {
        let checkpoint = try TorchCheckpoint.read(path: modelFixture("nested.pt"))
        let expected = try loadExpected("other_expected.json", as: OtherExpected.self)
        XCTAssertEqual(checkpoint.stateDictKey, "state_dict")
        XCTAssertEqual(Set(checkpoint.tensors.keys), ["w", "block.bias"])
        for (name, e) in expected.nested { assertMatches(checkpoint.tensors[name], e, name) }
        XCTAssertEqual(checkpoint.scalars, ["block.count": .int(4)])
        XCTAssertEqual(checkpoint.skipped, ["epoch", "flag", "history", "lr", "name", "nothing", "optimizer"])
    }

    // MARK: Bad files written by torch.save

    func testUnsupportedOpcodeIsNamed() {
        let path = modelFixture("bad_opcode.th")
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["EMPTY_SET", "0x8f"]) {
            if case .unsupportedPickle = $0 { return true }; return false
        }
    }

    func testUnknownGlobalIsNamed() {
        let path = modelFixture("bad_global.th")
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["torch.device"]) {
            if case .unsupportedPickle = $0 { return true }; return false
        }
    }

    func testLegacyFormatIsRefused() {
        let path = modelFixture("legacy.th")
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["legacy"]) {
            if case .unsupportedVersion = $0 { return true }; return false
        }
    }

    func testTruncatedCheckpoint() throws {
        let dir = TemporaryDirectory()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: modelFixture("state_dict.th")))
        for keep in [0, 100, bytes.count / 2, bytes.count - 10] {
            let path = dir.path("truncated-\(keep).th")
            try bytes.prefix(keep).write(to: URL(fileURLWithPath: path))
            assertModelFileError(try TorchCheckpoint.read(path: path), path: path) {
                if case .corrupt = $0 { return true }; return false
            }
        }
    }

    func testDamagedStorageFailsItsCRC() throws {
        let dir = TemporaryDirectory()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: modelFixture("state_dict.th"))))
        // Find the local header of "state_dict/data/0" and flip a byte of its data.
        let name = Array("state_dict/data/0".utf8)
        var at = -1
        for i in 0..<(bytes.count - 30 - name.count) where bytes[i] == 0x50 && bytes[i + 1] == 0x4b && bytes[i + 2] == 3 && bytes[i + 3] == 4 {
            let nameLength = Int(bytes[i + 26]) | Int(bytes[i + 27]) << 8
            let extraLength = Int(bytes[i + 28]) | Int(bytes[i + 29]) << 8
            if nameLength == name.count && Array(bytes[(i + 30)..<(i + 30 + nameLength)]) == name {
                at = i + 30 + nameLength + extraLength
            }
        }
        XCTAssertGreaterThan(at, 0)
        bytes[at + 1] ^= 0x40
        let path = dir.path("damaged.th")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["CRC"]) {
            if case .corrupt = $0 { return true }; return false
        }
    }

    func testMissingFileAndDirectory() {
        let dir = TemporaryDirectory()
        assertModelFileError(try TorchCheckpoint.read(path: dir.path("none.th")), path: dir.path("none.th")) {
            if case .unreadable = $0 { return true }; return false
        }
        assertModelFileError(try TorchCheckpoint.read(path: dir.url.path), path: dir.url.path) {
            if case .unreadable = $0 { return true }; return false
        }
    }

    func testNotAZip() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("text.th")
        try Data("hello, not a checkpoint\n".utf8).write(to: URL(fileURLWithPath: path))
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["zip"]) {
            if case .corrupt = $0 { return true }; return false
        }
    }

    // MARK: Hand-made archives

    func testHandMadeStridedViewAndBigEndianStorage() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("strided.th")
        // Storage 0..<12; view offset 1, size [2, 3], stride [5, 2] → [[1, 3, 5], [6, 8, 10]].
        let pickle = P.proto + P.dict([("v", P.tensor(key: "0", numel: 12, offset: 1, size: [2, 3], stride: [5, 2]))]) + P.stop
        let storage = (0..<12).flatMap { withUnsafeBytes(of: Float($0).bitPattern.bigEndian, Array.init) }
        try writeTorchArchive(path, pickle: pickle, storages: [("0", storage)], byteorder: "big")
        let checkpoint = try TorchCheckpoint.read(path: path)
        XCTAssertEqual(checkpoint.tensors["v"], .float(TensorData(shape: [2, 3], values: [1, 3, 5, 6, 8, 10])))
    }

    func testHandMadeViewPastStorage() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("past.th")
        let pickle = P.proto + P.dict([("enc.w", P.tensor(key: "0", numel: 4, offset: 2, size: [3], stride: [1]))]) + P.stop
        try writeTorchArchive(path, pickle: pickle, storages: [("0", leBytes([1, 2, 3, 4]))])
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["enc.w", "storage '0'"]) {
            if case .corruptTensor(_, "enc.w", _) = $0 { return true }; return false
        }
    }

    func testHandMadeShortStorage() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("short.th")
        let pickle = P.proto + P.dict([("w", P.tensor(key: "0", numel: 4, offset: 0, size: [4], stride: [1]))]) + P.stop
        try writeTorchArchive(path, pickle: pickle, storages: [("0", leBytes([1, 2, 3]))])
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["'w'", "12 bytes", "16"]) {
            if case .corruptTensor(_, "w", _) = $0 { return true }; return false
        }
    }

    func testHandMadeMissingStorage() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("nostorage.th")
        let pickle = P.proto + P.dict([("w", P.tensor(key: "7", numel: 1, offset: 0, size: [1], stride: [1]))]) + P.stop
        try writeTorchArchive(path, pickle: pickle, storages: [])
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["storage '7'"]) {
            if case .corrupt = $0 { return true }; return false
        }
    }

    func testHandMadeUnknownOpcodeAndStorageType() throws {
        let dir = TemporaryDirectory()
        let popPath = dir.path("pop.th")   // POP (0x30) is valid pickle but not in our subset
        try writeTorchArchive(popPath, pickle: P.proto + P.emptyDict + P.emptyDict + [0x30] + P.stop, storages: [])
        assertModelFileError(try TorchCheckpoint.read(path: popPath), path: popPath, mentions: ["POP", "0x30", "byte 4"]) {
            if case .unsupportedPickle = $0 { return true }; return false
        }
        let complexPath = dir.path("complex.th")
        let pickle = P.proto + P.dict([("w", P.tensor(storageType: "ComplexFloatStorage", key: "0", numel: 1, offset: 0, size: [1], stride: [1]))]) + P.stop
        try writeTorchArchive(complexPath, pickle: pickle, storages: [("0", leBytes([1, 2]))])
        assertModelFileError(try TorchCheckpoint.read(path: complexPath), path: complexPath, mentions: ["torch.ComplexFloatStorage"]) {
            if case .unsupportedPickle = $0 { return true }; return false
        }
    }

    func testHandMadeMalformedPickles() throws {
        let dir = TemporaryDirectory()
        let cases: [(String, [UInt8], String)] = [
            ("underflow", P.proto + P.setitem + P.stop, "underflow"),
            ("unterminated", P.proto + P.str("abc").dropLast(2), "ends inside BINUNICODE"),
            ("nomark", P.proto + P.emptyDict + P.setitems + P.stop, "without MARK"),
            ("badmemo", P.proto + [0x68, 9] + P.stop, "memo entry 9"),
        ]
        for (name, pickle, words) in cases {
            let path = dir.path("\(name).th")
            try writeTorchArchive(path, pickle: Array(pickle), storages: [])
            assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: [words]) {
                if case .corrupt = $0 { return true }; return false
            }
        }
        let notDict = dir.path("list.th")
        try writeTorchArchive(notDict, pickle: P.proto + [0x5d] + P.stop, storages: [])
        assertModelFileError(try TorchCheckpoint.read(path: notDict), path: notDict, mentions: ["list"]) {
            if case .corrupt = $0 { return true }; return false
        }
    }

    func testZipWithoutDataPickle() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("other.zip")
        try makeZip([("readme.txt", Array("hi".utf8))]).write(to: URL(fileURLWithPath: path))
        assertModelFileError(try TorchCheckpoint.read(path: path), path: path, mentions: ["data.pkl"]) {
            if case .corrupt = $0 { return true }; return false
        }
    }
}
