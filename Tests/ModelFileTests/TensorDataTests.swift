// TensorData and IntTensorData: checked integer narrowing and the accessors.
import XCTest
import ModelFile

final class TensorDataTests: XCTestCase {
    func testNarrowingRefusesValuesThatDoNotFit() throws {
        let t = IntTensorData(shape: [3], values: [-129, 0, 255])
        XCTAssertEqual(try t.converted(to: .int16, path: "c.npy", name: "codes").elementType, .int16)
        XCTAssertThrowsError(try t.converted(to: .int8, path: "c.npy", name: "codes")) {
            XCTAssertEqual(($0 as? ModelFileError)?.description,
                           "c.npy: tensor 'codes': value -129 at flat index 0 does not fit in int8 -128...127")
        }
        XCTAssertThrowsError(try t.converted(to: .uint8, path: "c.npy", name: "codes"))
        XCTAssertEqual(t.firstValueOutside(.uint8), 0)
        XCTAssertNil(t.firstValueOutside(.int16))
        XCTAssertEqual(IntegerElementType.uint32.range, 0...4_294_967_295)
        XCTAssertEqual(IntegerElementType.allCases.map(\.byteCount), [1, 1, 1, 2, 2, 4, 4, 8])
    }

    func testAccessors() {
        let f = StoredTensor.float(TensorData(shape: [2, 1], values: [1, 2]))
        let i = StoredTensor.integer(IntTensorData(shape: [1], int32Values: [5]))
        XCTAssertEqual(f.shape, [2, 1])
        XCTAssertEqual(f.floatData?.count, 2)
        XCTAssertNil(f.integerData)
        XCTAssertEqual(i.integerData?.elementType, .int32)
        XCTAssertNil(i.floatData)
        XCTAssertEqual(TensorData(shape: [], values: [1]).count, 1)
    }
}
