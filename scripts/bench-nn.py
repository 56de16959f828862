#!/usr/bin/env python3
"""Our NN kernels against PyTorch, side by side, on the layer shapes of the full EnCodec 24 kHz SEANet.

Runs the Swift benchmark (.build/release/bench-nn; built first unless --no-build) for its shape list and
timings, times the same shapes in PyTorch with torch.set_num_threads(1) and (2), and prints GFLOP/s and
the ratio ours/PyTorch per kernel and in total. Where our kernel fuses the pre-activation ELU into the
conv, PyTorch runs F.elu then the conv (as encodec's nn.Sequential does); FLOPs count the conv only.

Usage: python3 scripts/bench-nn.py [--length 240000] [--threads 1,2] [--filter res32] [--no-build]
Needs torch (benchmarks only; never needed by the tests or the tool).
"""
import argparse
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release", "bench-nn")


def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def best_time(fn, min_reps=3, min_time=0.4, max_reps=50):
    """Best-of wall time and best-of process CPU time in seconds (after a warm-up), like bench-nn's timeIt."""
    fn()
    best, best_cpu, total, reps = float("inf"), float("inf"), 0.0, 0
    while reps < min_reps or total < min_time:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        best, best_cpu, total, reps = min(best, dt), min(best_cpu, dc), total + dt, reps + 1
        if reps >= max_reps:
            break
    return best, best_cpu


def torch_case(spec):
    """A closure running the PyTorch equivalent of one bench-nn case."""
    g = torch.Generator().manual_seed(0)
    kind = spec["kind"]

    def rnd(*shape, scale=1.0):
        return (torch.rand(*shape, generator=g) * 2 - 1) * scale

    if kind in ("conv1d", "convtranspose1d"):
        cin, cout, k, s, tin = (int(spec[key]) for key in ("cin", "cout", "k", "stride", "tin"))
        elu = spec["elu"] == "1"
        x = rnd(1, cin, tin)
        if kind == "conv1d":
            w, b, d = rnd(cout, cin, k, scale=(cin * k) ** -0.5), rnd(cout, scale=0.1), int(spec["dilation"])
            return lambda: F.conv1d(F.elu(x) if elu else x, w, b, stride=s, dilation=d)
        w, b = rnd(cin, cout, k, scale=cin ** -0.5), rnd(cout, scale=0.1)
        return lambda: F.conv_transpose1d(F.elu(x) if elu else x, w, b, stride=s)
    if kind == "lstm":
        h, layers, steps = int(spec["hidden"]), int(spec["layers"]), int(spec["steps"])
        lstm = torch.nn.LSTM(h, h, layers)
        x = rnd(steps, 1, h)
        return lambda: lstm(x)
    if kind == "elu":
        x = rnd(1, int(spec["channels"]), int(spec["length"]), scale=3)
        return lambda: F.elu(x)
    if kind == "groupnorm":
        c = int(spec["channels"])
        x, w, b = rnd(1, c, int(spec["length"]), scale=3), rnd(c), rnd(c)
        return lambda: F.group_norm(x, int(spec["groups"]), w, b, 1e-5)
    raise ValueError(f"unknown case kind {kind}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=240000, help="input samples (multiple of 320); 240000 = 10 s")
    ap.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    ap.add_argument("--filter", default=None, help="only cases whose name contains this")
    ap.add_argument("--no-build", action="store_true", help="do not run swift build first")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]

    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "bench-nn"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    common = [f"--length={args.length}"] + ([args.filter] if args.filter else [])
    listing = subprocess.run([BIN, "--list"] + common, capture_output=True, text=True, check=True).stdout
    cases = [parse_kv(l) for l in listing.splitlines() if l.startswith("CASE ")]

    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores; other work on the machine slows both sides)")
    print(f"PyTorch {torch.__version__}, {len(cases)} cases, input {args.length} samples", flush=True)
    torch_ms, torch_cpu = {}, {}
    with torch.no_grad():
        for th in threads:
            torch.set_num_threads(th)
            for c in cases:
                wall, cpu = best_time(torch_case(c))
                torch_ms[(c["name"], th)], torch_cpu[(c["name"], th)] = wall * 1e3, cpu * 1e3
    out = subprocess.run([BIN, f"--threads={args.threads}"] + common, capture_output=True, text=True, check=True).stdout
    ours_ms, ours_cpu, peak = {}, {}, None
    for l in out.splitlines():
        if l.startswith("RESULT "):
            kv = parse_kv(l)
            if kv["name"] == "fp32_peak":
                peak = float(kv["gflops"])
            else:
                ours_ms[(kv["name"], int(kv["threads"]))] = float(kv["ms"])
                ours_cpu[(kv["name"], int(kv["threads"]))] = float(kv["cpu_ms"])
    print(f"load average after:  {os.getloadavg()[0]:.2f}")
    if peak:
        print(f"fp32 FMA peak of one core, measured by bench-nn: {peak:.1f} GFLOP/s")
    print()

    head = f"{'kernel':34s}" + "".join(f" | {th}t torch GF/s  ours GF/s  ratio" for th in threads)
    if 1 in threads:
        head += " | 1t cpu-time ratio"
    print(head)
    print("-" * len(head))
    totals = {th: [0.0, 0.0] for th in threads}
    cpu_totals = [0.0, 0.0]
    for c in cases:
        flops = float(c["flops"])
        row = f"{c['name'][:34]:34s}"
        for th in threads:
            t, o = torch_ms[(c["name"], th)], ours_ms[(c["name"], th)]
            totals[th][0] += t
            totals[th][1] += o
            row += f" | {flops / t / 1e6:13.1f} {flops / o / 1e6:10.1f} {t / o:6.2f}"
        if 1 in threads:
            tc, oc = torch_cpu[(c["name"], 1)], ours_cpu[(c["name"], 1)]
            cpu_totals[0] += tc
            cpu_totals[1] += oc
            row += f" | {tc / oc:17.2f}"
        print(row)
    print("-" * len(head))
    row = f"{'total time (ms) / speed-up':34s}"
    for th in threads:
        t, o = totals[th]
        row += f" | {t:13.1f} {o:10.1f} {t / o:6.2f}"
    if 1 in threads:
        row += f" | {cpu_totals[0] / cpu_totals[1]:17.2f}"
    print(row)
    print("\nratio = PyTorch time / our time (> 1: ours is faster); GF/s and ratios from best-of wall time;")
    print("the cpu-time ratio (1 thread) compares best-of process CPU times, less sensitive to other load.")


if __name__ == "__main__":
    sys.exit(main())
