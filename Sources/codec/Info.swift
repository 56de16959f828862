// `codec info`: what audio files hold (format, rate, channels, length, peak and RMS levels).
import ArgumentParser
import AudioIO
import Foundation

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show format, sample rate, channels, duration, peak and RMS (dBFS) of audio files.")

    @Argument(help: "Audio files (any format libsndfile reads).")
    var files: [String]

    @Flag(help: "Print JSON (an array with one object per file) instead of text.")
    var json = false

    struct Report: Codable {
        var path: String
        var format: String
        var encoding: String
        var sampleRate: Int
        var channels: Int
        var frames: Int
        var duration: Double
        var peakDBFS: Double?
        var rmsDBFS: Double?
    }

    func run() throws {
        var reports: [Report] = []
        var failures = 0
        for path in files {
            let reader: AudioFileReader
            do { reader = try AudioFileReader(path: path) } catch {
                // Report every bad file, keep going, and exit non-zero at the end.
                printError(error)
                failures += 1
                continue
            }
            var levels = AudioLevels()
            while let block = try reader.read(maxFrames: 65536) { levels.add(block.samples) }
            let i = reader.info
            reports.append(Report(path: path, format: i.format, encoding: i.encoding, sampleRate: i.sampleRate,
                                  channels: i.channelCount, frames: i.frameCount, duration: i.duration,
                                  peakDBFS: levels.peakDBFS.map(round2), rmsDBFS: levels.rmsDBFS.map(round2)))
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(reports), as: UTF8.self))
        } else {
            printText(reports)
        }
        if failures > 0 { throw ExitCode.failure }
    }

    private func printText(_ reports: [Report]) {
        for r in reports {
            let peak = r.peakDBFS.map { String(format: "%.2f dBFS", $0) } ?? "silent"
            let rms = r.rmsDBFS.map { String(format: "%.2f dBFS", $0) } ?? "silent"
            print("""
            \(r.path)
              format       \(r.format), \(r.encoding)
              sample rate  \(r.sampleRate) Hz
              channels     \(r.channels)
              frames       \(r.frames)
              duration     \(String(format: "%.3f", r.duration)) s
              peak         \(peak)
              RMS          \(rms)
            """)
        }
    }
}

func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }
