#!/usr/bin/env python3
"""Writes the DSP and Metrics fixtures to Tests/Fixtures/dsp/ from the reference packages.

Format: index.json maps each fixture name to {"params": {...}, "scalars": {...}, "arrays": {name:
{"file", "shape"}}}; every array is raw little-endian float32 in C order. Seeded; rerunning gives the
same files. Needs numpy, scipy, torch, torchaudio, librosa, auraloss (all from PyPI):
    pip install torch torchaudio librosa auraloss
Run from the repository root: python3 scripts/make-dsp-fixtures.py
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torchaudio
import librosa
import auraloss

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "dsp")
index = {}


def add(name, params=None, scalars=None, **arrays):
    entry = {"params": params or {}, "scalars": {k: float(v) for k, v in (scalars or {}).items()}, "arrays": {}}
    for key, value in arrays.items():
        a = np.ascontiguousarray(np.asarray(value, dtype="<f4"))
        fname = f"{name}.{key}.f32"
        a.tofile(os.path.join(OUT, fname))
        entry["arrays"][key] = {"file": fname, "shape": list(a.shape)}
    index[name] = entry


def signal(rng, channels, length, sr=16000.0):
    """Noise plus a few sines with different content per channel: float32 [channels, length]."""
    t = np.arange(length) / sr
    x = np.empty((channels, length))
    for c in range(channels):
        x[c] = 0.2 * rng.standard_normal(length)
        for f, a in ((220.0 * (c + 1), 0.5), (1375.0 + 300 * c, 0.25), (5100.0, 0.1)):
            x[c] += a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return x.astype(np.float32)


def torch_stft(x, n_fft, hop, win, center=True, pad_mode="reflect", normalized=False):
    """torch.stft in float64 on a float32 signal: the exact conventions with no float32 noise."""
    xt = torch.from_numpy(x.astype(np.float64))
    w = torch.hann_window(win, periodic=True, dtype=torch.float64)
    s = torch.stft(xt, n_fft, hop_length=hop, win_length=win, window=w, center=center, pad_mode=pad_mode,
                   normalized=normalized, onesided=True, return_complex=True)
    return s.numpy()


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".f32") or f == "index.json":
            os.remove(os.path.join(OUT, f))
    rng = np.random.default_rng(20240607)

    # --- Real FFT (numpy.fft.rfft in float64), an odd and a power-of-two size.
    for n in (45, 64):
        x = rng.standard_normal(n).astype(np.float32)
        X = np.fft.rfft(x.astype(np.float64))
        add(f"rfft_{n}", {"size": n}, x=x, real=X.real, imag=X.imag)

    # --- STFT, three configurations covering window < n_fft, normalized, center off, constant pad, odd n_fft.
    stft_cases = [
        ("stft_center_reflect", dict(channels=2, length=1000, n_fft=128, hop=32, win=100, center=True,
                                     pad_mode="reflect", normalized=True)),
        ("stft_no_center", dict(channels=1, length=777, n_fft=64, hop=16, win=64, center=False,
                                pad_mode="reflect", normalized=False)),
        ("stft_constant_odd", dict(channels=1, length=500, n_fft=45, hop=10, win=40, center=True,
                                   pad_mode="constant", normalized=False)),
    ]
    for name, p in stft_cases:
        x = signal(rng, p["channels"], p["length"])
        S = torch_stft(x, p["n_fft"], p["hop"], p["win"], p["center"], p["pad_mode"], p["normalized"])
        add(name, p, x=x, real=S.real, imag=S.imag)

    # --- Inverse STFT of arbitrary (not STFT-consistent) spectra, so the overlap-add, envelope division,
    # trimming and the DC/Nyquist imaginary parts are all exercised.
    istft_cases = [
        ("istft_default", dict(channels=2, n_fft=64, hop=16, win=64, frames=20, normalized=False, length=None)),
        ("istft_long_length", dict(channels=1, n_fft=64, hop=16, win=64, frames=12, normalized=False, length=260)),
        ("istft_normalized_short", dict(channels=1, n_fft=50, hop=12, win=40, frames=15, normalized=True, length=150)),
    ]
    for name, p in istft_cases:
        F = p["n_fft"] // 2 + 1
        re = rng.standard_normal((p["channels"], F, p["frames"])).astype(np.float32)
        im = rng.standard_normal((p["channels"], F, p["frames"])).astype(np.float32)
        spec = torch.complex(torch.from_numpy(re.astype(np.float64)), torch.from_numpy(im.astype(np.float64)))
        w = torch.hann_window(p["win"], periodic=True, dtype=torch.float64)
        y = torch.istft(spec, p["n_fft"], hop_length=p["hop"], win_length=p["win"], window=w, center=True,
                        normalized=p["normalized"], onesided=True, length=p["length"]).numpy()
        params = dict(p)
        params["length"] = -1 if p["length"] is None else p["length"]
        add(name, params, real=re, imag=im, y=y)

    # --- Mel filterbanks.
    fb = librosa.filters.mel(sr=16000, n_fft=256, n_mels=40)  # defaults: Slaney scale, Slaney norm
    add("mel_librosa_slaney", dict(sr=16000, n_fft=256, n_mels=40, fmin=0.0, fmax=8000.0, htk=False, norm="slaney"),
        weights=fb)
    fb = librosa.filters.mel(sr=22050, n_fft=201, n_mels=30, fmin=50.0, fmax=8000.0, htk=True, norm=None)
    add("mel_librosa_htk_none", dict(sr=22050, n_fft=201, n_mels=30, fmin=50.0, fmax=8000.0, htk=True, norm="none"),
        weights=fb)
    fb = torchaudio.functional.melscale_fbanks(129, 0.0, 8000.0, 40, 16000, norm=None, mel_scale="htk").numpy()
    add("mel_torchaudio_htk_none", dict(n_freqs=129, f_min=0.0, f_max=8000.0, n_mels=40, sr=16000, mel_scale="htk",
                                        norm="none"), weights_t=fb)
    fb = torchaudio.functional.melscale_fbanks(101, 30.0, 7000.0, 24, 15999, norm="slaney", mel_scale="slaney").numpy()
    add("mel_torchaudio_slaney_slaney", dict(n_freqs=101, f_min=30.0, f_max=7000.0, n_mels=24, sr=15999,
                                             mel_scale="slaney", norm="slaney"), weights_t=fb)
    # The log-mel distance's bank (24 kHz, n_fft 1024, 80 bands) is 80×513: keep four rows and all row sums.
    fb = librosa.filters.mel(sr=24000, n_fft=1024, n_mels=80)
    rows = [0, 1, 40, 79]
    add("mel_librosa_24k_80", dict(sr=24000, n_fft=1024, n_mels=80, rows=rows), rows=fb[rows],
        row_sums=fb.astype(np.float64).sum(axis=1))

    # --- Mel spectrograms: torchaudio (reflect pad, HTK, no norm) and librosa (zero pad, Slaney).
    x = signal(rng, 1, 1600)
    m = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=256, hop_length=64, n_mels=32,
                                             power=2.0)(torch.from_numpy(x)).numpy()
    add("melspec_torchaudio", dict(sr=16000, n_fft=256, hop=64, n_mels=32, power=2.0), x=x, mel=m)
    m = librosa.feature.melspectrogram(y=x[0].astype(np.float64), sr=16000, n_fft=256, hop_length=64, n_mels=32,
                                       power=1.0)
    add("melspec_librosa", dict(sr=16000, n_fft=256, hop=64, n_mels=32, power=1.0, pad_mode="constant"),
        x=x, mel=m[None])

    # --- Metrics on a reference/estimate pair at 24 kHz, two channels.
    ref = signal(rng, 2, 4800, sr=24000.0)
    est = np.empty_like(ref)
    est[0] = 0.8 * ref[0] + 0.05 * rng.standard_normal(4800) + 0.01
    est[1] = np.roll(ref[1], 3) * 1.1 + 0.02 * rng.standard_normal(4800)
    est = est.astype(np.float32)
    r64, e64 = ref.astype(np.float64), est.astype(np.float64)
    scalars = {}
    for c in range(2):
        r, e = r64[c], e64[c]
        scalars[f"snr_{c}"] = 10 * np.log10(np.sum(r ** 2) / np.sum((r - e) ** 2))
        for zero_mean in (True, False):
            rr, ee = (r - r.mean(), e - e.mean()) if zero_mean else (r, e)
            alpha = np.dot(ee, rr) / np.dot(rr, rr)
            target = alpha * rr
            key = "si_sdr" if zero_mean else "si_sdr_nozeromean"
            scalars[f"{key}_{c}"] = 10 * np.log10(np.sum(target ** 2) / np.sum((ee - target) ** 2))

    # auraloss MultiResolutionSTFTLoss with its defaults, float32 as users run it: input=estimate, target=reference.
    mr = auraloss.freq.MultiResolutionSTFTLoss(output="full")
    for f in mr.stft_losses:
        f.output = "full"
    loss, sc, logmag, _, _ = mr(torch.from_numpy(est)[None], torch.from_numpy(ref)[None])
    scalars["mrstft"] = loss.item()
    for i in range(3):
        scalars[f"mrstft_sc_{i}"] = sc[i].item()
        scalars[f"mrstft_logmag_{i}"] = logmag[i].item()
    mr_mono = auraloss.freq.MultiResolutionSTFTLoss()
    scalars["mrstft_channel1"] = mr_mono(torch.from_numpy(est[1:2])[None], torch.from_numpy(ref[1:2])[None]).item()

    # Log-mel distance: |STFT| (n_fft 1024, hop 256, periodic Hann, reflect centering) → librosa Slaney mel
    # (80 bands, 24 kHz) → log10 with ε = 1e-5 (clamp as DAC, or added as audiocraft/EnCodec) → mean |Δ|.
    fb = torch.from_numpy(librosa.filters.mel(sr=24000, n_fft=1024, n_mels=80).astype(np.float64))

    def mel(x):
        return fb @ torch.from_numpy(torch_stft(x, 1024, 256, 1024)).abs()

    mr_, me_ = mel(ref), mel(est)
    scalars["logmel_clamp"] = (torch.log10(mr_.clamp(min=1e-5)) - torch.log10(me_.clamp(min=1e-5))).abs().mean().item()
    scalars["logmel_add"] = (torch.log10(mr_ + 1e-5) - torch.log10(me_ + 1e-5)).abs().mean().item()
    add("metrics_pair", dict(sample_rate=24000), scalars, reference=ref, estimate=est)

    # --- Codebook usage: codes [K=4, T=300] over N=64 bins with different spreads.
    K, T, N = 4, 300, 64
    codes = np.stack([
        rng.integers(0, N, T),                                   # nearly uniform
        rng.choice(8, T, p=np.array([.3, .2, .15, .1, .1, .05, .05, .05])),  # eight codes, skewed
        np.full(T, 17),                                          # one code: zero entropy
        rng.integers(0, 16, T) * 4,                              # sixteen codes
    ])
    ent = []
    for k in range(K):
        p = np.bincount(codes[k], minlength=N) / T
        p = p[p > 0]
        ent.append(float(-(p * np.log2(p)).sum()))
    add("codebook_usage", dict(codebooks=K, frames=T, bins=N),
        {"efficiency": sum(ent) / (math.log2(N) * K), **{f"entropy_{k}": e for k, e in enumerate(ent)}},
        codes=codes.astype(np.float32))

    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"generator": "scripts/make-dsp-fixtures.py",
                   "versions": {"numpy": np.__version__, "torch": torch.__version__,
                                "torchaudio": torchaudio.__version__, "librosa": librosa.__version__,
                                "auraloss": getattr(auraloss, "__version__", "0.4.0")},
                   "fixtures": index}, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(index)} fixtures, {total / 1024:.1f} KB to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    sys.exit(main())
