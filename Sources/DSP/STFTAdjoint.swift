// STFT adjoint: the gradient of a loss with respect to the signal, given its gradient with respect to the
// STFT's real and imaginary parts (what torch.stft's backward computes), on cached FFTW c2r plans.
// Legend: C channels, T samples, n FFT size, F = n/2+1 bins, N frames, W window length, B frames per block.
import Foundation

extension STFT {
    /// Backward of `forward`: accumulates dL/dx into `gradient` ([C, T] row-major, `+=`) given
    /// dL/dRe X and dL/dIm X (`realGradient`, `imagGradient`, [C, F, N] as `forward` returns them).
    ///
    /// With G[k] = dL/dRe X[k] + i·dL/dIm X[k] for one frame, the gradient of the windowed frame f is
    ///     df[i] = Re Σ_{k=0}^{F−1} G[k]·e^(+2πi·k·i/n)
    /// (the transpose of the onesided DFT), which one unnormalized c2r transform computes from
    /// H[0] = G[0], H[k] = G[k]/2 for 0 < k < n/2, H[n/2] = G[n/2] (even n): c2r doubles the interior bins
    /// through the Hermitian extension and ignores Im H[0] and Im H[n/2], whose forward columns are zero.
    /// Then dxₚ[t·hop + i] += s·w[i]·df[i] over frames (overlap-add; s = n^(−1/2) if normalized), and the
    /// centering pad is folded back: reflect padding adds the gradient of xₚ[pad − j] (j = 1 … pad) onto
    /// x[j] and of the mirrored end samples onto x[T−1−j]; constant padding drops it.
    ///
    /// Deterministic for every thread count: frames are transformed in parallel into their own rows of a
    /// scratch buffer; each channel's overlap-add and fold then runs serially in frame order.
    public func backward(realGradient: [Float], imagGradient: [Float], channels C: Int, signalLength T: Int,
                         gradient: inout [Float]) throws {
        let N = try frameCount(signalLength: T)
        let n = config.fftSize, F = config.binCount, hop = config.hopLength, pad = config.padding
        guard C >= 1, realGradient.count == C * F * N, imagGradient.count == C * F * N else {
            throw DSPError.shapeMismatch(what: "STFT backward spectrum gradient",
                                         expected: "[\(C), \(F), \(N)] = \(C * F * N) values per plane",
                                         actual: "\(realGradient.count) real, \(imagGradient.count) imaginary")
        }
        guard gradient.count == C * T else {
            throw DSPError.shapeMismatch(what: "STFT backward signal gradient", expected: "[\(C), \(T)]",
                                         actual: "\(gradient.count) values")
        }
        let W = config.windowLength, w0 = windowStart
        let B = blockFrames, blocks = (N + B - 1) / B
        let rDist = FFTLayout.realDistance(n), cDist = FFTLayout.complexDistance(n)
        let plan = try FFTPlanCache.plan(size: n, howMany: 1, kind: .inverse)
        let scale: Float = config.normalized ? 1 / Float(n).squareRoot() : 1
        // frameGrad[c, t, :] = s·w·df over the window span only (zero elsewhere).
        var frameGrad = [Float](repeating: 0, count: C * N * W)
        frameGrad.withUnsafeMutableBufferPointer { fg in
            realGradient.withUnsafeBufferPointer { gr in
                imagGradient.withUnsafeBufferPointer { gi in
                    paddedWindow.withUnsafeBufferPointer { wp in
                        let fgBase = fg.baseAddress!, grBase = gr.baseAddress!, giBase = gi.baseAddress!
                        let win = wp.baseAddress! + w0  // the window's nonzero span
                        dspParallelFor(C * blocks) { tasks in
                            let spectra = AlignedFloats(count: B * cDist)  // [B, cDist] interleaved H
                            let frame = AlignedFloats(count: rDist)
                            for task in tasks {
                                let c = task / blocks, t0 = (task % blocks) * B, t1 = min(N, t0 + B)
                                let count = t1 - t0
                                // Gather H for frames t0..<t1: rows of the planes are contiguous in t.
                                for k in 0..<F {
                                    let half: Float = (k == 0 || 2 * k == n) ? 1 : 0.5
                                    let reRow = grBase + (c * F + k) * N + t0  // dL/dRe X[c, k, t0...]
                                    let imRow = giBase + (c * F + k) * N + t0
                                    let dst = spectra.pointer + 2 * k
                                    for j in 0..<count {
                                        dst[j * cDist] = half * reRow[j]
                                        dst[j * cDist + 1] = half * imRow[j]
                                    }
                                }
                                for j in 0..<count {
                                    plan.inverse(spectra.pointer + j * cDist, frame.pointer)  // df (destroys H)
                                    let src = frame.pointer + w0
                                    let dst = fgBase + (c * N + t0 + j) * W  // frameGrad[c, t0 + j, :]
                                    for i in 0..<W { dst[i] = scale * win[i] * src[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Overlap-add into the padded signal's gradient, then fold the padding back onto x.
        let P = T + 2 * pad
        let reflect = config.padMode == .reflect
        gradient.withUnsafeMutableBufferPointer { gx in
            frameGrad.withUnsafeBufferPointer { fg in
                let gxBase = gx.baseAddress!, fgBase = fg.baseAddress!
                dspParallelFor(C) { channels in
                    var padded = [Float](repeating: 0, count: P)
                    for c in channels {
                        padded.withUnsafeMutableBufferPointer { gp in
                            let g = gp.baseAddress!
                            g.update(repeating: 0, count: P)
                            for t in 0..<N {
                                let src = fgBase + (c * N + t) * W, dst = g + t * hop + w0
                                for i in 0..<W { dst[i] += src[i] }
                            }
                            let row = gxBase + c * T  // dL/dx[c, :]
                            for j in 0..<T { row[j] += g[pad + j] }
                            if reflect && pad > 0 {
                                // xₚ[pad − j] = x[j] and xₚ[pad + T − 1 + j] = x[T − 1 − j], j = 1 … pad.
                                for j in 1...pad {
                                    row[j] += g[pad - j]
                                    row[T - 1 - j] += g[pad + T - 1 + j]
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
