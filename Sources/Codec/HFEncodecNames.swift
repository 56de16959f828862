// HFEncodecNames: maps the Hugging Face transformers EnCodec tensor names onto the original EnCodec
// state-dict names, in one table of rules (transformers' EncodecModel: encoder.layers.N.conv,
// .norm, .block.M, .shortcut, .lstm; decoder transposed convs also under .conv; quantizer.layers.N.codebook).
import ModelFile

public enum HFEncodecNames {
    /// One renaming rule: a name prefix in HF spelling and its EnCodec spelling.
    private static let prefixes: [(hf: String, encodec: String)] = [
        ("encoder.layers.", "encoder.model."),
        ("decoder.layers.", "decoder.model."),
        ("quantizer.layers.", "quantizer.vq.layers."),
    ]
    /// Parametrized weight norm (newer transformers) → the classic names.
    private static let weightNormSuffixes: [(String, String)] = [
        ("parametrizations.weight.original0", "weight_g"),
        ("parametrizations.weight.original1", "weight_v"),
    ]

    /// Renames every tensor; throws on a name that fits no rule.
    public static func toEncodec(_ tensors: [String: TensorData], path: String) throws -> [String: TensorData] {
        // The decoder's direct convs are: the first, the last, and the transposed convs between them.
        let decoderConvIndices = Set(tensors.keys.compactMap { directConvIndex($0, stack: "decoder") })
        let firstDec = decoderConvIndices.min(), lastDec = decoderConvIndices.max()
        var out: [String: TensorData] = [:]
        for (name, value) in tensors {
            var n = name
            for (a, b) in weightNormSuffixes where n.hasSuffix(a) { n = String(n.dropLast(a.count)) + b }
            guard let rule = prefixes.first(where: { n.hasPrefix($0.hf) }) else {
                throw ModelFileError.corrupt(path: path, reason: "tensor '\(name)' is not an EnCodec tensor")
            }
            var rest = String(n.dropFirst(rule.hf.count)) // "3.conv.weight_g", "1.block.1.conv.bias", "0.codebook.embed"
            if rule.hf.hasPrefix("quantizer") {
                rest = rest.replacingOccurrences(of: ".codebook.", with: "._codebook.")
            } else {
                let parts = rest.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2, let index = Int(parts[0]) else {
                    throw ModelFileError.corrupt(path: path, reason: "tensor '\(name)' has no layer index")
                }
                let isTransposed = rule.hf.hasPrefix("decoder") && index != firstDec && index != lastDec
                    && decoderConvIndices.contains(index)
                rest = "\(index)." + renameInsideLayer(parts[1], transposed: isTransposed)
            }
            out[rule.encodec + rest] = value
        }
        return out
    }

    /// "conv.weight_g" → "conv.conv.weight_g" (or "convtr.convtr.…"); "norm.weight" → "conv.norm.weight";
    /// inside residual blocks the same for "block.M.conv…" and "shortcut.conv…"; LSTM names are unchanged.
    private static func renameInsideLayer(_ s: String, transposed: Bool) -> String {
        let wrapper = transposed ? "convtr" : "conv"
        if s.hasPrefix("conv.") { return "\(wrapper).\(wrapper)." + s.dropFirst("conv.".count) }
        if s.hasPrefix("norm.") { return "\(wrapper).norm." + s.dropFirst("norm.".count) }
        for head in ["block.", "shortcut."] where s.hasPrefix(head) {
            // block.M.conv.X or shortcut.conv.X
            var parts = s.split(separator: ".").map(String.init)
            let convAt = head == "block." ? 2 : 1
            if parts.count > convAt, parts[convAt] == "conv" { parts.insert("conv", at: convAt) }
            else if parts.count > convAt, parts[convAt] == "norm" { parts.insert("conv", at: convAt) }
            return parts.joined(separator: ".")
        }
        return s
    }

    /// Index N of "STACK.layers.N.conv.…" (a direct conv, not inside a block).
    private static func directConvIndex(_ name: String, stack: String) -> Int? {
        let head = "\(stack).layers."
        guard name.hasPrefix(head) else { return nil }
        let parts = name.dropFirst(head.count).split(separator: ".")
        guard parts.count >= 3, parts[1] == "conv", let i = Int(parts[0]) else { return nil }
        return i
    }
}
