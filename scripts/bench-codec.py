#!/usr/bin/env python3
"""Encode/decode speed of NeuralCodec against PyTorch's `encodec`, same weights and input, in one run.

Builds the full-size EnCodec 24 kHz architecture (PyPI encodec 0.1.1) with seeded random weights and
k-means-like codebooks (pretrained weights cannot be downloaded here; speed does not depend on them), saves
it as a `.th` checkpoint, writes a 24 kHz test signal of each duration, then for 1 and 2 threads times
  - PyTorch: model.encode(x) and model.decode(frames) under torch.no_grad(), torch.set_num_threads(n)
  - NeuralCodec: .build/release/bench-codec on the same checkpoint and WAV (NEURALCODEC threads n)
and prints real-time factors (seconds of compute per second of audio; lower is faster) and the speed-up
ratio torch/ours. With --rounds R (R > 1) each configuration is measured R times, torch and ours alternated
(torch first in odd rounds, ours first in even ones), and the line printed is the median over the rounds of
each figure and of the per-round ratios, with the range of the ratios after it: on a shared machine the
speed of both sides drifts by 10-20 % over minutes, and only pairs measured back to back are comparable. Also prints OpenBLAS sgemm GFLOP/s (numpy) for scale. With --profile, prints our per-layer
profile next to PyTorch's (forward hooks on the same layers), with the torch/ours ratio per layer.

On 1 thread every round also prints the floor (bench-codec --floor): the least time our encode and decode
work could take on this core, every FLOP at the FMA peak and the LSTM's W_hh read once per step at the read
bandwidth, both measured in that round, with staging, activations and stores free. torch's time over the
floor is the largest speed-up any implementation of our work could show against torch in that round.

Run: swift build -c release --product bench-codec && python3 scripts/bench-codec.py [--seconds 10 60]
Needs torch, encodec, numpy (never needed by the tool or its tests).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import types
import wave

import numpy as np

if "torchaudio" not in sys.modules:
    try:
        import torchaudio  # noqa: F401
    except Exception:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
import torch  # noqa: E402
from encodec import EncodecModel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_model(seed=0):
    torch.manual_seed(seed)
    model = EncodecModel.encodec_model_24khz(pretrained=False)
    for layer in model.quantizer.vq.layers:
        layer._codebook.embed.data.normal_(0, 0.1)
        layer._codebook.inited.fill_(1)
    model.eval()
    return model


def write_wav(path, x, sr):
    pcm = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr); w.writeframes(pcm.tobytes())
    return pcm.astype(np.float32) / 32768


def signal(seconds, sr=24000, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t)) + 0.05 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def torch_times(model, x, threads, repeats):
    """Best wall and best CPU (process_time: all threads) seconds of encode and decode."""
    torch.set_num_threads(threads)
    xt = torch.from_numpy(x)[None, None]
    with torch.no_grad():
        frames = model.encode(xt)
        model.decode(frames)
        enc = dec = cenc = cdec = float("inf")
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time(); frames = model.encode(xt)
            enc = min(enc, time.perf_counter() - t0); cenc = min(cenc, time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time(); model.decode(frames)
            dec = min(dec, time.perf_counter() - t0); cdec = min(cdec, time.process_time() - c0)
    return enc, dec, cenc, cdec


def torch_layer_profile(model, x, threads, repeats):
    """CPU seconds per top-level encoder/decoder layer, the least over `repeats` encode + decode runs (forward hooks,
    time.process_time), with each ELU added to the conv after it (ours fuses the ELU into that conv), and
    the quantizer's encode. Keys match the names of our profile rows by position."""
    torch.set_num_threads(threads)
    xt = torch.from_numpy(x)[None, None]
    rows = {"encoder": [], "decoder": []}
    handles = []
    for part, seq in (("encoder", model.encoder.model), ("decoder", model.decoder.model)):
        for i, layer in enumerate(seq):
            rows[part].append([type(layer).__name__, 0.0])
            def pre(mod, inp, part=part, i=i):
                rows[part][i][1] -= time.process_time()
            def post(mod, inp, out, part=part, i=i):
                rows[part][i][1] += time.process_time()
            handles += [layer.register_forward_pre_hook(pre), layer.register_forward_hook(post)]
    quant = [0.0]
    original_encode = model.quantizer.encode
    def timed_encode(*a, **k):
        t0 = time.process_time(); r = original_encode(*a, **k); quant[0] += time.process_time() - t0; return r
    model.quantizer.encode = timed_encode
    try:
        with torch.no_grad():
            model.decode(model.encode(xt))  # warm-up
            best = None
            for _ in range(repeats):  # per layer, the least CPU time over the repeats
                for part in rows:
                    for r in rows[part]:
                        r[1] = 0.0
                quant[0] = 0.0
                model.decode(model.encode(xt))
                now = {part: [r[1] for r in rs] for part, rs in rows.items()}
                now["q"] = [quant[0]]
                best = now if best is None else {k: [min(a, b) for a, b in zip(best[k], v)] for k, v in now.items()}
            for part in rows:
                for r, sec in zip(rows[part], best[part]):
                    r[1] = sec
            quant[0] = best["q"][0]
    finally:
        for h in handles:
            h.remove()
        model.quantizer.encode = original_encode
    merged = {}
    for part, rs in rows.items():
        out, carry = [], 0.0
        for name, sec in rs:
            if name == "ELU":
                carry += sec
                continue
            out.append((name + ("+ELU" if carry else ""), sec + carry)); carry = 0.0
        merged[part] = out
    merged["quantizer"] = [("quantizer encode", quant[0])]
    return merged


