// Output helpers shared by the commands: error lines on stderr, terminal detection.
import Foundation

/// Prints `error: <description>` as one line on standard error.
func printError(_ error: Error) {
    let text = (error as? CustomStringConvertible)?.description ?? "\(error)"
    FileHandle.standardError.write(Data("Error: \(text)\n".utf8))
}

/// True when standard error is a terminal (progress is shown only then).
var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }
