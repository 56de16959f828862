// Sharding a corpus over independent processes (Slurm job arrays, Kubernetes indexed jobs): each input
// goes to shard FNV-1a-64(relative path) mod N, so every input lands in exactly one shard, whatever the
// machine, the order of inputs or the number of threads.
import Foundation

/// FNV-1a 64-bit hash (offset basis 0xcbf29ce484222325, prime 0x100000001b3; ref: Fowler–Noll–Vo).
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    public mutating func add<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    }
    public mutating func add(_ buffer: UnsafeRawBufferPointer) {
        var h = value
        for b in buffer { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        value = h
    }
    /// 16 lowercase hex digits.
    public var hex: String { String(format: "%016llx", value) }

    public static func hash(_ string: String) -> UInt64 { var h = FNV1a64(); h.add(string.utf8); return h.value }
}

/// Shard `index` of `count` (0-based index).
public struct ShardSpec: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw TokensError.invalidArgument("invalid shard \(index)/\(count): need 0 ≤ index < count")
        }
        self.index = index; self.count = count
    }

    /// The whole corpus in one shard.
    public static let all = try! ShardSpec(index: 0, count: 1)

    /// Parses `I/N` (0-based I).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw TokensError.invalidArgument("invalid shard '\(text)': expected I/N, e.g. 0/4")
        }
        try self.init(index: i, count: n)
    }

    /// The shard the environment assigns, or nil when none does:
    /// `SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT` (task ids are taken relative to
    /// `SLURM_ARRAY_TASK_MIN`, default 0, so `--array=1-4` works too), else Kubernetes' `JOB_COMPLETION_INDEX`
    /// with the count from `NEURALCODEC_SHARD_COUNT` (set it to the job's `completions`).
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> ShardSpec? {
        func int(_ name: String) throws -> Int? {
            guard let s = env[name], !s.isEmpty else { return nil }
            guard let v = Int(s) else { throw TokensError.invalidArgument("environment variable \(name)='\(s)' is not an integer") }
            return v
        }
        if let id = try int("SLURM_ARRAY_TASK_ID") {
            guard let count = try int("SLURM_ARRAY_TASK_COUNT") else {
                throw TokensError.invalidArgument("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard I/N")
            }
            let min = try int("SLURM_ARRAY_TASK_MIN") ?? 0
            return try ShardSpec(index: id - min, count: count)
        }
        if let index = try int("JOB_COMPLETION_INDEX") {
            guard let count = try int("NEURALCODEC_SHARD_COUNT") else {
                throw TokensError.invalidArgument("JOB_COMPLETION_INDEX is set but NEURALCODEC_SHARD_COUNT (the job's completions) is not; pass --shard I/N")
            }
            return try ShardSpec(index: index, count: count)
        }
        return nil
    }

    /// The shard (0..<count) an input with this relative path belongs to.
    public static func shard(of relativePath: String, count: Int) -> Int {
        Int(FNV1a64.hash(relativePath) % UInt64(count))
    }

    /// Whether the input with this relative path belongs to this shard.
    public func contains(_ relativePath: String) -> Bool { Self.shard(of: relativePath, count: count) == index }

    public var description: String { "\(index)/\(count)" }

    /// Manifest file name of this shard: `manifest.jsonl` for a single shard, else
    /// `manifest.shard-I-of-N.jsonl`.
    public var manifestName: String { count == 1 ? "manifest.jsonl" : "manifest.shard-\(index)-of-\(count).jsonl" }
}
