// MetricsError: the one error type of the Metrics module, and MetricResult, the value-or-undefined type
// that metrics return where their formula has no value (silence) instead of NaN.
import DSP

/// Errors thrown by metrics for inputs they cannot compare.
public enum MetricsError: Error, Equatable, CustomStringConvertible {
    /// Reference and estimate differ in sample count (per channel × channels).
    case lengthMismatch(reference: Int, estimate: Int)
    /// A buffer of `samples` values cannot be split into `channels` equal channels.
    case channelLayout(samples: Int, channels: Int)
    /// `signal` ("reference" or "estimate") holds a NaN or an infinity.
    case nonFinite(signal: String)
    /// Codes outside [0, codebook size), or a shape that does not fit.
    case invalidCodes(String)
    /// A metric's parameter is out of range.
    case invalidParameter(name: String, value: String, reason: String)
    /// The spectral transform behind `metric` refused the input (e.g. a signal shorter than its padding).
    case transform(metric: String, DSPError)
    /// A file or directory that should hold audio holds none (`reason` says what was found).
    case noAudio(path: String, reason: String)
    /// Two signals that cannot be compared (e.g. different channel counts); `reason` says what to do.
    case incomparable(reason: String)

    public var description: String {
        switch self {
        case let .lengthMismatch(r, e):
            return "reference has \(r) samples but estimate has \(e): trim or resample them to the same length first"
        case let .channelLayout(samples, channels):
            return "\(samples) samples cannot be split into \(channels) equal channels"
        case let .nonFinite(signal):
            return "the \(signal) contains NaN or infinite samples"
        case let .invalidCodes(reason):
            return "invalid codes: \(reason)"
        case let .invalidParameter(name, value, reason):
            return "invalid \(name) \(value): \(reason)"
        case let .transform(metric, error):
            return "\(metric): \(error)"
        case let .noAudio(path, reason):
            return "\(path): \(reason)"
        case let .incomparable(reason):
            return "cannot compare: \(reason)"
        }
    }
}

/// Why a metric has no value.
public enum UndefinedReason: String, Sendable, Equatable, CaseIterable {
    case emptySignal = "the signals are empty"
    case silentReference = "the reference is silent"
    case silentEstimate = "the estimate is silent"
    /// Spectral metrics need a minimum length (reflect padding by n_fft/2 of their largest FFT).
    case tooShort = "the signal is shorter than the metric's analysis window"
}

/// A metric's value, or the statement that it is undefined for this input. Never NaN.
public enum MetricResult: Sendable, Equatable, CustomStringConvertible {
    /// Finite, or ±∞ where the formula's limit is infinite (an error-free estimate has +∞ dB SNR).
    case value(Double)
    case undefined(UndefinedReason)

    /// The number, nil when undefined.
    public var value: Double? {
        if case .value(let v) = self { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .value(let v): return v.isFinite ? "\(v)" : (v > 0 ? "+inf" : "-inf")
        case .undefined(let why): return "undefined (\(why.rawValue))"
        }
    }
}

extension MetricResult: Codable {
    /// JSON form for scripts: a finite value is a number; ±∞ is the string "+inf" / "-inf"; an undefined
    /// result is the string "undefined (<reason>)" (JSON has no NaN or infinity).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if case .value(let v) = self, v.isFinite { try c.encode(v) } else { try c.encode(description) }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Double.self) { self = .value(v); return }
        let s = try c.decode(String.self)
        switch s {
        case "+inf": self = .value(.infinity)
        case "-inf": self = .value(-.infinity)
        default:
            for r in UndefinedReason.allCases
            where s == "undefined (\(r.rawValue))" {
                self = .undefined(r); return
            }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a metric value: \(s)")
        }
    }
}

/// Checks equal counts, a whole number of channels, and finite samples, for metrics on two signals.
func checkPair(reference: [Float], estimate: [Float], channels: Int) throws {
    guard reference.count == estimate.count else {
        throw MetricsError.lengthMismatch(reference: reference.count, estimate: estimate.count)
    }
    guard channels >= 1, reference.count % channels == 0 else {
        throw MetricsError.channelLayout(samples: reference.count, channels: channels)
    }
    if !reference.allSatisfy({ $0.isFinite }) { throw MetricsError.nonFinite(signal: "reference") }
    if !estimate.allSatisfy({ $0.isFinite }) { throw MetricsError.nonFinite(signal: "estimate") }
}
