// Token files: codes `[K, T]` as NumPy int16 `.npy` (what `codec tokenize` writes), laid-out sequences as
// int32 `.npy`, and the bridge from either to the codec's `EncodedAudio` for decoding.
import Codec
import Foundation
import ModelFile

/// Reading and writing token arrays as `.npy`.
public enum TokenFile {
    /// Writes codes `[K, T]` as int16 (every code of a codebook of up to 32768 entries fits), through a
    /// temporary file renamed into place.
    public static func writeCodes(_ codes: TokenArray, to path: String) throws {
        precondition(codes.shape.count == 2, "writeCodes: codes must be [K, T]")
        try Npy.write(IntTensorData(shape: codes.shape, values: codes.values.map(Int64.init), elementType: .int16), to: path)
    }

    /// Writes a laid-out sequence (any rank) as int32 (flatten's offsets exceed int16 for large K·N).
    public static func writeSequence(_ sequence: TokenArray, to path: String) throws {
        try Npy.write(IntTensorData(shape: sequence.shape, int32Values: sequence.values), to: path)
    }

    /// Reads an integer `.npy` (any integer dtype, rank 1 or 2) as a `TokenArray`; refuses other ranks and
    /// values outside Int32.
    public static func read(path: String) throws -> TokenArray {
        let t = try Npy.readIntegers(path: path)
        guard t.shape.count == 1 || t.shape.count == 2 else {
            throw TokensError.invalidTokens(path: path, reason: "expected a rank-1 or rank-2 array, found shape \(t.shape)")
        }
        return TokenArray(shape: t.shape, values: try t.int32Values(path: path, name: "tokens"))
    }

    /// Reads codes `[K, T]`.
    public static func readCodes(path: String) throws -> TokenArray {
        let a = try read(path: path)
        guard a.shape.count == 2 else {
            throw TokensError.invalidTokens(path: path, reason: "expected codes [K, T], found shape \(a.shape) (a laid-out sequence needs --pattern)")
        }
        return a
    }

    /// Codes `[K, T]` from a `.npy` file: the codes themselves when `pattern` is nil, else a sequence in
    /// that pattern, reverted (`codebooks` is needed for flatten). Special tokens are N = `bins`.
    public static func readCodes(path: String, pattern: TokenPattern?, bins: Int, codebooks: Int? = nil) throws -> TokenArray {
        guard let pattern else {
            let codes = try readCodes(path: path)
            if let codebooks, codebooks != codes.rows {
                throw TokensError.invalidTokens(path: path, reason: "\(codes.rows) codebooks, expected \(codebooks)")
            }
            return codes
        }
        return try TokenLayout(pattern: pattern, bins: bins).unlayout(try read(path: path), codebooks: codebooks, path: path)
    }
}

extension CodecModel {
    /// Why this model cannot use plain `[K, T]` token files, or nil if it can: the codes of a model with
    /// segments or per-segment scales do not fit one `[K, T]` array.
    public var tokenFileLimitation: String? {
        if config.segment != nil || config.normalize {
            return "it encodes in \(config.segment.map { "\($0) s " } ?? "")segments\(config.normalize ? " with per-segment scales" : ""), which a [K, T] token array cannot hold; use a single-segment model (or .ecdc files)"
        }
        return nil
    }

    /// Codes `[K, T]` of a single-segment encoding.
    public func tokenArray(_ encoded: EncodedAudio) throws -> TokenArray {
        if let why = tokenFileLimitation { throw TokensError.unsupportedModel(name: config.name, reason: why) }
        precondition(encoded.segments.count == 1, "single-segment model produced \(encoded.segments.count) segments")
        let s = encoded.segments[0]
        return TokenArray(codebooks: s.codebooks, frames: s.frames, values: s.codes)
    }

    /// Codes `[K, T]` as an `EncodedAudio` to decode: one segment, T·hop samples long. Codes are checked
    /// against the model (codebook count and range), naming `path`.
    public func encodedAudio(codes: TokenArray, path: String) throws -> EncodedAudio {
        if let why = tokenFileLimitation { throw TokensError.unsupportedModel(name: config.name, reason: why) }
        guard codes.shape.count == 2, codes.columns > 0 else {
            throw TokensError.invalidTokens(path: path, reason: "expected codes [K, T] with T > 0, found shape \(codes.shape)")
        }
        let seg = EncodedSegment(codebooks: codes.rows, frames: codes.columns, codes: codes.values, scale: nil)
        let encoded = EncodedAudio(modelName: config.name, length: codes.columns * config.hopLength,
                                   codebooks: codes.rows, segments: [seg])
        try validate(encoded, path: path)
        return encoded
    }
}