def print_side_by_side(torch_rows, ours_out):
    """Our --profile rows next to PyTorch's, layer by layer, with the ratio torch / ours (CPU time)."""
    ours = {}
    for part, body in re.findall(r"profile (\w+) threads=\d+ total [\d.]+ ms\n((?:  .*\n?)*)", ours_out):
        ours[part] = [(m.group(1).strip(), float(m.group(2)), float(m.group(3)) if m.group(3) else None) for m in
                      (re.match(r"  (.*?)\s+([\d.]+) ms CPU.*?(?:floor\s+([\d.]+) ms)?\s*(?:\(.*\))?$", l) for l in body.splitlines()) if m]
    # On 1 thread bench-codec adds each layer's floor (its work at this core's measured FMA peak and read bandwidth).
    floors = any(f is not None for rows in ours.values() for _, _, f in rows)
    print(f"  {'our layer':<36} {'ours ms':>8} {'torch ms':>9} {'torch/ours':>10}" + (f" {'floor ms':>9} {'ours/floor':>10}" if floors else "")
          + "   torch module")
    for part in ("encoder", "quantizer", "decoder"):
        o, t = ours.get(part, []), torch_rows.get(part, [])
        if part == "quantizer" and o and t:
            t = [t[0]]; o = [o[0]]
        if len(o) != len(t):
            print(f"  ({part}: {len(o)} rows of ours, {len(t)} of torch: not aligned)")
            continue
        for (on, oms, fms), (tn, ts) in zip(o, t):
            fl = f" {fms:>9.1f} {oms / max(fms, 1e-9):>9.2f}x" if floors and fms is not None else ""
            print(f"  {on:<36} {oms:>8.1f} {ts * 1000:>9.1f} {ts * 1000 / max(oms, 1e-9):>9.2f}x{fl}   {tn}")
        so, st = sum(r[1] for r in o), sum(s for _, s in t) * 1000
        sf = sum(r[2] or 0 for r in o)
        fl = f" {sf:>9.1f} {so / max(sf, 1e-9):>9.2f}x" if floors else ""
        print(f"  {part + ' total':<36} {so:>8.1f} {st:>9.1f} {st / max(so, 1e-9):>9.2f}x{fl}")


def ours_times(bench, th, wav, threads, repeats, bandwidth, profile):
    cmd = [bench, th, wav, "--threads", str(threads), "--repeats", str(repeats), "--bandwidth", str(bandwidth)]
    if profile:
        cmd.append("--profile")
    if threads == 1:
        cmd.append("--floor")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = {k: (float(w), float(c)) for k, w, c in re.findall(r"RESULT (encode|decode) threads=\d+ seconds=([\d.]+) rtf=[\d.]+ cpu=([\d.]+)", out)}
    return res["encode"], res["decode"], out


def floor_of(out):
    """(encode s, decode s, peak GFLOP/s, bandwidth GB/s) from bench-codec --floor, or None."""
    m = re.search(r"FLOOR threads=1 encode=([\d.]+) decode=([\d.]+) peak_gflops=([\d.]+) bandwidth_gbs=([\d.]+)", out)
    return tuple(float(v) for v in m.groups()) if m else None


