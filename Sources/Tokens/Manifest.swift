// The tokenization manifest: one JSON object per line (JSONL) per input, appended as each input finishes
// (a killed run keeps every finished line) and compacted, sorted by relative path, at the end of a run.
// Shard runs write `manifest.shard-I-of-N.jsonl`; `Manifest.merge` joins them into `manifest.jsonl`.
import Foundation

/// One input's record: where it came from, what was made, with which model and settings.
public struct ManifestEntry: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable { case ok, failed }

    /// The input's path (absolute).
    public var source: String
    /// Its path relative to the input root (the shard key; the output mirrors it).
    public var relative: String
    /// The token file, relative to the output directory (`relative` with the extension `.npy`).
    public var output: String
    /// Size of the source in bytes and its modification time (seconds since 1970), to notice changes.
    public var size: Int
    public var mtime: Double
    /// Source duration in seconds, token frames T, codebooks K (nil when the input failed early).
    public var duration: Double?
    public var frames: Int?
    public var codebooks: Int?
    /// Size of the token file in bytes (checked before skipping a finished input).
    public var bytes: Int?
    /// Model name and content hash (`ModelArchive.fingerprint`), bandwidth in kbps.
    public var model: String
    public var modelHash: String
    public var bandwidth: Double
    public var status: Status
    /// Why the input failed.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case source, relative, output, size, mtime, duration, frames, codebooks, bytes, model
        case modelHash = "model_hash", bandwidth, status, error
    }

    public init(source: String, relative: String, output: String, size: Int, mtime: Double, duration: Double?,
                frames: Int?, codebooks: Int?, bytes: Int?, model: String, modelHash: String, bandwidth: Double,
                status: Status, error: String?) {
        self.source = source; self.relative = relative; self.output = output; self.size = size; self.mtime = mtime
        self.duration = duration; self.frames = frames; self.codebooks = codebooks; self.bytes = bytes
        self.model = model; self.modelHash = modelHash; self.bandwidth = bandwidth; self.status = status; self.error = error
    }
}

/// What decides whether a finished input can be kept: the source file, the model and the settings.
public struct TokenizeSettings: Equatable, Sendable {
    public var model: String
    public var modelHash: String
    public var bandwidth: Double
    public var codebooks: Int
    public init(model: String, modelHash: String, bandwidth: Double, codebooks: Int) {
        self.model = model; self.modelHash = modelHash; self.bandwidth = bandwidth; self.codebooks = codebooks
    }
}

/// A source file's identity as the manifest records it.
public struct SourceStamp: Equatable, Sendable {
    public var size: Int
    public var mtime: Double
    public init(size: Int, mtime: Double) { self.size = size; self.mtime = mtime }

