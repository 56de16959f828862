// TrainingError: the one error type of the Training module (trainer, data pipeline, checkpoints, losses).
import Foundation

/// Errors thrown while preparing data, training, or saving and resuming training state.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A training data directory holds no audio file that could be read.
    case noTrainingAudio(directory: String)
    /// A loss or gradient became NaN or infinite at `step`.
    case nonFinite(what: String, step: Int)
    /// A hyperparameter is out of range.
    case invalidParameter(name: String, value: String, reason: String)
    /// A checkpoint cannot be resumed: wrong format, or made with another configuration.
    case checkpoint(path: String, reason: String)

    public var description: String {
        switch self {
        case let .noTrainingAudio(directory):
            return "\(directory): no readable audio file found for training"
        case let .nonFinite(what, step):
            return "\(what) became NaN or infinite at step \(step): lower the learning rate or check the data"
        case let .invalidParameter(name, value, reason):
            return "invalid \(name) \(value): \(reason)"
        case let .checkpoint(path, reason):
            return "\(path): cannot resume from this checkpoint: \(reason)"
        }
    }
}