def sgemm_gflops(n=1024, threads=1):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
    def run():
        # CPU time (process_time), like the per-layer profile: robust to other jobs on the machine.
        a @ b
        t0 = time.process_time()
        for _ in range(5):
            a @ b
        return 5 * 2 * n ** 3 / (time.process_time() - t0) / 1e9
    if threadpool_limits:
        with threadpool_limits(threads):
            return run()
    return run()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, nargs="+", default=[10.0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1, help="alternated torch/ours pairs per configuration (median reported)")
    ap.add_argument("--bandwidth", type=float, default=6.0)
    ap.add_argument("--profile", action="store_true", help="print our per-layer profile")
    ap.add_argument("--save-model", metavar="PATH", help="only write the seeded full-size checkpoint to PATH (.th)")
    args = ap.parse_args()
    if args.save_model:
        torch.save(build_model().state_dict(), args.save_model)
        print(f"wrote {args.save_model}")
        return
    bench = os.path.join(ROOT, ".build/release/bench-codec")
    if not os.path.exists(bench):
        sys.exit("build it first: swift build -c release --product bench-codec")
    model = build_model()
    model.set_target_bandwidth(args.bandwidth)
    tmp = tempfile.mkdtemp(prefix="bench-codec-")
    th = os.path.join(tmp, "encodec_24khz_random.th")
    torch.save(model.state_dict(), th)
    print(f"torch {torch.__version__}, encodec 24 kHz full size, bandwidth {args.bandwidth} kbps, best of {args.repeats}")
    print(f"OpenBLAS sgemm 1024³ (numpy): {sgemm_gflops(threads=1):.1f} GFLOP/s per CPU second on 1 thread")
    print("RTF = wall seconds per audio second (best of repeats); cpu x = torch CPU time / ours (all threads), robust to other jobs")
    if args.rounds > 1:
        print(f"{args.rounds} alternated rounds per line: figures and speed-ups are medians over the rounds")
    print(f"{'input':>6} {'thr':>3} | {'torch enc RTF':>13} {'ours enc RTF':>12} {'speed-up':>8} {'cpu x':>6} | {'torch dec RTF':>13} {'ours dec RTF':>12} {'speed-up':>8} {'cpu x':>6}")
    for secs in args.seconds:
        wav = os.path.join(tmp, f"in{secs:g}.wav")
        x = write_wav(wav, signal(secs), 24000)
        for n in args.threads:
            rounds, floors = [], []
            for r in range(max(1, args.rounds)):
                if r % 2 == 0:
                    t = torch_times(model, x, n, args.repeats)
                    o = ours_times(bench, th, wav, n, args.repeats, args.bandwidth, args.profile)
                else:
                    o = ours_times(bench, th, wav, n, args.repeats, args.bandwidth, args.profile)
                    t = torch_times(model, x, n, args.repeats)
                (oe, coe), (od, cod), out = o
                rounds.append((*t, oe, od, coe, cod))
                fl = floor_of(out)
                if fl:
                    floors.append((t[0] / fl[0], t[1] / fl[1]))
                if args.rounds > 1:
                    te, td, cte, ctd = t
                    print(f"{'':>6} {'':>3}   round {r + 1}: encode {te / secs:.4f} / {oe / secs:.4f} = {te / oe:.2f}x, "
                          f"decode {td / secs:.4f} / {od / secs:.4f} = {td / od:.2f}x", flush=True)
                if fl:
                    fe, fd, peak, bw = fl
                    print(f"{'':>6} {'':>3}   floor (FMA peak {peak:.1f} GFLOP/s, read {bw:.1f} GB/s): encode {fe * 1000:.0f} ms "
                          f"(ours {oe / fe * 100 - 100:.0f} % above; torch/floor {t[0] / fe:.2f}x), decode {fd * 1000:.0f} ms "
                          f"(ours {od / fd * 100 - 100:.0f} % above; torch/floor {t[1] / fd:.2f}x)", flush=True)
            med = lambda v: float(np.median(v))
            te, td, cte, ctd, oe, od, coe, cod = (med([row[i] for row in rounds]) for i in range(8))
            enc_x = [row[0] / row[4] for row in rounds]; dec_x = [row[1] / row[5] for row in rounds]
            cenc_x = [row[2] / row[6] for row in rounds]; cdec_x = [row[3] / row[7] for row in rounds]
            print(f"{secs:>5g}s {n:>3} | {te / secs:>13.4f} {oe / secs:>12.4f} {med(enc_x):>7.2f}x {med(cenc_x):>5.2f}x | {td / secs:>13.4f} {od / secs:>12.4f} {med(dec_x):>7.2f}x {med(cdec_x):>5.2f}x", flush=True)
            if args.rounds > 1:
                print(f"{'':>6} {'':>3}   median of {len(rounds)} rounds; speed-up range encode {min(enc_x):.2f}-{max(enc_x):.2f}x, "
                      f"decode {min(dec_x):.2f}-{max(dec_x):.2f}x", flush=True)
            if floors:
                print(f"{'':>6} {'':>3}   largest possible speed-up (torch / floor): encode {med([f[0] for f in floors]):.2f}x "
                      f"({min(f[0] for f in floors):.2f}-{max(f[0] for f in floors):.2f}), decode {med([f[1] for f in floors]):.2f}x "
                      f"({min(f[1] for f in floors):.2f}-{max(f[1] for f in floors):.2f})", flush=True)
            if args.profile:
                print(f"per-layer CPU time, {secs:g} s, {n} thread(s): ours from bench-codec --profile, torch from forward "
                      f"hooks, least of {args.repeats} runs per layer (its ELUs added to the conv after them, which ours fuses):")
                print_side_by_side(torch_layer_profile(model, x, n, args.repeats), out)


if __name__ == "__main__":
    main()
