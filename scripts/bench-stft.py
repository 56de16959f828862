#!/usr/bin/env python3
"""STFT throughput: NeuralCodec's DSP (bench-dsp) against numpy, scipy and torch on the same signal, in one run.

All implementations compute a complex onesided STFT with n_fft 1024, hop 256, periodic Hann window and
reflect centering (scipy.signal.stft: boundary='even', the same reflection) of one seeded mono signal
(default 300 s at 24 kHz). Each is timed as the best of --repeats runs after a warm-up; FFT planning is
excluded (FFTW plans once per size and process). Wall-clock time decides the frames/s; process CPU time
is printed too because the machine may be shared.

    swift build -c release --product bench-dsp
    python3 scripts/bench-stft.py [--seconds 300] [--repeats 5]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
import scipy.fft
import scipy.signal
import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def best_of(fn, repeats):
    fn()  # warm-up
    wall, cpu = float("inf"), float("inf")
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu, out


def framed(x, n_fft, hop):
    xp = np.pad(x, n_fft // 2, mode="reflect")
    return np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--rate", type=int, default=24000)
    ap.add_argument("--n-fft", type=int, default=1024)
    ap.add_argument("--hop", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bench", default=os.path.join(ROOT, ".build", "release", "bench-dsp"))
    args = ap.parse_args()
    n_fft, hop = args.n_fft, args.hop

    if not os.path.exists(args.bench):
        subprocess.run(["swift", "build", "-c", "release", "--product", "bench-dsp"], cwd=ROOT, check=True)

    rng = np.random.default_rng(7)
    length = int(args.seconds * args.rate)
    t = np.arange(length) / args.rate
    x = (0.1 * rng.standard_normal(length) + 0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    window = torch.hann_window(n_fft).numpy()  # periodic Hann, float32
    rows = []  # (implementation, threads, frames, wall, cpu)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "signal.f32")
        x.astype("<f4").tofile(path)
        out = subprocess.run([args.bench, "--input", path, "--n-fft", str(n_fft), "--hop", str(hop),
                              "--threads", "1,2", "--repeats", str(args.repeats), "--json"],
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            r = json.loads(line)
            rows.append(("NeuralCodec DSP.STFT (FFTW)", r["threads"], r["frames"], r["seconds"], r["cpu_seconds"]))
            planning = r["planning_seconds"]

    def numpy_stft():
        return np.fft.rfft(framed(x, n_fft, hop) * window, axis=-1)

    wall, cpu, S = best_of(numpy_stft, args.repeats)
    rows.append(("numpy.fft.rfft, framed", 1, S.shape[0], wall, cpu))

    for workers in (1, 2):
        def scipy_fft_stft():
            return scipy.fft.rfft(framed(x, n_fft, hop) * window, axis=-1, workers=workers)
        wall, cpu, S = best_of(scipy_fft_stft, args.repeats)
        rows.append(("scipy.fft.rfft, framed", workers, S.shape[0], wall, cpu))

    def scipy_signal_stft():
        return scipy.signal.stft(x, window=window, nperseg=n_fft, noverlap=n_fft - hop, boundary="even",
                                 padded=False)[2]
    wall, cpu, S = best_of(scipy_signal_stft, args.repeats)
    rows.append(("scipy.signal.stft", 1, S.shape[1], wall, cpu))

    xt, wt = torch.from_numpy(x), torch.from_numpy(window)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        def torch_stft():
            return torch.stft(xt, n_fft, hop_length=hop, window=wt, center=True, pad_mode="reflect",
                              return_complex=True)
        wall, cpu, S = best_of(torch_stft, args.repeats)
        rows.append(("torch.stft", threads, S.shape[1], wall, cpu))

    ours = {r[1]: r for r in rows if r[0].startswith("NeuralCodec")}
    print(f"STFT n_fft {n_fft}, hop {hop}, periodic Hann, reflect centering; signal {args.seconds:.0f} s at "
          f"{args.rate} Hz ({length} samples), complex64 output; best of {args.repeats}")
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, torch {torch.__version__}; "
          f"FFTW planning (FFTW_MEASURE, once per size): {planning:.3f} s; {os.cpu_count()} CPUs")
    print()
    print(f"| {'implementation':<28} | threads | frames | wall s | CPU s  | frames/s  | ours faster (wall) | ours faster (CPU) |")
    print(f"|{'-' * 30}|---------|--------|--------|--------|-----------|--------------------|-------------------|")
    for name, threads, frames, wall, cpu in rows:
        mine = ours.get(threads)
        if name.startswith("NeuralCodec") or mine is None:
            rw = rc = "—"
        else:
            rw, rc = f"{wall / mine[3]:.2f}x", f"{cpu / mine[4]:.2f}x"
        print(f"| {name:<28} | {threads:>7} | {frames:>6} | {wall:6.3f} | {cpu:6.3f} | {frames / wall:9.0f} | {rw:>18} | {rc:>17} |")
    print()
    print("'ours faster' = their time / ours at the same thread count (wall clock, and process CPU time, which "
          "other processes on a shared machine disturb less). numpy and scipy.signal are single-threaded; the "
          "framed numpy/scipy rows output [frames, bins], the others [bins, frames].")


if __name__ == "__main__":
    sys.exit(main())
