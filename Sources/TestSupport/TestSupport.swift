// TestSupport: helpers shared by every test target: closeness checks, a seeded RNG, fixture paths,
// temporary directories and running the built `codec` binary.
import Foundation

/// SplitMix64: a small, seeded, platform-independent random generator for tests and data making.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform Float in [lo, hi).
    public mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
    public mutating func floats(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in uniform(lo, hi) }
    }
}

/// Largest |a[i] − b[i]|; precondition on equal counts.
public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "maxAbsDiff: counts differ (\(a.count) vs \(b.count))")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// Nil when every |a − b| ≤ atol + rtol·|b|; otherwise a message naming the worst element.
public func closeness(_ a: [Float], _ b: [Float], rtol: Float = 1e-5, atol: Float = 1e-6) -> String? {
    guard a.count == b.count else { return "counts differ: \(a.count) vs \(b.count)" }
    var worst = -1; var worstExcess: Float = 0
    for i in 0..<a.count {
        let excess = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
        if !(excess <= 0) && (worst < 0 || excess > worstExcess || excess.isNaN) { worst = i; worstExcess = excess }
    }
    if worst < 0 { return nil }
    return "element \(worst): \(a[worst]) vs \(b[worst]) (|diff| \(abs(a[worst] - b[worst])), rtol \(rtol), atol \(atol))"
}

/// Paths of the repository, found from this source file's location.
public enum RepoPaths {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static var fixtures: URL { root.appendingPathComponent("Tests/Fixtures") }
    public static var resources: URL { root.appendingPathComponent("Resources") }
    /// The built `codec` binary next to the test bundle (same configuration as the tests).
    public static var codecBinary: URL {
        #if os(macOS)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("codec")
        }
        #endif
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("codec")
    }
}

/// A fresh temporary directory, removed by `cleanup()`.
public final class TemporaryDirectory {
    public let url: URL
    public init(prefix: String = "neuralcodec-test") {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    public func cleanup() { try? FileManager.default.removeItem(at: url) }
    /// Names of the files in the directory (sorted), to check that nothing was left behind.
    public func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }
    deinit { cleanup() }
}

/// Result of running a process to completion.
public struct ProcessResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs `executable` with `arguments`, capturing its output; no standard input.
public func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Read both pipes before waiting so a large output cannot block the child.
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let outData = outBox.data
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// Peak resident set size of this process so far, in bytes (VmHWM on Linux), or nil where unknown.
public func peakResidentBytes() -> Int? {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return nil
}

/// Current resident set size in bytes (VmRSS on Linux).
public func currentResidentBytes() -> Int? {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return nil
}
