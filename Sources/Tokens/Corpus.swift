// Corpus inputs: audio files, directories (walked recursively) and manifests (JSONL or one path per line),
// each input with the relative path that names its token file and decides its shard.
import Foundation

/// One input of a corpus.
public struct CorpusInput: Equatable, Sendable {
    /// Absolute path of the audio file.
    public var source: String
    /// Path relative to its root: within a directory argument, within a manifest's directory, or the file
    /// name of a file argument. The token file is `relative` with the extension `.npy`.
    public var relative: String

    public init(source: String, relative: String) { self.source = source; self.relative = relative }

    /// The token file's path relative to the output directory.
    public var output: String { ((relative as NSString).deletingPathExtension) + ".npy" }
}

public enum Corpus {
    /// File extensions taken as audio when walking directories (lowercased; what libsndfile reads).
    public static let audioExtensions: Set<String> = ["wav", "flac", "ogg", "oga", "opus", "aif", "aiff", "aifc",
                                                      "au", "snd", "caf", "w64", "rf64", "mp3", "sd2", "voc"]
    /// File extensions taken as manifests: `.jsonl` (objects with a path field, or strings) and
    /// `.txt`/`.lst`/`.list`/`.scp` (one path per line, `#` comments).
    public static let manifestExtensions: Set<String> = ["jsonl", "txt", "lst", "list", "scp"]
    /// Keys looked up, in order, for the audio path in a JSONL manifest line.
    public static let manifestPathKeys = ["path", "source", "audio_filepath", "audio", "file", "wav"]

    /// The inputs named by `arguments`, sorted by relative path. Two inputs with the same relative path
    /// (hence the same token file) are an error naming both.
    public static func collect(_ arguments: [String]) throws -> [CorpusInput] {
        var inputs: [CorpusInput] = []
        let fm = FileManager.default
        for arg in arguments {
            let path = absolute(arg)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
                throw TokensError.invalidInput(path: arg, reason: "no such file or directory")
            }
            if isDir.boolValue {
                inputs += try walk(path)
            } else if manifestExtensions.contains((path as NSString).pathExtension.lowercased()) {
                inputs += try readManifest(path)
            } else {
                inputs.append(CorpusInput(source: path, relative: (path as NSString).lastPathComponent))
            }
        }
        inputs.sort { $0.relative < $1.relative }
        var seen: [String: String] = [:]
        for i in inputs {
            if let other = seen[i.output] {
                throw TokensError.invalidInput(path: i.source, reason: "its token file \(i.output) would also be written for \(other)")
            }
            seen[i.output] = i.source
        }
        return inputs
    }

    /// Audio files under `root`, recursively (symbolic links followed for files, hidden entries skipped).
    static func walk(_ root: String) throws -> [CorpusInput] {
        let fm = FileManager.default
        guard let e = fm.enumerator(at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.isDirectoryKey],
                                    options: [.skipsHiddenFiles]) else {
            throw TokensError.invalidInput(path: root, reason: "cannot list the directory")
        }
        var out: [CorpusInput] = []
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        for case let url as URL in e {
            guard audioExtensions.contains(url.pathExtension.lowercased()) else { continue }
            var isDir: ObjCBool = false
            let p = url.standardizedFileURL.path
            guard fm.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue else { continue }
            out.append(CorpusInput(source: p, relative: relativePath(p, to: base)))
        }
        return out
    }

    /// Inputs listed in a manifest; relative paths are taken from the manifest's directory.
    static func readManifest(_ path: String) throws -> [CorpusInput] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TokensError.invalidManifest(path: path, line: nil, reason: "cannot read: \(error.localizedDescription)")
        }
        let dir = (path as NSString).deletingLastPathComponent
        let json = (path as NSString).pathExtension.lowercased() == "jsonl"
        var out: [CorpusInput] = []
        for (i, raw) in text.components(separatedBy: "\n").enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var item = line
            if json {
                let value = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
                if let s = value as? String { item = s } else if let o = value as? [String: Any],
                   let s = manifestPathKeys.lazy.compactMap({ o[$0] as? String }).first {
                    item = s
                } else {
                    throw TokensError.invalidManifest(path: path, line: i + 1,
                        reason: "expected a JSON string or an object with one of \(manifestPathKeys.joined(separator: ", "))")
                }
            }
            let source = item.hasPrefix("/") ? (item as NSString).standardizingPath
                : ((dir as NSString).appendingPathComponent(item) as NSString).standardizingPath
            let base = (dir as NSString).standardizingPath
            let rel = source.hasPrefix(base + "/") ? relativePath(source, to: base) : String(source.drop { $0 == "/" })
            out.append(CorpusInput(source: source, relative: rel))
        }
        return out
    }

    static func absolute(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        return (p as NSString).standardizingPath
    }

    static func relativePath(_ path: String, to base: String) -> String {
        let b = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(b) ? String(path.dropFirst(b.count)) : (path as NSString).lastPathComponent
    }
}
