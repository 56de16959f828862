// bench-train: throughput of one training step of the trainable SEANet (encoder → decoder, MSE to the input,
// Adam), per phase, in seconds of audio per second. Outside the test suite.
// Usage: bench-train [filters=32] [batch=4] [seconds=1.0] [steps=3] [lstm=2]
//        bench-train coord mup|sp WIDTHS(2,4,8) [steps=4] [lr=0.01] [baseFilters=2]   (µP coordinate check, CSV)
import Codec
import Foundation
import NN
import Training

let args = CommandLine.arguments.dropFirst().map { $0 }
if args.first == "coord" {
    let p: Parameterization = args.count > 1 && args[1] == "sp" ? .standard : .muP
    let widths = (args.count > 2 ? args[2] : "2,4,8").split(separator: ",").compactMap { Int($0) }
    let steps = args.count > 3 ? Int(args[3]) ?? 4 : 4
    let lr = args.count > 4 ? Double(args[4]) ?? 0.01 : 0.01
    let base = args.count > 5 ? Int(args[5]) ?? 2 : 2
    let t = 4800
    let audio = Tensor(shape: [1, 1, t], data: (0..<t).map { i in 0.5 * sin(Float(i) * 0.05) + 0.2 * sin(Float(i) * 0.71) })
    let rows = try coordinateCheck(config: .trainable24kHz(filters: base, codebooks: 1, lstmLayers: 2), widths: widths,
                                   scaling: WidthScaling(parameterization: p, baseFilters: base), steps: steps,
                                   learningRate: lr, audio: audio, seed: 1)
    print("parameterization,filters,step,layer,rms,change_rms")
    for r in rows { print("\(p.rawValue),\(r.filters),\(r.step),\(r.layer),\(r.rms),\(r.changeRMS)") }
    exit(0)
}
if args.first == "kernels" {
    // One thread, CPU time: forward conv vs its dX and dWeight for the layers that dominate at width 32.
    func cpu() -> Double { var t = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec) }
    Parallel.threadCount = 1
    for (name, sh) in [("res k3 32→16", Conv1dShape(batch: 2, inChannels: 32, outChannels: 16, inLength: 24000, kernelSize: 3, padLeft: 2)),
                       ("res k1 16→32", Conv1dShape(batch: 2, inChannels: 16, outChannels: 32, inLength: 24000, kernelSize: 1)),
                       ("down k4 s2 32→64", Conv1dShape(batch: 2, inChannels: 32, outChannels: 64, inLength: 24000, kernelSize: 4, stride: 2, padLeft: 2)),
                       ("down k16 s8 256→512", Conv1dShape(batch: 2, inChannels: 256, outChannels: 512, inLength: 600, kernelSize: 16, stride: 8, padLeft: 8))] {
        let x = (0..<sh.inputCount).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
        let w = (0..<sh.weightCount).map { Float(($0 * 104729) % 1000) / 10000 - 0.05 }
        var y = [Float](repeating: 0, count: sh.outputCount), dx = x, dw = w
        var t0 = cpu()
        conv1dForward(out: &y, x: x, weight: w, bias: nil, shape: sh, padMode: .reflect, inputELU: 1)
        let f = cpu() - t0; t0 = cpu()
        conv1dBackward(dx: &dx, dWeight: nil, dBias: nil, dOut: y, x: x, weight: w, shape: sh, padMode: .reflect, inputELU: 1)
        let bx = cpu() - t0; t0 = cpu()
        conv1dBackward(dx: nil, dWeight: &dw, dBias: nil, dOut: y, x: x, weight: w, shape: sh, padMode: .reflect, inputELU: 1)
        let bw = cpu() - t0
        let gf = Double(2 * sh.multiplyAdds) * 1e-9
        print(String(format: "%-22@ forward %.3f s (%.1f GFLOP/s)  dX %.3f s  dW %.3f s (%.1f GFLOP/s)", name as NSString, f, gf / f, bx, bw, gf / bw))
    }
    exit(0)
}
AllocatorPolicy.keepFreedMemory()  // as `codec train` does
func arg(_ i: Int, _ d: Double) -> Double { i < args.count ? Double(args[i]) ?? d : d }
let filters = Int(arg(0, 32)), batch = Int(arg(1, 4)), seconds = arg(2, 1.0), steps = Int(arg(3, 3)), lstm = Int(arg(4, 2))
let config = CodecConfig.trainable24kHz(filters: filters, codebooks: 8, lstmLayers: lstm)
let scaling = WidthScaling(parameterization: .muP, baseFilters: 32)
let model = try TrainableSEANet(config: config, scaling: scaling, seed: 1)
let adam = Adam(model: model, scaling: scaling)
let t = Int(seconds * Double(config.sampleRate)) / config.hopLength * config.hopLength
var audio = Tensor.zeros([batch, 1, t])
for b in 0..<batch { for i in 0..<t { audio.data[b * t + i] = 0.3 * sin(Float(i) * 0.01 * Float(b + 1)) + 0.05 * sin(Float(i) * 0.37) } }
print("bench-train: filters \(filters), \(model.parameterCount) parameters, batch \(batch) × \(t) samples, LSTM \(lstm), threads \(Parallel.threadCount)")

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
var phases = [String: Double]()
var total = 0.0
for step in 0...steps {
    var t0 = now(); let start = t0
    func lap(_ name: String) { let t1 = now(); if step > 0 { phases[name, default: 0] += t1 - t0 }; t0 = t1 }
    let (z, et) = model.encoderForward(audio); lap("encoder forward")
    let (y, dt) = model.decoderForward(z); lap("decoder forward")
    var dy = Tensor.zeros(y.shape)
    let scale = 2 / Float(y.count)
    for i in 0..<y.count { dy.data[i] = scale * (y.data[i] - audio.data[i]) }
    model.zeroGradients(); lap("loss")
    let dz = model.decoderBackward(dt, dAudio: dy); lap("decoder backward")
    model.encoderBackward(et, dLatent: dz); lap("encoder backward")
    clipGradientNorm(&model.gradients, maxNorm: 1)
    adam.update(values: &model.values, gradients: model.gradients, lr: 1e-4); lap("adam")
    if step > 0 { total += now() - start }  // step 0 warms up
}
for (name, v) in phases.sorted(by: { $0.value > $1.value }) {
    print(String(format: "  %-18@ %8.3f s/step  (%4.1f%%)", name as NSString, v / Double(steps), 100 * v / total))
}
let audioSeconds = Double(batch * t) / Double(config.sampleRate)
print(String(format: "  %.3f s/step, %.3f s of audio per second", total / Double(steps), audioSeconds * Double(steps) / total))
