// Npy: arrays written by numpy (every dtype, both byte orders, Fortran order, format 1/2/3) read value for
// value, byte-identical writes, round trips, and each refused or broken file.
import Foundation
import XCTest
import ModelFile
import TestSupport

final class NpyTests: XCTestCase {
    func testReadsEveryNumpyFixtureExactly() throws {
        let expected = try loadExpected("npy_expected.json", as: [String: ExpectedTensor].self)
        XCTAssertGreaterThanOrEqual(expected.count, 20)
        for (name, e) in expected.sorted(by: { $0.key < $1.key }) {
            assertMatches(try Npy.read(path: modelFixture("\(name).npy")), e, name)
        }
    }

    func testElementTypesAndTypedReaders() throws {
        let types: [(String, IntegerElementType)] = [("i8", .int8), ("u8", .uint8), ("i16_be", .int16), ("u16_be", .uint16),
                                                     ("i32_le", .int32), ("i64_be", .int64)]
        for (name, type) in types {
            XCTAssertEqual(try Npy.readIntegers(path: modelFixture("\(name).npy"), rank: 2).elementType, type, name)
        }
        XCTAssertEqual(try Npy.readFloat(path: modelFixture("f32_fortran.npy"), rank: 3).shape, [3, 4, 2])
        XCTAssertEqual(try Npy.readFloat(path: modelFixture("scalar.npy")), TensorData(shape: [], values: [2.5]))
    }

    func testWrongKindOrRankIsRefused() {
        let ints = modelFixture("i16_le.npy"), floats = modelFixture("f32_le.npy")
        assertModelFileError(try Npy.readFloat(path: ints), path: ints, mentions: ["int16", "floating-point"]) {
            if case .unsupportedDType = $0 { return true }; return false
        }
        assertModelFileError(try Npy.readIntegers(path: floats), path: floats, mentions: ["integer"]) {
            if case .unsupportedDType = $0 { return true }; return false
        }
        assertModelFileError(try Npy.readFloat(path: floats, rank: 1), path: floats, mentions: ["rank-1", "[3, 4]"]) {
            if case .unsupportedArray = $0 { return true }; return false
        }
    }

    func testRefusedDTypes() {
        for (name, word) in [("bad_complex", "complex"), ("bad_object", "Python objects"), ("bad_strings", "strings"), ("bad_u64", "uint64")] {
            let path = modelFixture("\(name).npy")
            assertModelFileError(try Npy.read(path: path), path: path, mentions: [word]) {
                if case .unsupportedArray = $0 { return true }; return false
            }
        }
        let overflow = modelFixture("bad_f64_overflow.npy")
        assertModelFileError(try Npy.read(path: overflow), path: overflow, mentions: ["1e+300", "index 1"]) {
            if case .valueOutOfRange = $0 { return true }; return false
        }
    }

    func testInt64CodesBeyondInt32AreRefusedOnConversion() throws {
        let path = modelFixture("codes_i64_big.npy")
        let codes = try Npy.readIntegers(path: path, rank: 2)
        XCTAssertEqual(codes.values, [1, 2, 3, 1 << 40])
        assertModelFileError(try codes.int32Values(path: path, name: "codes"), path: path, mentions: ["1099511627776", "int32"]) {
            if case .valueOutOfRange = $0 { return true }; return false
        }
        XCTAssertEqual(try IntTensorData(shape: [2], values: [1, -2]).int32Values(path: path, name: "c"), [1, -2])
    }

