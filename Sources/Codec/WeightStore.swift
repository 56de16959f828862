// WeightStore: hands out a model's tensors by structural name with the expected shape, and reports what
// was missing, misshapen or left unused (DESIGN.md §10–11).
import ModelFile
import NN

/// Tensors by name (EnCodec's state-dict names after weight-norm folding). Each `take` checks the shape;
/// `finish` fails on tensors nobody took.
final class WeightStore {
    let path: String
    private var tensors: [String: TensorData]
    private var taken: Set<String> = []
    /// Names that may be left over without error (e.g. EnCodec's k-means buffers in `.th` files).
    private let ignorable: (String) -> Bool

    private let recorder: ShapeRecorder?

    init(_ tensors: [String: TensorData], path: String, ignorable: @escaping (String) -> Bool = { _ in false }) {
        self.tensors = tensors
        self.path = path
        self.ignorable = ignorable
        self.recorder = nil
    }

    /// A store that answers every request with zeros and records the name and shape asked for.
    init(recording recorder: ShapeRecorder, path: String) {
        self.tensors = [:]
        self.path = path
        self.ignorable = { _ in true }
        self.recorder = recorder
    }

    /// The tensor called `name`, which must have `shape`.
    func take(_ name: String, _ shape: [Int]) throws -> Tensor {
        if let recorder {
            recorder.shapes[name] = shape
            return Tensor(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
        }
        guard let t = tensors[name] else { throw ModelFileError.missingTensor(path: path, name: name) }
        guard t.shape == shape else {
            throw ModelFileError.shapeMismatch(path: path, name: name, expected: shape, found: t.shape)
        }
        taken.insert(name)
        return Tensor(shape: t.shape, data: t.values)
    }

    /// Whether a tensor exists (used to tell weight-norm from group-norm checkpoints).
    func has(_ name: String) -> Bool { tensors[name] != nil }

    /// Throws on the first (sorted) tensor that no layer used.
    func finish() throws {
        for name in tensors.keys.sorted() where !taken.contains(name) && !ignorable(name) {
            throw ModelFileError.unusedTensor(path: path, name: name)
        }
    }
}
