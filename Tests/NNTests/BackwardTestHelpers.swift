// Double-precision forward passes written independently of the kernels, for the finite-difference checks of
// the backward kernels (test helpers, not tests), and the loader of Tests/Fixtures/training.
import Foundation
import NN
import TestSupport

enum DoubleForward {
    /// pad1d of one row as encodec does it (reflect extends a short row with zeros first).
    static func pad(_ row: [Double], _ left: Int, _ right: Int, _ mode: String) -> [Double] {
        var r = row
        var extra = 0
        if mode == "reflect" && row.count <= max(left, right) {
            extra = max(left, right) - row.count + 1
            r += [Double](repeating: 0, count: extra)
        }
        let l = r.count
        var out: [Double] = []
        for p in -left..<(l + right) {
            if p >= 0 && p < l { out.append(r[p]); continue }
            switch mode {
            case "reflect": out.append(r[p < 0 ? -p : 2 * (l - 1) - p])
            case "replicate": out.append(r[p < 0 ? 0 : l - 1])
            default: out.append(0)
            }
        }
        return Array(out.dropLast(extra))
    }

    static func elu(_ v: Double, _ alpha: Double?) -> Double { alpha.map { v > 0 ? v : $0 * expm1(v) } ?? v }

    /// y = conv1d(pad(elu?(x)), w, b): x [B, Cin, Tin], w [Cout, Cin, K], y [B, Cout, Tout].
    static func conv1d(x: [Double], w: [Double], b: [Double], shape s: Conv1dShape, mode: String, alpha: Double?) -> [Double] {
        let tp = s.paddedLength, tout = s.outLength
        var y = [Double](repeating: 0, count: s.batch * s.outChannels * tout)
        for bb in 0..<s.batch {
            var xp: [[Double]] = []
            for ci in 0..<s.inChannels {
                let row = (0..<s.inLength).map { elu(x[(bb * s.inChannels + ci) * s.inLength + $0], alpha) }
                xp.append(pad(row, s.padLeft, s.padRight, mode))
                precondition(xp[ci].count == tp)
            }
            for co in 0..<s.outChannels {
                for t in 0..<tout {
                    var acc = b[co]
                    for ci in 0..<s.inChannels {
                        for k in 0..<s.kernelSize { acc += w[(co * s.inChannels + ci) * s.kernelSize + k] * xp[ci][t * s.stride + k * s.dilation] }
                    }
                    y[(bb * s.outChannels + co) * tout + t] = acc
                }
            }
        }
        return y
    }

    /// y = convTranspose1d(elu?(x), w, b) trimmed: x [B, Cin, T], w [Cin, Cout, K].
    static func convTranspose1d(x: [Double], w: [Double], b: [Double], shape s: ConvTranspose1dShape, alpha: Double?) -> [Double] {
        let full = s.fullLength, to = s.outLength
        var y = [Double](repeating: 0, count: s.batch * s.outChannels * to)
        for bb in 0..<s.batch {
            var f = [Double](repeating: 0, count: s.outChannels * full)
            for co in 0..<s.outChannels { for p in 0..<full { f[co * full + p] = b[co] } }
            for ci in 0..<s.inChannels {
                for t in 0..<s.inLength {
                    let v = elu(x[(bb * s.inChannels + ci) * s.inLength + t], alpha)
                    for co in 0..<s.outChannels {
                        for k in 0..<s.kernelSize { f[co * full + t * s.stride + k] += v * w[(ci * s.outChannels + co) * s.kernelSize + k] }
                    }
                }
            }
            for co in 0..<s.outChannels { for o in 0..<to { y[(bb * s.outChannels + co) * to + o] = f[co * full + s.trimLeft + o] } }
        }
        return y
    }

    /// One LSTM layer from zero state: x [B, In, T] → h [B, H, T] (gates i, f, g, o).
    static func lstm(x: [Double], wih: [Double], whh: [Double], bih: [Double], bhh: [Double], shape s: LSTMShape) -> [Double] {
        let hd = s.hiddenSize, inp = s.inputSize, t = s.length
        var y = [Double](repeating: 0, count: s.batch * hd * t)
        func sig(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        for b in 0..<s.batch {
            var h = [Double](repeating: 0, count: hd), c = h
            for step in 0..<t {
                var a = [Double](repeating: 0, count: 4 * hd)
                for r in 0..<(4 * hd) {
                    var acc = bih[r] + bhh[r]
                    for k in 0..<inp { acc += wih[r * inp + k] * x[(b * inp + k) * t + step] }
                    for k in 0..<hd { acc += whh[r * hd + k] * h[k] }
                    a[r] = acc
                }
                for j in 0..<hd {
                    c[j] = sig(a[hd + j]) * c[j] + sig(a[j]) * tanh(a[2 * hd + j])
                    h[j] = sig(a[3 * hd + j]) * tanh(c[j])
                    y[(b * hd + j) * t + step] = h[j]
                }
            }
        }
        return y
    }
}

/// Σ r·y in Double.
func weightedSum(_ y: [Double], _ r: [Float]) -> Double {
    var s = 0.0
    for i in 0..<y.count { s += y[i] * Double(r[i]) }
    return s
}

func trainingFixtures() throws -> FixtureBlob { try FixtureBlob(directory: "training", file: "training.f32") }

func padMode(_ s: String) -> PadMode {
    switch s {
    case "reflect": return .reflect
    case "replicate": return .replicate
    default: return .zero
    }
}
