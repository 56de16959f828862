// GradientCheck: central finite differences in Double against analytic gradients, and the loader of the
// float32 fixture blobs written by scripts/make-*-fixtures.py (index.json + one .f32 file).
import Foundation

/// Compares `analytic` with the central difference (f(x + ε·e_i) − f(x − ε·e_i)) / 2ε at each index in
/// `indices` (all by default). f is evaluated in Double. Returns nil when every |a − n| ≤ atol + rtol·|n|,
/// else a message naming the worst element.
public func gradientCheck(_ f: ([Double]) -> Double, at x: [Double], analytic: [Double], indices: [Int]? = nil,
                          eps: Double = 1e-6, rtol: Double = 1e-4, atol: Double = 1e-6) -> String? {
    guard analytic.count == x.count else { return "gradient has \(analytic.count) elements, the input \(x.count)" }
    var worst: (i: Int, a: Double, n: Double, excess: Double)? = nil
    var xp = x
    for i in indices ?? Array(0..<x.count) {
        let v = x[i]
        xp[i] = v + eps
        let up = f(xp)
        xp[i] = v - eps
        let down = f(xp)
        xp[i] = v
        let numeric = (up - down) / (2 * eps)
        let excess = abs(analytic[i] - numeric) - (atol + rtol * abs(numeric))
        if !(excess <= 0), worst == nil || excess > worst!.excess || excess.isNaN {
            worst = (i, analytic[i], numeric, excess)
        }
    }
    guard let w = worst else { return nil }
    return "element \(w.i): analytic \(w.a) vs finite difference \(w.n) (rtol \(rtol), atol \(atol))"
}

/// Float32 tensors stored back to back in one little-endian file, with `index.json` holding
/// `{"tensors": {name: {"shape": [...], "offset": elements}}, "cases": {group: [case, ...]}}`.
public struct FixtureBlob {
    public let shapes: [String: (shape: [Int], offset: Int)]
    public let cases: [String: [[String: Any]]]
    let blob: [Float]

    /// Loads `Tests/Fixtures/<directory>/index.json` and `<directory>/<file>`.
    public init(directory: String, file: String) throws {
        let dir = RepoPaths.fixtures.appendingPathComponent(directory)
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("index.json"))) as! [String: Any]
        var shapes: [String: (shape: [Int], offset: Int)] = [:]
        for (name, v) in index["tensors"] as! [String: [String: Any]] { shapes[name] = (v["shape"] as! [Int], v["offset"] as! Int) }
        let data = try Data(contentsOf: dir.appendingPathComponent(file))
        blob = data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        self.shapes = shapes
        cases = index["cases"] as! [String: [[String: Any]]]
    }

    /// Values of the tensor called `name` (row-major); fails loudly when the fixture lacks it.
    public func values(_ name: String) -> [Float] {
        guard let (shape, offset) = shapes[name] else { fatalError("fixture tensor \(name) missing from index.json") }
        return Array(blob[offset..<(offset + shape.reduce(1, *))])
    }

    /// Shape of the tensor called `name`.
    public func shape(_ name: String) -> [Int] {
        guard let s = shapes[name]?.shape else { fatalError("fixture tensor \(name) missing from index.json") }
        return s
    }

    /// Values of the tensor a case names under `key`.
    public func values(_ c: [String: Any], _ key: String) -> [Float] { values(c[key] as! String) }
}
