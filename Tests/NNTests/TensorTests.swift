import XCTest
import NN

final class TensorTests: XCTestCase {
    func testShapeCountStridesAndRowMajorIndexing() {
        var t = Tensor(shape: [2, 3, 4], data: (0..<24).map(Float.init))
        XCTAssertEqual(t.count, 24)
        XCTAssertEqual(t.rank, 3)
        XCTAssertEqual(t.strides, [12, 4, 1])
        // [b, c, t] sits at (b·C + c)·T + t.
        XCTAssertEqual(t[1, 2, 3], 23)
        XCTAssertEqual(t[0, 1, 0], 4)
        XCTAssertEqual(t.offset([1, 0, 2]), 14)
        t[1, 0, 2] = -1
        XCTAssertEqual(t.data[14], -1)
    }

    func testZerosRepeatingAndReshape() {
        XCTAssertEqual(Tensor.zeros([2, 2]).data, [0, 0, 0, 0])
        XCTAssertEqual(Tensor(shape: [3], repeating: 2).data, [2, 2, 2])
        let r = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]).reshaped([3, 2])
        XCTAssertEqual(r.shape, [3, 2])
        XCTAssertEqual(r[2, 1], 6)
        XCTAssertEqual(Tensor.zeros([0, 5]).count, 0)
    }

    func testEquality() {
        XCTAssertEqual(Tensor(shape: [2], data: [1, 2]), Tensor(shape: [2], data: [1, 2]))
        XCTAssertNotEqual(Tensor(shape: [2], data: [1, 2]), Tensor(shape: [1, 2], data: [1, 2]))
    }
}
