// File access shared by the readers and writers: whole-file reads with clear errors, and writes that go
// to a temporary file in the destination's directory and are renamed into place (never a partial file).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Message for the current `errno`.
private func errnoMessage(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// Reads the whole file at `path` (memory-mapped when possible). Throws `unreadable` for a missing file,
/// a directory or a permission problem, naming the path.
func readWholeFile(_ path: String) throws -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ModelFileError.unreadable(path: path, reason: "no such file")
    }
    if isDirectory.boolValue { throw ModelFileError.unreadable(path: path, reason: "is a directory") }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw ModelFileError.unreadable(path: path, reason: errnoMessage()) }
    close(fd)
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
    } catch {
        throw ModelFileError.unreadable(path: path, reason: "\(error.localizedDescription)")
    }
}

/// Writes `data` to `path` atomically: the bytes go to a hidden temporary file in the same directory,
/// which is flushed and renamed over `path`. On any failure the temporary file is removed and nothing is
/// left behind; an existing file at `path` is untouched. Throws `unwritable` naming `path` and the reason.
func writeFileAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ModelFileError.unwritable(path: path, reason: "directory \(directory) does not exist")
    }
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw ModelFileError.unwritable(path: path, reason: "is a directory")
    }
    let temporary = URL(fileURLWithPath: directory)
        .appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)").path
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw ModelFileError.unwritable(path: path, reason: errnoMessage()) }
    var failure: String? = nil
    data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errnoMessage(); return
            }
            offset += n
        }
    }
    if failure == nil && fsync(fd) != 0 { failure = errnoMessage() }
    if close(fd) != 0 && failure == nil { failure = errnoMessage() }
    if failure == nil && rename(temporary, path) != 0 { failure = errnoMessage() }
    if let failure {
        unlink(temporary)
        throw ModelFileError.unwritable(path: path, reason: failure)
    }
}
