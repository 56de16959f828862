// Loads the fixtures written by scripts/make-dsp-fixtures.py: index.json + raw little-endian float32 arrays.
import Foundation
import TestSupport

/// One fixture: its parameters, scalar results and arrays (shape + values).
struct DSPFixture {
    let name: String
    let params: [String: Any]
    let scalars: [String: Double]
    let arrays: [String: (shape: [Int], values: [Float])]

    static let directory = RepoPaths.fixtures.appendingPathComponent("dsp")

    static func load(_ name: String) throws -> DSPFixture {
        let indexURL = directory.appendingPathComponent("index.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as! [String: Any]
        guard let entry = (root["fixtures"] as! [String: Any])[name] as? [String: Any] else {
            throw NSError(domain: "DSPFixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "no fixture \(name) in \(indexURL.path)"])
        }
        var arrays: [String: (shape: [Int], values: [Float])] = [:]
        for (key, value) in entry["arrays"] as! [String: Any] {
            let info = value as! [String: Any]
            let shape = info["shape"] as! [Int]
            let data = try Data(contentsOf: directory.appendingPathComponent(info["file"] as! String))
            let count = data.count / 4
            precondition(count == shape.reduce(1, *), "fixture \(name).\(key): \(count) floats for shape \(shape)")
            let values: [Float] = data.withUnsafeBytes { raw in
                (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
            arrays[key] = (shape, values)
        }
        return DSPFixture(name: name, params: entry["params"] as! [String: Any],
                          scalars: (entry["scalars"] as! [String: Any]).mapValues { ($0 as! NSNumber).doubleValue },
                          arrays: arrays)
    }

    func array(_ key: String) -> [Float] { arrays[key]!.values }
    func shape(_ key: String) -> [Int] { arrays[key]!.shape }
    func int(_ key: String) -> Int { (params[key] as! NSNumber).intValue }
    func double(_ key: String) -> Double { (params[key] as! NSNumber).doubleValue }
    func bool(_ key: String) -> Bool { (params[key] as! NSNumber).boolValue }
    func string(_ key: String) -> String { params[key] as! String }
}

/// Tolerance used against every float32 fixture: |a − b| ≤ 1e-4·|b| + 1e-5·max|b|. The absolute part is
/// relative to the whole array because float32 FFT rounding scales with a frame's energy, not with each
/// bin (a bin near zero carries the same absolute error as a large one).
/// `scale` defaults to max|expected|; pass the peak of the whole spectrum when checking one plane of it.
func fixtureMismatch(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, scaleTol: Float = 1e-5,
                     scale: Float? = nil) -> String? {
    let peak = scale ?? expected.reduce(0) { max($0, abs($1)) }
    return closeness(actual, expected, rtol: rtol, atol: scaleTol * peak)
}

/// `fixtureMismatch` for a complex array given as planes, with the absolute part relative to max|z|.
func complexMismatch(real: [Float], imag: [Float], expectedReal: [Float], expectedImag: [Float]) -> String? {
    var peak: Float = 0
    for i in 0..<expectedReal.count { peak = max(peak, (expectedReal[i] * expectedReal[i] + expectedImag[i] * expectedImag[i]).squareRoot()) }
    if let m = fixtureMismatch(real, expectedReal, scale: peak) { return "real: " + m }
    if let m = fixtureMismatch(imag, expectedImag, scale: peak) { return "imaginary: " + m }
    return nil
}
