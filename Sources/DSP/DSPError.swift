// DSPError: the one error type of the DSP module (bad parameters, signals too short, invalid spectra).

/// Errors thrown by DSP: parameters that cannot describe a transform, signals or spectra that do not fit
/// one. Each case names the offending value so a CLI can print it as is.
public enum DSPError: Error, Equatable, CustomStringConvertible {
    /// A parameter is out of range: `name` is the parameter, `value` what was given, `reason` the rule.
    case invalidParameter(name: String, value: String, reason: String)
    /// The signal has `length` samples per channel; the transform needs at least `required`.
    case signalTooShort(length: Int, required: Int, reason: String)
    /// A buffer's element count does not match the declared shape.
    case shapeMismatch(what: String, expected: String, actual: String)
    /// FFTW returned no plan (it does so only for unsupported parameters or when out of memory).
    case planCreationFailed(size: Int, howMany: Int, kind: String)
    /// Inverse STFT: the summed squared window is (nearly) zero at a sample, so the overlap-add cannot be
    /// inverted there (the NOLA condition fails, as torch.istft reports).
    case windowEnvelopeVanishes(sample: Int, value: Float)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, reason):
            return "invalid \(name) \(value): \(reason)"
        case let .signalTooShort(length, required, reason):
            return "signal too short: \(length) samples per channel, need at least \(required) (\(reason))"
        case let .shapeMismatch(what, expected, actual):
            return "\(what): expected \(expected), got \(actual)"
        case let .planCreationFailed(size, howMany, kind):
            return "FFTW could not create a \(kind) plan of size \(size) × \(howMany)"
        case let .windowEnvelopeVanishes(sample, value):
            return "inverse STFT: window overlap-add envelope is \(value) at sample \(sample) "
                + "(NOLA condition fails: the window and hop do not overlap enough)"
        }
    }
}