    /// Size and modification time of the file at `path`.
    public init(path: String) throws {
        let attrs: [FileAttributeKey: Any]
        do { attrs = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw TokensError.invalidInput(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot stat: \(error.localizedDescription)" : "no such file")
        }
        if (attrs[.type] as? FileAttributeType) == .typeDirectory { throw TokensError.invalidInput(path: path, reason: "is a directory") }
        size = (attrs[.size] as? NSNumber)?.intValue ?? 0
        mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    }
}

public enum Manifest {
    /// The one-line JSON of an entry (keys sorted, so equal entries give equal lines).
    public static func line(_ entry: ManifestEntry) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! enc.encode(entry), as: UTF8.self)
    }

    /// Reads a manifest. A last line cut short (no newline, not valid JSON: a run killed while appending)
    /// is ignored; any other bad line is an error naming the line.
    public static func read(path: String) throws -> [ManifestEntry] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TokensError.invalidManifest(path: path, line: nil, reason: "cannot read: \(error.localizedDescription)")
        }
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var entries: [ManifestEntry] = []
        let dec = JSONDecoder()
        for (i, line) in lines.enumerated() {
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            do { entries.append(try dec.decode(ManifestEntry.self, from: Data(line))) } catch {
                if i == lines.count - 1 && !endsWithNewline { break } // cut short by a kill
                throw TokensError.invalidManifest(path: path, line: i + 1, reason: "not a manifest entry: \(error)")
            }
        }
        return entries
    }

    /// The latest entry of each relative path (later lines win).
    public static func latest(_ entries: [ManifestEntry]) -> [String: ManifestEntry] {
        var out: [String: ManifestEntry] = [:]
        for e in entries { out[e.relative] = e }
        return out
    }

    /// Writes entries sorted by relative path, one per line, through a temporary file renamed into place.
    public static func write(_ entries: [ManifestEntry], to path: String) throws {
        let text = entries.sorted { $0.relative < $1.relative }.map { line($0) + "\n" }.joined()
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw TokensError.unwritable(path: path, reason: error.localizedDescription)
        }
    }

    /// Whether `entry` records a finished input that can be kept: status ok, the same source (size and
    /// modification time), model hash, bandwidth and codebooks, and its token file present with the
    /// recorded size in `outputDirectory`.
    public static func isFinished(_ entry: ManifestEntry, source: SourceStamp, settings: TokenizeSettings,
                                  outputDirectory: String) -> Bool {
        guard entry.status == .ok, entry.size == source.size, entry.mtime == source.mtime,
              entry.modelHash == settings.modelHash, entry.bandwidth == settings.bandwidth,
              entry.codebooks == settings.codebooks, let bytes = entry.bytes else { return false }
        let out = (outputDirectory as NSString).appendingPathComponent(entry.output)
        let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? NSNumber)?.intValue
        return size == bytes
    }

    /// Joins the shard manifests `manifest.shard-I-of-N.jsonl` in `directory` into `manifest.jsonl`.
    /// All N shards must be present (one N), and no input may appear in two shards. Returns the entries.
    @discardableResult
    public static func merge(directory: String) throws -> [ManifestEntry] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw TokensError.mergeFailed(directory: directory, reason: "cannot list: \(error.localizedDescription)")
        }
        var shards: [Int: String] = [:]
        var count: Int? = nil
        for name in names.sorted() where name.hasPrefix("manifest.shard-") && name.hasSuffix(".jsonl") {
            let core = name.dropFirst("manifest.shard-".count).dropLast(".jsonl".count)
            let parts = core.components(separatedBy: "-of-")
            guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else { continue }
            if let count, count != n {
                throw TokensError.mergeFailed(directory: directory, reason: "shard manifests of different shard counts (\(count) and \(n))")
            }
            count = n
            shards[i] = name
        }
        guard let n = count else {
            throw TokensError.mergeFailed(directory: directory, reason: "no shard manifests (manifest.shard-I-of-N.jsonl)")
        }
        let missing = (0..<n).filter { shards[$0] == nil }
        guard missing.isEmpty else {
            throw TokensError.mergeFailed(directory: directory, reason: "missing shard(s) \(missing.map(String.init).joined(separator: ", ")) of \(n)")
        }
        var merged: [String: ManifestEntry] = [:]
        var from: [String: String] = [:]
        for i in 0..<n {
            let path = (directory as NSString).appendingPathComponent(shards[i]!)
            for (rel, e) in latest(try read(path: path)) {
                if let other = from[rel] {
                    throw TokensError.mergeFailed(directory: directory, reason: "'\(rel)' is in both \(other) and \(shards[i]!)")
                }
                merged[rel] = e; from[rel] = shards[i]!
            }
        }
        let entries = merged.values.sorted { $0.relative < $1.relative }
        try write(entries, to: (directory as NSString).appendingPathComponent("manifest.jsonl"))
        return entries
    }
}

/// Appends manifest lines as inputs finish (thread-safe), flushing each line to disk.
public final class ManifestAppender: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    public let path: String

    public init(path: String) throws {
        self.path = path
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) && !fm.createFile(atPath: path, contents: nil) {
            throw TokensError.unwritable(path: path, reason: "cannot create the manifest")
        }
        do {
            // A last line cut short by a kill (no newline) is dropped: `Manifest.read` ignores it too.
            let existing = try Data(contentsOf: URL(fileURLWithPath: path))
            handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            if let last = existing.last, last != UInt8(ascii: "\n") {
                let keep = existing.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
                try handle.truncate(atOffset: UInt64(keep))
            }
            try handle.seekToEnd()
        } catch {
            throw TokensError.unwritable(path: path, reason: error.localizedDescription)
        }
    }

    public func append(_ entry: ManifestEntry) throws {
        lock.lock(); defer { lock.unlock() }
        do {
            try handle.write(contentsOf: Data((Manifest.line(entry) + "\n").utf8))
            try handle.synchronize()
        } catch {
            throw TokensError.unwritable(path: path, reason: error.localizedDescription)
        }
    }

    public func close() { lock.lock(); defer { lock.unlock() }; try? handle.close() }
    deinit { try? handle.close() }
}
