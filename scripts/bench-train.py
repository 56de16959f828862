#!/usr/bin/env python3
"""Training throughput of `codec train` against the same architecture trained in PyTorch, in one run.

Both sides train the causal 24 kHz SEANet codec (encodec's own SEANetEncoder/SEANetDecoder modules with
norm='none', causal=True, lstm=LSTM, n_filters=WIDTH, ratios [8,5,4,2], D=128) with a residual VQ of
STAGES x 1024 codes (encodec's ResidualVectorQuantizer: EMA codebooks, straight-through estimator), the same
losses (L1 waveform x 0.1, auraloss multi-resolution STFT, a 7-scale mel L1 as DAC defines it, commitment),
Adam, the same batch (BATCH crops of CROP samples) and the same number of threads. The PyTorch side trains
on seeded synthetic tones of the same shape (the data do not change the cost of a step; ours reads the
corpus given by --data, which includes its loading and resampling). Reports seconds of audio trained per second of wall time for
each side and the ratio ours / PyTorch. The k-means initialisation and the first steps are warm-up and not
timed on either side.

Run: swift build -c release --product codec && python3 scripts/bench-train.py --data data/ [--width 16]
Needs torch, encodec, auraloss, librosa, numpy (never needed by the tool or its tests).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

if "torchaudio" not in sys.modules:
    try:
        import torchaudio  # noqa: F401
    except Exception:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
import torch  # noqa: E402
import auraloss  # noqa: E402
import librosa  # noqa: E402
from encodec.modules import SEANetEncoder, SEANetDecoder  # noqa: E402
from encodec.quantization import ResidualVectorQuantizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class MelLoss(torch.nn.Module):
    """DAC's MelSpectrogramLoss: windows 32..2048, 5..320 mels, hop w/4, clamp 1e-5, log10, L1, summed."""

    def __init__(self, sr=24000):
        super().__init__()
        self.scales = []
        for i in range(7):
            w, m = 32 << i, 5 << i
            fb = torch.from_numpy(librosa.filters.mel(sr=sr, n_fft=w, n_mels=m)).float()
            self.scales.append((w, fb, torch.hann_window(w)))

    def forward(self, y, x):
        loss = 0
        for w, fb, win in self.scales:
            def mel(s):
                S = torch.stft(s, n_fft=w, hop_length=w // 4, window=win, return_complex=True).abs()
                return torch.log10(torch.clamp(fb @ S, min=1e-5))
            loss = loss + (mel(y) - mel(x)).abs().mean()
        return loss


def torch_throughput(args, crops):
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    kw = dict(channels=1, dimension=128, n_filters=args.width, ratios=[8, 5, 4, 2], norm="none", causal=True,
              lstm=args.lstm)
    enc, dec = SEANetEncoder(**kw), SEANetDecoder(**kw)
    rvq = ResidualVectorQuantizer(dimension=128, n_q=args.stages, bins=1024, kmeans_init=False)
    stft = auraloss.freq.MultiResolutionSTFTLoss()
    mel = MelLoss()
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    rng = np.random.default_rng(0)

    def step():
        idx = rng.integers(0, len(crops), args.batch)
        x = torch.from_numpy(np.stack([crops[i] for i in idx]))[:, None, :]
        z = enc(x)
        q = rvq(z, 75)  # sample_rate argument = frame rate; all stages
        y = dec(q.quantized)
        loss = 0.1 * (y - x).abs().mean() + stft(y, x) + mel(y[:, 0], x[:, 0]) + q.penalty
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    dt = time.perf_counter() - t0
    return args.steps * args.batch * args.crop / 24000 / dt, dt / args.steps


def ours_throughput(args):
    codec = os.path.join(ROOT, ".build/release/codec")
    with tempfile.TemporaryDirectory() as tmp:
        total = 120 + args.steps  # k-means initialisation happens within the first ~90 steps at batch 8
        cmd = [codec, "train", "--data", args.data, "--width", str(args.width), "--stages", str(args.stages),
               "--lstm", str(args.lstm), "--batch", str(args.batch), "--crop-seconds", str(args.crop / 24000),
               "--steps", str(total), "--log-every", "1", "--checkpoint-every", str(total + 1),
               "-o", os.path.join(tmp, "m.safetensors")]
        env = dict(os.environ, NEURALCODEC_THREADS=str(args.threads))
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    rates = [float(m) for m in re.findall(r"([\d.]+) steps/s", out)]
    timed = rates[-args.steps:]
    sec_per_step = sum(1 / r for r in timed) / len(timed)
    return args.batch * args.crop / 24000 / sec_per_step, sec_per_step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--stages", type=int, default=8)
    ap.add_argument("--lstm", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=9600)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    t = np.arange(args.crop) / 24000
    crops = [(0.3 * np.sin(2 * np.pi * rng.uniform(100, 800) * t) + 0.02 * rng.standard_normal(args.crop)).astype(np.float32)
             for _ in range(64)]
    ours, ours_step = ours_throughput(args)
    ref, ref_step = torch_throughput(args, crops)
    print(f"width {args.width}, {args.stages} stages, lstm {args.lstm}, batch {args.batch} x {args.crop} samples, "
          f"{args.threads} threads, {args.steps} timed steps")
    print(f"PyTorch {torch.__version__}: {ref_step:.3f} s/step, {ref:.2f} s of audio per second")
    print(f"NeuralCodec:  {ours_step:.3f} s/step, {ours:.2f} s of audio per second")
    print(f"ratio ours / PyTorch: {ours / ref:.2f}x")


if __name__ == "__main__":
    main()