    func testBadMagicTruncatedAndBadHeader() throws {
        let dir = TemporaryDirectory()
        let good = try Data(contentsOf: URL(fileURLWithPath: modelFixture("f32_le.npy")))
        let cases: [(String, Data, String)] = [
            ("magic", Data("PK\u{3}\u{4}not numpy at all".utf8), "bad magic"),
            ("empty", Data(), "bad magic"),
            ("data", good.prefix(good.count - 3), "truncated"),
            ("header", good.prefix(40), "truncated"),
            ("lengthonly", good.prefix(9), "truncated"),
            ("dict", good.prefix(10) + Data("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3, 4), }".padding(toLength: 117, withPad: " ", startingAt: 0).utf8)
                + Data("\n".utf8) + good.suffix(48), "invalid header"),
        ]
        for (name, bytes, word) in cases {
            let path = dir.path("\(name).npy")
            try bytes.write(to: URL(fileURLWithPath: path))
            assertModelFileError(try Npy.read(path: path), path: path, mentions: [word]) {
                if case .corrupt = $0 { return true }; return false
            }
        }
        var version = [UInt8](good)
        version[6] = 4
        let path = dir.path("version.npy")
        try Data(version).write(to: URL(fileURLWithPath: path))
        assertModelFileError(try Npy.read(path: path), path: path, mentions: ["4.0"]) {
            if case .unsupportedArray = $0 { return true }; return false
        }
    }

    func testWritesBytesIdenticalToNumpy() throws {
        let dir = TemporaryDirectory()
        let expected = try loadExpected("npy_expected.json", as: [String: ExpectedTensor].self)
        let f = expected["f32_le"]!
        try Npy.write(TensorData(shape: f.shape, values: floats(f)), to: dir.path("f.npy"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("f.npy"))),
                       try Data(contentsOf: URL(fileURLWithPath: modelFixture("f32_le.npy"))))
        for (name, type) in [("i16_le", IntegerElementType.int16), ("i32_le", .int32), ("i64_le", .int64)] {
            let e = expected[name]!
            try Npy.write(IntTensorData(shape: e.shape, values: e.values!, elementType: type), to: dir.path("\(name).npy"))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("\(name).npy"))),
                           try Data(contentsOf: URL(fileURLWithPath: modelFixture("\(name).npy"))), name)
        }
        let v = expected["vector"]!
        try Npy.write(TensorData(shape: v.shape, values: floats(v)), to: dir.path("v.npy"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("v.npy"))),
                       try Data(contentsOf: URL(fileURLWithPath: modelFixture("vector.npy"))))
        let s = expected["scalar"]!
        try Npy.write(TensorData(shape: [], values: floats(s)), to: dir.path("s.npy"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.path("s.npy"))),
                       try Data(contentsOf: URL(fileURLWithPath: modelFixture("scalar.npy"))))
    }

    func testRoundTripsAndWriteFailures() throws {
        let dir = TemporaryDirectory()
        var rng = SeededRNG(seed: 3)
        let vectors = TensorData(shape: [50, 7], values: rng.floats(350))
        try Npy.write(vectors, to: dir.path("x.npy"))
        XCTAssertEqual(try Npy.readFloat(path: dir.path("x.npy"), rank: 2), vectors)
        let codes = IntTensorData(shape: [4, 3], values: (0..<12).map { Int64($0 * 97 - 300) }, elementType: .int16)
        try Npy.write(codes, to: dir.path("c.npy"))
        XCTAssertEqual(try Npy.readIntegers(path: dir.path("c.npy")), codes)
        let wide = IntTensorData(shape: [2], values: [Int64.min, Int64.max])
        try Npy.write(wide, to: dir.path("w.npy"))
        XCTAssertEqual(try Npy.readIntegers(path: dir.path("w.npy")), wide)
        XCTAssertEqual(dir.contents(), ["c.npy", "w.npy", "x.npy"])

        let bad = dir.path("bad.npy")
        let tooBig = IntTensorData(shape: [2], values: [1, 1 << 31], elementType: .int32)
        assertModelFileError(try Npy.write(tooBig, to: bad), path: bad, mentions: ["2147483648", "int32"]) {
            if case .valueOutOfRange = $0 { return true }; return false
        }
        let nowhere = dir.path("missing/x.npy")
        assertModelFileError(try Npy.write(vectors, to: nowhere), path: nowhere) {
            if case .unwritable = $0 { return true }; return false
        }
        XCTAssertEqual(dir.contents(), ["c.npy", "w.npy", "x.npy"], "failed writes leave nothing behind")
    }
}
