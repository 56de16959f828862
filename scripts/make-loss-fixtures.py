#!/usr/bin/env python3
"""Makes Tests/Fixtures/training/loss_*.npy: values and torch.autograd gradients of the training losses.

Losses (prediction p, target y, both [B, T] float64, seeded):
  - L1 waveform: torch.nn.functional.l1_loss(p, y).
  - Multi-resolution STFT: auraloss.freq.MultiResolutionSTFTLoss() with its defaults on [B, 1, T], run in
    float64 (auraloss 0.4.0; its window is created float32 and cast, so it is the same periodic Hann).
  - Multi-scale mel: DAC's MelSpectrogramLoss as DAC trains with it (n_mels 5..320, windows 32..2048,
    hop = window/4, pow 1, clamp_eps 1e-5, mag_weight 0, log_weight 1), written out with torch.stft
    (audiotools' STFT with match_stride=False is torch.stft, center=True, reflect, periodic Hann) and
    librosa.filters.mel (Slaney scale and norm, as audiotools uses it) at 24 kHz.
Outputs (float32 .npy): loss_prediction, loss_target [B, T]; loss_values [1 + 1 + 3 + 3 + 1 + 7]
(l1, mrstft, sc×3, logmag×3, mel, mel per scale×7); loss_grad_l1, loss_grad_mrstft, loss_grad_mel [B, T].
Run: python3 scripts/make-loss-fixtures.py   (seconds; deterministic)
"""
import os

import auraloss
import librosa
import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "training")
SR = 24000
B, T = 2, 3000


def signals():
    rng = np.random.default_rng(7)
    t = np.arange(T) / SR
    y = np.stack([
        0.5 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1750 * t + 0.3) + 0.05 * rng.standard_normal(T),
        0.3 * np.sign(np.sin(2 * np.pi * 97 * t)) * np.exp(-3 * t) + 0.1 * rng.standard_normal(T),
    ])
    p = 0.8 * y + 0.05 * rng.standard_normal((B, T)) + 0.02 * np.roll(y, 7, axis=1)
    return p.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)


def mel_loss(p, y):
    total, per = 0.0, []
    for s in range(7):
        w, m = 32 << s, 5 << s
        basis = torch.from_numpy(librosa.filters.mel(sr=SR, n_fft=w, n_mels=m, fmin=0.0, fmax=None)).double()
        win = torch.hann_window(w, periodic=True, dtype=torch.float64)

        def mel(x):
            X = torch.stft(x, n_fft=w, hop_length=w // 4, win_length=w, window=win, center=True,
                           pad_mode="reflect", return_complex=True)
            return basis @ X.abs()  # [B, M, N]

        term = torch.nn.functional.l1_loss(mel(p).clamp(1e-5).log10(), mel(y).clamp(1e-5).log10())
        per.append(term)
        total = total + term
    return total, per


def main():
    os.makedirs(OUT, exist_ok=True)
    p_np, y_np = signals()
    y = torch.from_numpy(y_np)
    values, grads = [], {}

    p = torch.from_numpy(p_np).requires_grad_(True)
    l1 = torch.nn.functional.l1_loss(p, y)
    l1.backward()
    values.append(l1.item()); grads["l1"] = p.grad.clone()

    p = torch.from_numpy(p_np).requires_grad_(True)
    mr = auraloss.freq.MultiResolutionSTFTLoss(output="full")
    for f in mr.stft_losses:
        f.output = "full"
    loss, sc, lm, _, _ = mr(p[:, None, :], y[:, None, :])
    loss.backward()
    values += [loss.item()] + [v.item() for v in sc] + [v.item() for v in lm]
    grads["mrstft"] = p.grad.clone()

    p = torch.from_numpy(p_np).requires_grad_(True)
    ml, per = mel_loss(p, y)
    ml.backward()
    values += [ml.item()] + [v.item() for v in per]
    grads["mel"] = p.grad.clone()

    save = lambda name, a: np.save(os.path.join(OUT, name + ".npy"), np.asarray(a, dtype=np.float32))
    save("loss_prediction", p_np); save("loss_target", y_np)
    np.save(os.path.join(OUT, "loss_values.npy"), np.asarray(values, dtype=np.float64))
    for k, g in grads.items():
        save("loss_grad_" + k, g.numpy())
    print("values", values)


if __name__ == "__main__":
    main()
