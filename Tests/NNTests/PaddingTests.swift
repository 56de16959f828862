import XCTest
import NN

/// pad1d / unpad1d on hand-worked cases (the torch/encodec fixtures are checked in NNFixtureTests).
final class PaddingTests: XCTestCase {
    func pad(_ x: [Float], _ l: Int, _ r: Int, _ mode: PadMode) -> [Float] {
        pad1d(Tensor(shape: [1, 1, x.count], data: x), left: l, right: r, mode: mode).data
    }

    func testConstantAndReplicate() {
        XCTAssertEqual(pad([1, 2, 3], 2, 1, .zero), [0, 0, 1, 2, 3, 0])
        XCTAssertEqual(pad([1, 2, 3], 1, 2, .constant(9)), [9, 1, 2, 3, 9, 9])
        XCTAssertEqual(pad([1, 2, 3], 2, 3, .replicate), [1, 1, 1, 2, 3, 3, 3, 3])
        XCTAssertEqual(pad([5], 2, 2, .replicate), [5, 5, 5, 5, 5])
        XCTAssertEqual(pad([1, 2, 3], 0, 0, .reflect), [1, 2, 3])
    }

    func testReflect() {
        // F.pad reflect: mirror without repeating the edge.
        XCTAssertEqual(pad([1, 2, 3, 4, 5], 2, 3, .reflect), [3, 2, 1, 2, 3, 4, 5, 4, 3, 2])
        XCTAssertEqual(pad([1, 2, 3], 2, 2, .reflect), [3, 2, 1, 2, 3, 2, 1])
    }

    func testReflectOnShortInputsZeroExtendsFirst() {
        // L = 2 ≤ max pad 3: extend by 3 − 2 + 1 = 2 zeros → [1, 2, 0, 0]; reflect (3, 3) →
        // [0, 0, 2, 1, 2, 0, 0, 0, 2, 1]; drop the last 2 → length 2 + 6.
        XCTAssertEqual(pad([1, 2], 3, 3, .reflect), [0, 0, 2, 1, 2, 0, 0, 0])
        // L = 1, pad (2, 0): [1, 0, 0] reflected left by 2 → [0, 0, 1, 0, 0], minus 2 → [0, 0, 1].
        XCTAssertEqual(pad([1], 2, 0, .reflect), [0, 0, 1])
        // L = 3 = max pad: extend by 1 → [1, 2, 3, 0]; reflect (1, 3) → [2, 1, 2, 3, 0, 3, 2, 1]; drop 1.
        XCTAssertEqual(pad([1, 2, 3], 1, 3, .reflect), [2, 1, 2, 3, 0, 3, 2])
        XCTAssertEqual(pad([], 1, 2, .reflect), [0, 0, 0])
    }

    func testRowsAreIndependentAndRankIsKept() {
        let x = Tensor(shape: [2, 2, 3], data: (1...12).map(Float.init))
        let y = pad1d(x, left: 1, right: 1, mode: .reflect)
        XCTAssertEqual(y.shape, [2, 2, 5])
        XCTAssertEqual(Array(y.data[0..<5]), [2, 1, 2, 3, 2])
        XCTAssertEqual(Array(y.data[15..<20]), [11, 10, 11, 12, 11])
        XCTAssertEqual(unpad1d(y, left: 1, right: 1), x)
        XCTAssertEqual(pad1d(Tensor(shape: [4], data: [1, 2, 3, 4]), left: 1, right: 0, mode: .replicate).data, [1, 1, 2, 3, 4])
    }

    func testUnpad() {
        let x = Tensor(shape: [1, 2, 5], data: (0..<10).map(Float.init))
        XCTAssertEqual(unpad1d(x, left: 2, right: 1).data, [2, 3, 7, 8])
        XCTAssertEqual(unpad1d(x, left: 0, right: 5).shape, [1, 2, 0])
    }

    func testPointerKernelMatchesTensorAPI() {
        let x: [Float] = [4, 5, 6, 7]
        var out = [Float](repeating: -1, count: 2 * (2 + 2 + 1))
        pad1dForward(out: &out, x: x, shape: Pad1dShape(rows: 2, inLength: 2, left: 2, right: 1), mode: .reflect)
        // Rows [4, 5] and [6, 7], each short (2 ≤ 2): [4, 5, 0] reflected (2, 1) then trimmed by 1.
        XCTAssertEqual(out, [0, 5, 4, 5, 0, 0, 7, 6, 7, 0])
    }

    /// encodec.modules.conv.pad1d itself (reflect on short inputs included): copies, so exactly equal.
    func testMatchesEncodecPad1d() throws {
        let (f, cases) = try NNFixtures.group("pad1d")
        for c in cases {
            let mode: PadMode
            switch c["mode"] as! String {
            case "reflect": mode = .reflect
            case "replicate": mode = .replicate
            default: mode = .zero
            }
            let x = f.tensor(c, "x")!
            let left = c["left"] as! Int, right = c["right"] as! Int
            let y = pad1d(x, left: left, right: right, mode: mode)
            XCTAssertEqual(y, f.tensor(c, "y")!, "\(c["y"]!) \(c["mode"]!) L \(x.shape[2]) pad (\(left), \(right))")
            XCTAssertEqual(unpad1d(y, left: left, right: right), x)
        }
    }
}
