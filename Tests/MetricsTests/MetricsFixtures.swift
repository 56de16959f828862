// Loads the fixtures written by scripts/make-dsp-fixtures.py (same loader as DSPTests/DSPFixtures.swift;
// test targets cannot share code outside TestSupport): index.json + raw little-endian float32 arrays.
import Foundation
import TestSupport

/// One fixture: its parameters, scalar results and arrays (shape + values).
struct MetricsFixture {
    let name: String
    let params: [String: Any]
    let scalars: [String: Double]
    let arrays: [String: (shape: [Int], values: [Float])]

    static let directory = RepoPaths.fixtures.appendingPathComponent("dsp")

    static func load(_ name: String) throws -> MetricsFixture {
        let indexURL = directory.appendingPathComponent("index.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as! [String: Any]
        guard let entry = (root["fixtures"] as! [String: Any])[name] as? [String: Any] else {
            throw NSError(domain: "MetricsFixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "no fixture \(name) in \(indexURL.path)"])
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
        return MetricsFixture(name: name, params: entry["params"] as! [String: Any],
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
