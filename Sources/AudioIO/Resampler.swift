// Resampler: libsoxr at high quality, whole-buffer or block by block (same output either way).
// One Swift owner per soxr handle: deinit deletes it.
import Foundation
internal import CSoxr

/// A streaming resampler. Feed blocks with `process`, then call `flush` once for the tail.
public final class Resampler {
    public let inputRate: Int
    public let outputRate: Int
    public let channelCount: Int
    private let handle: soxr_t
    private var flushed = false

    /// Creates a resampler at libsoxr's "high quality" (SOXR_HQ: 20-bit precision, passband to 91.3 %
    /// of Nyquist) with float32 interleaved I/O.
    public init(inputRate: Int, outputRate: Int, channelCount: Int) throws {
        guard inputRate > 0, outputRate > 0 else { throw AudioError.resampler(reason: "rates must be positive (got \(inputRate) → \(outputRate))") }
        guard channelCount > 0 else { throw AudioError.resampler(reason: "channel count must be positive") }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.channelCount = channelCount
        var err: soxr_error_t? = nil
        var io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var q = soxr_quality_spec(UInt(SOXR_HQ), 0)
        var rt = soxr_runtime_spec(1) // one thread inside soxr: the result must not depend on threading
        guard let h = soxr_create(Double(inputRate), Double(outputRate), UInt32(channelCount), &err, &io, &q, &rt), err == nil else {
            throw AudioError.resampler(reason: err.map { String(cString: $0) } ?? "soxr_create failed")
        }
        handle = h
    }

    deinit { soxr_delete(handle) }

    /// Resamples one block; returns what is ready (may be empty while the filter fills).
    public func process(_ block: AudioBuffer) throws -> AudioBuffer {
        precondition(!flushed, "Resampler.process after flush")
        guard block.channelCount == channelCount, block.sampleRate == inputRate else {
            throw AudioError.resampler(reason: "block is \(block.channelCount) ch at \(block.sampleRate) Hz, resampler expects \(channelCount) ch at \(inputRate) Hz")
        }
        return try run(input: block.interleaved(), frames: block.frameCount)
    }

    /// Drains the filter's tail; call once after the last block.
    public func flush() throws -> AudioBuffer {
        precondition(!flushed, "Resampler.flush called twice")
        flushed = true
        return try run(input: nil, frames: 0)
    }

    private func run(input: [Float]?, frames: Int) throws -> AudioBuffer {
        let ratio = Double(outputRate) / Double(inputRate)
        let chunk = max(1024, Int((Double(frames) * ratio).rounded(.up)) + 64)
        var out = [Float]()
        var outBuf = [Float](repeating: 0, count: chunk * channelCount)
        var consumed = 0
        while true {
            var idone = 0, odone = 0
            let err: soxr_error_t? = outBuf.withUnsafeMutableBytes { ob in
                if let input {
                    return input.withUnsafeBytes { ib in
                        let start = ib.baseAddress!.advanced(by: consumed * channelCount * 4)
                        return soxr_process(handle, start, frames - consumed, &idone, ob.baseAddress, chunk, &odone)
                    }
                }
                return soxr_process(handle, nil, 0, &idone, ob.baseAddress, chunk, &odone)
            }
            if let err { throw AudioError.resampler(reason: String(cString: err)) }
            consumed += idone
            out.append(contentsOf: outBuf[0 ..< odone * channelCount])
            // Done when all input is taken and soxr has no more output ready for this call.
            if consumed >= frames && odone < chunk { break }
        }
        return AudioBuffer(sampleRate: outputRate, channelCount: channelCount, interleaved: out)
    }

    /// Resamples a whole buffer.
    public static func resample(_ buffer: AudioBuffer, to rate: Int) throws -> AudioBuffer {
        if buffer.sampleRate == rate { return buffer }
        let r = try Resampler(inputRate: buffer.sampleRate, outputRate: rate, channelCount: buffer.channelCount)
        var out = try r.process(buffer)
        out.append(try r.flush())
        return out
    }
}
