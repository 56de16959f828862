// SafeTensors: a file made by the reference package read value for value, round trips, and every bad header.
import Foundation
import XCTest
import ModelFile
import TestSupport

private struct ReferenceExpected: Decodable {
    let tensors: [String: ExpectedTensor]
    let metadata: [String: String]
}

/// A safetensors file from a header string and raw data bytes.
private func safetensorsBytes(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> Data {
    let h = Array(header.utf8)
    return Data(withUnsafeBytes(of: (declaredLength ?? UInt64(h.count)).littleEndian, Array.init) + h + data)
}

final class SafeTensorsTests: XCTestCase {
    func testReadsReferenceFileExactly() throws {
        let file = try SafeTensors.read(path: modelFixture("reference.safetensors"))
        let expected = try loadExpected("reference_expected.json", as: ReferenceExpected.self)
        XCTAssertEqual(Set(file.tensors.keys), Set(expected.tensors.keys))
        for (name, e) in expected.tensors { assertMatches(file.tensors[name], e, name) }
        XCTAssertEqual(file.metadata, expected.metadata)
        XCTAssertEqual(file.storedDTypes["bf16"], "BF16")
        XCTAssertEqual(file.storedDTypes["f64"], "F64")
        XCTAssertEqual(file.tensors["i8"]?.integerData?.elementType, .int8)
        XCTAssertEqual(try checkFormatVersion(file.metadata, supported: 1...1, path: file.path), 1)
        XCTAssertEqual(try file.float("scalar"), TensorData(shape: [], values: [-1.25]))
        assertModelFileError(try file.float("i32"), path: file.path, mentions: ["i32", "I32"]) {
            if case .unsupportedDType = $0 { return true }; return false
        }
        assertModelFileError(try file.integer("f32"), path: file.path, mentions: ["f32"]) {
            if case .unsupportedDType = $0 { return true }; return false
        }
        assertModelFileError(try file.float("nope"), path: file.path, mentions: ["nope"]) {
            if case .missingTensor = $0 { return true }; return false
        }
    }

    func testRoundTripWithMetadataAndIntegers() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("model.safetensors")
        var rng = SeededRNG(seed: 7)
        let tensors: [String: StoredTensor] = [
            "encoder.conv.weight": .float(TensorData(shape: [4, 3, 5], values: rng.floats(60))),
            "encoder.conv.bias": .float(TensorData(shape: [4], values: [0, -0.0, .infinity, Float(bitPattern: 0x0000_1234)])),
            "codes16": .integer(IntTensorData(shape: [2, 3], values: [-32768, 32767, 0, 1, -1, 5], elementType: .int16)),
            "codes32": .integer(IntTensorData(shape: [3], int32Values: [Int32.min, Int32.max, 7])),
            "counts": .integer(IntTensorData(shape: [2], values: [Int64.min, Int64.max])),
            "flags": .integer(IntTensorData(shape: [3], values: [1, 0, 1], elementType: .uint8)),
            "scalar": .float(TensorData(shape: [], values: [2])),
            "empty": .float(TensorData(shape: [0, 4], values: [])),
        ]
        let metadata = ["format_version": "1", "config": "{\"name\": \"tiny \\\"quoted\\\"\", \"ü\": 1}\n\ttabs"]
        try SafeTensors.write(tensors, metadata: metadata, to: path)
        let back = try SafeTensors.read(path: path)
        XCTAssertEqual(back.tensors, tensors)
        XCTAssertEqual(back.metadata, metadata)
        XCTAssertEqual(back.storedDTypes["codes16"], "I16")
        XCTAssertEqual(back.storedDTypes["codes32"], "I32")
        XCTAssertEqual(back.storedDTypes["counts"], "I64")
        XCTAssertEqual(back.storedDTypes["encoder.conv.weight"], "F32")
        XCTAssertEqual(dir.contents(), ["model.safetensors"], "no temporary file left")
        // The header is padded to 8 bytes and every tensor starts aligned to its element size.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)

        // Overwriting replaces the file atomically; float convenience writer.
        try SafeTensors.write(["x": TensorData(shape: [1], values: [9])], to: path)
        XCTAssertEqual(try SafeTensors.read(path: path).floatTensors(), ["x": TensorData(shape: [1], values: [9])])
        XCTAssertEqual(dir.contents(), ["model.safetensors"])
    }

    func testWriteFailuresLeaveNothingBehind() throws {
        let dir = TemporaryDirectory()
        let t = ["w": TensorData(shape: [1], values: [1])]
        let missingDir = dir.path("no/such/dir/m.safetensors")
        assertModelFileError(try SafeTensors.write(t, to: missingDir), path: missingDir) {
            if case .unwritable = $0 { return true }; return false
        }
        try FileManager.default.createDirectory(atPath: dir.path("adir"), withIntermediateDirectories: false)
        assertModelFileError(try SafeTensors.write(t, to: dir.path("adir")), path: dir.path("adir")) {
            if case .unwritable = $0 { return true }; return false
        }
        let outOfRange = dir.path("codes.safetensors")
        let codes: [String: StoredTensor] = ["codes": .integer(IntTensorData(shape: [2], values: [1, 40000], elementType: .int16))]
        assertModelFileError(try SafeTensors.write(codes, to: outOfRange), path: outOfRange, mentions: ["codes", "40000"]) {
            if case .valueOutOfRange = $0 { return true }; return false
        }
        XCTAssertEqual(dir.contents(), ["adir"], "no partial or temporary file")
    }

    func testTruncatedFiles() throws {
        let dir = TemporaryDirectory()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: modelFixture("reference.safetensors")))
        for keep in [0, 5, 8, 20, bytes.count - 1] {
            let path = dir.path("t\(keep).safetensors")
            try bytes.prefix(keep).write(to: URL(fileURLWithPath: path))
            assertModelFileError(try SafeTensors.read(path: path), path: path) {
                switch $0 { case .corrupt, .corruptTensor: return true; default: return false }
            }
        }
    }

    func testHeaderLengthBeyondFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("long.safetensors")
        try safetensorsBytes(header: "{}", data: [], declaredLength: 1 << 40).write(to: URL(fileURLWithPath: path))
        assertModelFileError(try SafeTensors.read(path: path), path: path, mentions: ["header length"]) {
            if case .corrupt = $0 { return true }; return false
        }
    }

    /// Each bad header, with the error case, the tensor it must name (if any) and a word of the reason.
    func testBadHeaders() throws {
        let dir = TemporaryDirectory()
        let f = leBytes([1, 2, 3])   // 12 bytes
        let cases: [(String, String, [UInt8], String?, String)] = [
            ("json", "{\"a\": {\"dtype\": \"F32\", ", f, nil, "JSON"),
            ("notobject", "[1, 2]", f, nil, "not an object"),
            ("outofbounds", #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, f, "a", "beyond"),
            ("sizemismatch", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}"#, f, "a", "needs 8"),
            ("overlap", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, f, "b", "overlap"),
            ("gap", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, f, "b", "belong to no tensor"),
            ("reversed", #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, f, "a", "end before"),
            ("negative", #"{"a":{"dtype":"F32","shape":[-3],"data_offsets":[0,12]}}"#, f, "a", "non-negative"),
            ("noshape", #"{"a":{"dtype":"F32","data_offsets":[0,12]}}"#, f, "a", "shape"),
            ("trailing", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, f, nil, "after the last tensor"),
            ("metadata", #"{"__metadata__":{"v":1},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#, f, nil, "'v'"),
        ]
        for (name, header, data, tensor, word) in cases {
            let path = dir.path("\(name).safetensors")
            try safetensorsBytes(header: header, data: data).write(to: URL(fileURLWithPath: path))
            assertModelFileError(try SafeTensors.read(path: path), path: path, mentions: [word] + (tensor.map { ["'\($0)'"] } ?? [])) {
                switch $0 {
                case .corrupt: return tensor == nil
                case .corruptTensor(_, let n, _): return n == tensor
                default: return false
                }
            }
        }
    }

    func testUnknownAndUnsupportedDTypes() throws {
        let dir = TemporaryDirectory()
        for dtype in ["Q4_K", "F8_E4M3", "U64", "C64"] {
            let path = dir.path("\(dtype).safetensors")
            let header = #"{"enc.weight":{"dtype":"\#(dtype)","shape":[1],"data_offsets":[0,8]}}"#
            try safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)).write(to: URL(fileURLWithPath: path))
            assertModelFileError(try SafeTensors.read(path: path), path: path, mentions: ["enc.weight", dtype]) {
                if case .unsupportedDType(_, "enc.weight", dtype) = $0 { return true }; return false
            }
        }
    }

    func testMissingFileAndDirectory() {
        let dir = TemporaryDirectory()
        assertModelFileError(try SafeTensors.read(path: dir.path("x.safetensors")), path: dir.path("x.safetensors"), mentions: ["no such file"]) {
            if case .unreadable = $0 { return true }; return false
        }
        assertModelFileError(try SafeTensors.read(path: dir.url.path), path: dir.url.path, mentions: ["directory"]) {
            if case .unreadable = $0 { return true }; return false
        }
    }

    func testEncodeMatchesReferenceLayoutRules() throws {
        // Widest element type first, then by name: F32 "b" before I16 "a"; header padded with spaces.
        let data = try SafeTensors.encode(["a": .integer(IntTensorData(shape: [1], values: [3], elementType: .int16)),
                                           "b": .float(TensorData(shape: [1], values: [1]))])
        let bytes = [UInt8](data)
        let n = Int(bytes[0]) | Int(bytes[1]) << 8
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        XCTAssertTrue(header.contains(#""a":{"dtype":"I16","shape":[1],"data_offsets":[4,6]}"#), header)
        XCTAssertTrue(header.contains(#""b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#), header)
        XCTAssertEqual(Array(bytes[(8 + n)...]), leBytes([1]) + [3, 0])
    }
}
