#!/usr/bin/env python3
"""EnCodec parity fixtures: seeded models of the 24 kHz and 48 kHz architectures and the reference outputs.

Mirrors how `encodec.EncodecModel._get_model` (PyPI encodec 0.1.1) builds its models, with seeded weights
(the released checkpoints cannot be downloaded here; architecture and file layout are what matter), and
records what the reference implementation computes, so the Swift tests can check token-exact parity
without Python.

What it writes, per model, into OUT/<model name>/ (default OUT: Tests/Fixtures/encodec):
  <name>.th             torch.save(model.state_dict()): laid out as the released encodec_24khz-*.th /
                        encodec_48khz-*.th files (weight_norm as weight_g/weight_v, codebook buffers)
  hf/model.safetensors  the same weights under Hugging Face transformers' EncodecModel names, written by
  hf/config.json        transformers' own save_pretrained after loading them (see hf_name below)
  config.json           every hyper-parameter, derived values, the bandwidth -> n_q table, versions, seeds
  state_dict.txt        name, shape and dtype of every tensor of the .th state dict
  cases.safetensors     per input case (tensor names: "<case>/input", "<case>/seg<s>/latents", ...,
  cases.json            see cases.json "tensor_names"): the input audio, encoder latents per segment,
                        per-segment scales, codes at every bandwidth and the decoded audio
  ecdc/<case>_bw<b>.ecdc  encodec.compress.compress(model, wav, use_lm=False) output, and beside each a
  ecdc/<case>_bw<b>.json  JSON with the codes and scales it holds (for tests that read no safetensors)
plus OUT/ecdc_json_examples.json (json.dumps of .ecdc headers with awkward model names).

Two traps are avoided and checked (see issue 3): a fresh EnCodec has all-zero codebooks, so every
codebook is filled with k-means centroids of real latents, stage by stage on the residuals; and a
default-initialised SEANet gives latents that barely vary over time, so every conv layer is scaled
LSUV-style on real audio (espeak-ng speech, noise, tones). Then each model must pass a perturbation
check: latents multiplied by (1 + 1e-6 * N(0,1)) must change no code of any committed input and almost
none (< 0.1 %) of the calibration latents, and no committed code decision may lie closer to a tie than
5e-6·|latent| (its "flip radius": the distance from the residual to the nearest face of its Voronoi cell,
also stored per decision); the script prints these figures and refuses to write otherwise.

Run (needs torch, encodec 0.1.1, safetensors, transformers, scipy, espeak-ng; never needed by the tests):
  python3 scripts/make-encodec-fixtures.py                  # reduced widths -> Tests/Fixtures/encodec
  python3 scripts/make-encodec-fixtures.py --full /tmp/encodec-full   # full width (not committed)
  (--only 24khz|48khz: one architecture; --force: write despite failed checks, for diagnostics)
Reduced widths: n_filters 3 (24 kHz) / 2 (48 kHz), dimension 8, bandwidths [1.5, 3] / [3, 6] kbps
(4 codebooks each); --full: n_filters 32, dimension 128, all bandwidths (32 / 16 codebooks).
Takes ~10-30 min on 2 cores (--full: over an hour). Output is deterministic for a given torch build and
--threads (default 2, as committed: a rerun reproduced every committed tensor and byte); other thread
counts round differently and give other, equally checked, fixtures. Before replacing OUT, the files are
reloaded into a fresh model that must reproduce every recorded code and sample.
"""

import argparse
import io
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import types
import warnings

import numpy as np

# encodec imports torchaudio for file I/O only (utils.convert_audio/save_audio, unused here).
if "torchaudio" not in sys.modules:
    try:
        import torchaudio  # noqa: F401
    except Exception:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")

import torch  # noqa: E402
from scipy.io import wavfile  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

import encodec  # noqa: E402
import encodec.compress  # noqa: E402,F401
from encodec import binary as ebinary  # noqa: E402
from encodec import modules as em  # noqa: E402
from encodec import quantization as eq  # noqa: E402
from encodec.model import EncodecModel  # noqa: E402

warnings.filterwarnings("ignore", message=".*weight_norm.*")
# `encodec/__init__.py` re-exports the function `compress`, which shadows the submodule attribute.
ecompress = sys.modules["encodec.compress"]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20240611

# The two released architectures, as EncodecModel.encodec_model_24khz / _48khz pass them to _get_model.
ARCH = {
    "24khz": dict(sample_rate=24_000, channels=1, causal=True, norm="weight_norm", normalize=False,
                  segment=None, bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0]),
    "48khz": dict(sample_rate=48_000, channels=2, causal=False, norm="time_group_norm", normalize=True,
                  segment=1.0, bandwidths=[3.0, 6.0, 12.0, 24.0]),
}
# Committed sizes: small enough that all fixtures stay well under 5 MB (the LSTM and codebooks dominate).
TINY = {
    "24khz": dict(n_filters=3, dimension=8, bandwidths=[1.5, 3.0]),
    "48khz": dict(n_filters=2, dimension=8, bandwidths=[3.0, 6.0]),
}
FULL = {
    "24khz": dict(n_filters=32, dimension=128, bandwidths=ARCH["24khz"]["bandwidths"]),
    "48khz": dict(n_filters=32, dimension=128, bandwidths=ARCH["48khz"]["bandwidths"]),
}

PERTURB_REL = 1e-6          # the check
PERTURB_TRIALS = 8
CALIB_MAX_CHANGED = 1e-3    # fraction of calibration codes allowed to change under PERTURB_REL
KMEANS_POINTS = 16384       # latents per k-means (16 per centroid)
MIN_FLIP_RADIUS = 5 * PERTURB_REL   # no committed code may be closer than this (relative) to a tie


_T0 = time.time()


def log(*a):
    print(f"[{time.time() - _T0:6.0f} s]", *a, flush=True)


# ----------------------------------------------------------------------------------------------------
# Models


def build_model(arch, n_filters, dimension, bandwidths, name):
    """EncodecModel._get_model with the width knobs exposed (every other argument at its default)."""
    a = ARCH[arch]
    encoder = em.SEANetEncoder(channels=a["channels"], norm=a["norm"], causal=a["causal"],
                               n_filters=n_filters, dimension=dimension)
    decoder = em.SEANetDecoder(channels=a["channels"], norm=a["norm"], causal=a["causal"],
                               n_filters=n_filters, dimension=dimension)
    n_q = int(1000 * bandwidths[-1] // (math.ceil(a["sample_rate"] / encoder.hop_length) * 10))
    quantizer = eq.ResidualVectorQuantizer(dimension=encoder.dimension, n_q=n_q, bins=1024)
    model = EncodecModel(encoder, decoder, quantizer, bandwidths, a["sample_rate"], a["channels"],
                         normalize=a["normalize"], segment=a["segment"], name=name)
    model.eval()
    return model


def check_structure_against_get_model(arch, model, full):
    """Our builder must give _get_model's tensor names (and, at full size, its shapes)."""
    a = ARCH[arch]
    ref = EncodecModel._get_model(a["bandwidths"], a["sample_rate"], a["channels"], causal=a["causal"],
                                  model_norm=a["norm"], audio_normalize=a["normalize"],
                                  segment=a["segment"], name="ref")
    ours = model.state_dict()
    theirs = ref.state_dict()
    n_q = model.quantizer.n_q

    def keep(k):
        mm = re.match(r"quantizer\.vq\.layers\.(\d+)\.", k)
        return mm is None or int(mm.group(1)) < n_q
    ref_keys = [k for k in theirs if keep(k)]
    assert list(ours) == ref_keys, "tensor names differ from EncodecModel._get_model"
    if full:
        for k in ours:
            assert ours[k].shape == theirs[k].shape, (k, ours[k].shape, theirs[k].shape)
    assert model.segment_length == ref.segment_length and model.segment_stride == ref.segment_stride
    assert model.frame_rate == ref.frame_rate and model.overlap == ref.overlap
    return len(theirs)


def sconv_layers(seq):
    """SConv1d / SConvTranspose1d modules in forward order (registration order of nn.Sequential)."""
    return [(n, mod) for n, mod in seq.named_modules()
            if isinstance(mod, (em.SConv1d, em.SConvTranspose1d))]


def inner_conv(mod):
    return mod.conv.conv if isinstance(mod, em.SConv1d) else mod.convtr.convtr


def inner_norm(mod):
    return mod.conv.norm if isinstance(mod, em.SConv1d) else mod.convtr.norm


def randomize_norm_params(model, gen):
    """Make weight_g differ from ||v|| and GroupNorm affine differ from (1, 0) by per-channel factors,
    so a loader that ignores g, folds over the wrong axis or drops the affine terms cannot pass."""
    with torch.no_grad():
        for part in (model.encoder.model, model.decoder.model):
            for _, mod in sconv_layers(part):
                conv = inner_conv(mod)
                if hasattr(conv, "weight_g"):
                    f = 0.5 + torch.rand(conv.weight_g.shape, generator=gen)
                    conv.weight_g.mul_(f)
                norm = inner_norm(mod)
                if isinstance(norm, torch.nn.GroupNorm):
                    norm.weight.copy_(0.5 + torch.rand(norm.weight.shape, generator=gen))
                    norm.bias.copy_(0.1 * torch.randn(norm.bias.shape, generator=gen))


def scale_layer_output(mod, factor):
    """Multiply a conv layer's output by about `factor`: the GroupNorm affine terms when the layer has one
    (scaling weights before a GroupNorm would do nothing), else weight_g (or the weight)."""
    with torch.no_grad():
        norm = inner_norm(mod)
        if isinstance(norm, torch.nn.GroupNorm):
            norm.weight.mul_(factor)
            norm.bias.mul_(factor)
            return
        conv = inner_conv(mod)
        if hasattr(conv, "weight_g"):
            conv.weight_g.mul_(factor)
        else:
            conv.weight.mul_(factor)


def lsuv(seq, x, targets, label):
    """LSUV-style: for each conv layer in forward order, rescale until its output std on `x` is the target.
    `targets` maps layer name -> std (default 1)."""
    layers = sconv_layers(seq)
    captured = {}
    for name, mod in layers:
        target = targets.get(name, 1.0)
        h = mod.register_forward_hook(lambda _m, _i, out: captured.__setitem__("y", out))
        for _ in range(6):
            with torch.no_grad():
                seq(x)
            s = captured["y"].std().item()
            if abs(s / target - 1) < 0.01:
                break
            scale_layer_output(mod, target / max(s, 1e-12))
        h.remove()
    with torch.no_grad():
        y = seq(x)
    log(f"  LSUV {label}: {len(layers)} conv layers scaled; output std {y.std().item():.4f}")
    return y


def kmeans(x, k, iters, rng):
    """k-means++ seeding + Lloyd iterations (numpy, float64); empty clusters re-seeded from the points
    farthest from their centroid. Returns (centroids [k, D], counts [k])."""
    n = x.shape[0]
    assert n >= k, (n, k)
    centers = np.empty((k, x.shape[1]))
    centers[0] = x[rng.integers(n)]
    d2 = ((x - centers[0]) ** 2).sum(1)
    for i in range(1, k):
        cum = np.cumsum(d2)
        if cum[-1] <= 0:
            raise RuntimeError("fewer distinct points than centroids")
        j = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), n - 1)
        centers[i] = x[j]
        d2 = np.minimum(d2, ((x - centers[i]) ** 2).sum(1))
    xx = (x ** 2).sum(1)[:, None]
    for _ in range(iters):
        dist = xx - 2 * x @ centers.T + (centers ** 2).sum(1)[None]
        assign = dist.argmin(1)
        counts = np.bincount(assign, minlength=k)
        sums = np.zeros_like(centers)
        np.add.at(sums, assign, x)
        nonempty = counts > 0
        centers[nonempty] = sums[nonempty] / counts[nonempty, None]
        empty = np.flatnonzero(~nonempty)
        if len(empty):
            own = dist[np.arange(n), assign]
            far = np.argsort(-own, kind="stable")[:len(empty)]
            centers[empty] = x[far]
    dist = xx - 2 * x @ centers.T + (centers ** 2).sum(1)[None]
    counts = np.bincount(dist.argmin(1), minlength=k)
    return centers, counts


def fill_codebooks(model, latents, iters, max_points, rng, fresh_per_stage=False):
    """Stage by stage: k-means on the residual that the stages before leave (computed with the reference
    quantizer itself, in float32, exactly as inference will). Reduced widths: every stage is fitted on the
    same max_points latents. Full width (fresh_per_stage): each stage on a fresh random max_points subset of
    a larger pool, because refitting the same points' residuals stage after stage zeroes the residual of
    every singleton cluster, and with D = 128 and 32 stages fewer than 1024 distinct residuals remain."""
    d = model.quantizer.dimension
    flat = latents.permute(0, 2, 1).reshape(-1, d)             # [N, D]
    if flat.shape[0] > max_points and not fresh_per_stage:
        flat = flat[torch.from_numpy(rng.choice(flat.shape[0], max_points, replace=False))]
    residual = flat.clone()
    bins = model.quantizer.bins
    for i, layer in enumerate(model.quantizer.vq.layers):
        t0 = time.time()
        fit = residual
        if fresh_per_stage and residual.shape[0] > max_points:
            fit = residual[torch.from_numpy(rng.choice(residual.shape[0], max_points, replace=False))]
        centers, counts = kmeans(fit.double().numpy(), bins, iters, rng)
        c32 = torch.from_numpy(centers).float()
        cnt = torch.from_numpy(counts).float()
        assert torch.unique(c32, dim=0).shape[0] == bins, "duplicate centroids"
        cb = layer._codebook
        with torch.no_grad():
            cb.embed.copy_(c32)
            cb.cluster_size.copy_(cnt)
            cb.embed_avg.copy_(c32 * cnt[:, None])   # as an EMA-trained codebook relates them
            cb.inited.fill_(1.0)
            idx = cb.encode(residual[None])[0]
            residual = residual - cb.decode(idx)
        log(f"  codebook {i}: k-means on {fit.shape[0]} residuals, {int((counts > 0).sum())}/{bins} codes"
            f" used, residual rms after {residual.pow(2).mean().sqrt():.4g} ({time.time() - t0:.1f} s)")


def flip_radius(model, emb, n_q):
    """Per decision [n_q, T]: the smallest latent perturbation (L2 norm, relative to the frame latent's norm
    |z|) that changes that code: the distance from the stage's residual to the nearest face of its Voronoi
    cell, min_k (d_k − d_best) / (2 |e_k − e_best|), over |z|. Until some code changes, a perturbation of z
    moves every stage's residual by the same vector, so the minimum over a frame's stages is exactly the
    smallest perturbation that changes any of its codes. An elementwise relative perturbation rel·N(0,1)
    has norm ≈ rel·|z|, so compare these figures with rel."""
    z = emb[0].t().double()                                       # [T, D]
    znorm = z.norm(dim=1).clamp_min(1e-30)
    residual = emb[0].t().clone()                                 # float32, as inference
    rows = []
    for layer in model.quantizer.vq.layers[:n_q]:
        e = layer._codebook.embed.double()
        r = residual.double()
        dist = (r ** 2).sum(1, keepdim=True) - 2 * r @ e.t() + (e ** 2).sum(1)[None]   # [T, bins]
        idx = layer._codebook.encode(residual[None])[0]
        best = dist.gather(1, idx[:, None])
        sep = (e[None] - e[idx][:, None]).norm(dim=2)                                  # [T, bins]
        face = (dist - best) / (2 * sep)
        face[sep == 0] = math.inf
        rows.append(face.min(dim=1).values / znorm)
        residual = residual - layer._codebook.decode(idx[None])[0]
    return torch.stack(rows).float()


def perturbation_flips(model, embs, n_q, rel, trials, gen):
    """Codes changed when latents are multiplied by (1 + rel * N(0,1)); returns (changed, total)."""
    changed = total = 0
    for emb in embs:
        base = model.quantizer.vq.encode(emb, n_q=n_q)
        for _ in range(trials):
            noisy = emb * (1 + rel * torch.randn(emb.shape, generator=gen))
            changed += int((model.quantizer.vq.encode(noisy, n_q=n_q) != base).sum())
            total += base.numel()
    return changed, total


# ----------------------------------------------------------------------------------------------------
# Audio material (espeak-ng speech, noise, tones), disjoint between calibration and committed inputs

CALIB_SENTENCES = [
    "A neural audio codec turns sound into a short sequence of integers.",
    "The weather was cold, and the river had frozen along its banks.",
    "Please count from one to twenty, slowly and clearly.",
    "She sells sea shells by the sea shore every summer morning.",
    "Seven bright kites drifted over the hills towards the harbour.",
    "Do you remember the number of the house where we used to live?",
    "Measure twice and cut once, said the old carpenter with a smile.",
    "Heavy rain fell on the roof all night long, like a drum.",
    "Quantization maps each vector to the nearest entry of a codebook.",
    "Thirty thousand people waited at the station for the last train.",
    "Quick zephyrs blow, vexing daft Jim, while jackdaws love my big sphinx.",
    "Listen: the music stops, the lights go down, and the curtain rises.",
]
CALIB_VOICES = [("en", 150), ("en-us+f3", 175), ("de", 140), ("fr+m3", 165), ("es+f2", 185),
                ("it", 155), ("nl+m1", 145), ("pl+f4", 170)]
TEST_SENTENCES = [
    ("en+m2", 160, "Testing one two three: does the Swift codec give the very same tokens?"),
    ("en-us+f1", 180, "Parity means every single code matches the reference implementation."),
    ("sv+m4", 150, "Hej, detta är ett prov på tal för att jämföra två kodekar."),
]


def espeak(text, voice, speed, sr):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", path, text], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rate, pcm = wavfile.read(path)
    x = pcm.astype(np.float64) / 32768.0
    g = math.gcd(rate, sr)
    y = resample_poly(x, sr // g, rate // g)
    return y.astype(np.float32)


def calibration_audio(sr, channels, rng):
    """About 4 minutes (24 kHz) of speech in many voices plus noise, silence, tones and mixes."""
    speech = [espeak(s, v, sp, sr) for v, sp in CALIB_VOICES for s in CALIB_SENTENCES]
    pieces = []
    for i, s in enumerate(speech):
        gain = 10 ** rng.uniform(-1.2, 0.0) / max(np.abs(s).max(), 1e-9)
        if channels == 1:
            pieces.append((gain * s)[None])
        else:
            other = speech[(i * 7 + 3) % len(speech)]
            n = max(len(s), len(other))
            both = np.zeros((2, n), np.float32)
            mode = i % 4
            both[0, :len(s)] = gain * s
            if mode == 0:       # same voice both sides (mono content)
                both[1, :len(s)] = gain * s
            elif mode == 1:     # another voice on the right
                both[1, :len(other)] = gain * other / max(np.abs(other).max(), 1e-9) * 0.5
            elif mode == 2:     # panned and delayed
                both[1, 37:len(s)] = 0.4 * gain * s[:len(s) - 37]
            pieces.append(both)
        if i % 3 == 0:          # a gap of near-silence
            pieces.append(rng.normal(0, 1e-4, (channels, sr // 4)).astype(np.float32))
    seconds = lambda t: int(t * sr)  # noqa: E731
    for level in (1.0, 0.3, 0.05, 0.005):
        pieces.append(rng.uniform(-level, level, (channels, seconds(1.5))).astype(np.float32))
        pieces.append(np.clip(rng.normal(0, level / 2, (channels, seconds(1.0))), -1, 1).astype(np.float32))
    t = np.arange(seconds(2.0)) / sr
    for f0 in (110.0, 440.0, 1500.0):
        tone = 0.5 * np.sin(2 * np.pi * f0 * t) + 0.2 * np.sin(2 * np.pi * 2.7 * f0 * t)
        pieces.append(np.tile(tone.astype(np.float32), (channels, 1)))
    chirp = 0.6 * np.sin(2 * np.pi * (50 * t + 0.5 * (sr / 4 - 50) / 2.0 * t ** 2))
    pieces.append(np.tile(chirp.astype(np.float32), (channels, 1)))
    pieces.append(np.zeros((channels, seconds(0.5)), np.float32))
    audio = np.concatenate(pieces, axis=1)
    return audio


def test_cases(arch, sr, channels, rng):
    """The committed inputs: name -> (audio [C, L] float32, description, store_all_bandwidths)."""
    speech = [espeak(t, v, sp, sr) for v, sp, t in TEST_SENTENCES]
    s0 = speech[0] / np.abs(speech[0]).max() * 0.8

    def stereo(n):
        a = speech[1][:n] / np.abs(speech[1][:n]).max() * 0.7
        b = speech[2][:n] / np.abs(speech[2][:n]).max() * 0.35
        out = np.zeros((2, n), np.float32)
        out[0, :len(a)] = a
        out[1, :len(b)] = b
        return out

    def speechlike(n):
        if channels == 1:
            seg = s0[sr // 4: sr // 4 + n]
            assert len(seg) == n
            return seg[None].astype(np.float32)
        return stereo(sr // 4 + n)[:, sr // 4:]

    cases = {}
    cases["one_sample"] = (speechlike(1), "a single sample (shorter than every kernel: reflect-pad rule)", True)
    short = 200 if arch == "24khz" else 250
    cases["short"] = (speechlike(short), f"{short} samples, less than one hop of 320", True)
    odd = 7277 if arch == "24khz" else 4861
    cases["odd_length"] = (speechlike(odd), f"{odd} samples, not a multiple of the hop (320)", True)
    cases["silence"] = (np.zeros((channels, 2400 if arch == "24khz" else 4800), np.float32),
                        "digital silence", True)
    cases["noise"] = (rng.uniform(-1, 1, (channels, 4800)).astype(np.float32),
                      "full-scale uniform white noise in [-1, 1)", True)
    if arch == "24khz":
        cases["speech"] = (s0[:24000][None].astype(np.float32), "1 s of espeak-ng speech", True)
    else:
        n = 48700   # two segments: [0, 48000) and [47520, 48700)
        cases["speech_2seg"] = (stereo(n + sr // 8)[:, sr // 8:], "1.01 s of stereo espeak-ng speech, two"
                                " 1 s segments overlapping by 480 samples (decoded at the top bandwidth"
                                " only, to keep fixtures small)", False)
    return cases


def ecdc_cases(arch, cases, sr):
    """(case name, bandwidth, audio) triples written with encodec.compress.compress."""
    if arch == "24khz":
        s = cases["speech"][0]
        # 6720 = 21 hops: the reference decompress derives the frame count as
        # ceil(6720 / 24000 * 75) = 22 in floating point and fails on its own file (see notes).
        return [("speech", 1.5, s), ("speech", 3.0, s), ("odd_length", 1.5, cases["odd_length"][0]),
                ("len6720", 3.0, s[:, :6720])]
    return [("speech_2seg", 3.0, cases["speech_2seg"][0]), ("speech_2seg", 6.0, cases["speech_2seg"][0]),
            ("odd_length", 3.0, cases["odd_length"][0]), ("silence", 3.0, cases["silence"][0])]


# ----------------------------------------------------------------------------------------------------
# Hugging Face names

# Original EnCodec state-dict name -> transformers EncodecModel name. Written from the rules that
# transformers' models/encodec/convert_encodec_checkpoint_to_pytorch.py applies (its MAPPING_ENCODER /
# _DECODER / _QUANTIZER / *_48K tables), stated as patterns; verify_hf() checks the result with
# transformers' own loader (no missing or unexpected key, identical codes and audio).
HF_RULES = [
    (r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.codebook."),
    (r"^(encoder|decoder)\.model\.(\d+)\.lstm\.", r"\1.layers.\2.lstm."),
    (r"^(encoder|decoder)\.model\.(\d+)\.(block\.\d+\.|shortcut\.|)conv\.conv\.", r"\1.layers.\2.\3conv."),
    (r"^(encoder|decoder)\.model\.(\d+)\.(block\.\d+\.|shortcut\.|)conv\.norm\.", r"\1.layers.\2.\3norm."),
    (r"^decoder\.model\.(\d+)\.convtr\.convtr\.", r"decoder.layers.\1.conv."),
    (r"^decoder\.model\.(\d+)\.convtr\.norm\.", r"decoder.layers.\1.norm."),
]


def hf_name(name):
    for pat, rep in HF_RULES:
        new, n = re.subn(pat, rep, name)
        if n:
            return new
    raise KeyError(f"no Hugging Face name for {name}")


def hf_config(model, arch):
    import transformers
    a = ARCH[arch]
    enc = model.encoder
    return transformers.EncodecConfig(
        target_bandwidths=list(model.target_bandwidths), sampling_rate=model.sample_rate,
        audio_channels=model.channels, normalize=model.normalize,
        chunk_length_s=model.segment, overlap=model.overlap if model.segment is not None else None,
        hidden_size=enc.dimension, num_filters=enc.n_filters, num_residual_layers=enc.n_residual_layers,
        upsampling_ratios=list(model.decoder.ratios), norm_type=a["norm"], kernel_size=7,
        last_kernel_size=7, residual_kernel_size=3, dilation_growth_rate=2, use_causal_conv=a["causal"],
        pad_mode="reflect", compress=2, num_lstm_layers=2, trim_right_ratio=1.0,
        codebook_size=model.quantizer.bins, codebook_dim=enc.dimension, use_conv_shortcut=True)


def write_hf(model, arch, outdir, cases, tmp):
    """Map names, load them with transformers' EncodecModel.from_pretrained (must use every tensor and miss
    none), save with its save_pretrained, check the saved file equals our mapping, and check that the HF
    model gives the reference codes and audio on every case."""
    import transformers
    sd = model.state_dict()
    mapped = {hf_name(k): v.contiguous() for k, v in sd.items()}
    assert len(mapped) == len(sd)
    src = os.path.join(tmp, f"hf-in-{model.name}")
    os.makedirs(src)
    cfg = hf_config(model, arch)
    cfg.save_pretrained(src)
    save_file(mapped, os.path.join(src, "model.safetensors"), metadata={"format": "pt"})
    hf, info = transformers.EncodecModel.from_pretrained(src, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    assert not problems, f"transformers could not load the mapped weights: {problems}"
    hf.eval()
    os.makedirs(outdir)
    hf.save_pretrained(outdir)
    saved = load_file(os.path.join(outdir, "model.safetensors"))
    assert set(saved) == set(mapped), set(saved) ^ set(mapped)
    for k in mapped:
        assert torch.equal(saved[k], mapped[k]), k
    worst = 0.0
    with torch.no_grad():
        for name, rec in cases.items():
            x = torch.from_numpy(rec["audio"])[None]
            for bw in model.target_bandwidths:
                out = hf.encode(x, bandwidth=bw, return_dict=True)
                ref = rec["frames"][bw]
                pad = out.last_frame_pad_length
                for s, (codes, scale) in enumerate(ref):
                    c = out.audio_codes[s]
                    if s == len(ref) - 1 and pad:
                        c = c[..., :-pad]
                    assert torch.equal(c, codes), f"HF codes differ: {name} bw {bw} segment {s}"
                    if scale is not None:
                        assert abs(out.audio_scales[s].item() - scale.item()) <= 1e-6 * scale.item()
                if bw in rec["decoded"]:
                    y = hf.decode(out.audio_codes, out.audio_scales,
                                  last_frame_pad_length=pad, return_dict=True).audio_values
                    d = rec["decoded"][bw]
                    assert y.shape == d.shape, (y.shape, d.shape)
                    peak = max(d.abs().max().item(), 1e-12)
                    worst = max(worst, (y - d).abs().max().item() / peak)
    log(f"  transformers {transformers.__version__}: loaded {len(mapped)} tensors (0 missing, 0 unexpected),"
        f" re-saved identically; HF codes identical on every case and bandwidth; decoded audio max"
        f" |diff|/peak {worst:.2e}")
    return cfg, worst


# ----------------------------------------------------------------------------------------------------
# The run


def make_model(arch, sizes, full, args, tmp):
    name = f"encodec_{arch}" if full else f"encodec_{arch}_tiny"
    a = ARCH[arch]
    log(f"\n== {name}: n_filters {sizes['n_filters']}, dimension {sizes['dimension']},"
        f" bandwidths {sizes['bandwidths']}")
    torch.manual_seed(SEED + (1 if arch == "48khz" else 0))
    gen = torch.Generator().manual_seed(SEED + 11 + (1 if arch == "48khz" else 0))
    rng = np.random.default_rng(SEED + (7 if arch == "48khz" else 0))

    model = build_model(arch, sizes["n_filters"], sizes["dimension"], sizes["bandwidths"], name)
    n_ref = check_structure_against_get_model(arch, model, full)
    log(f"  structure matches EncodecModel._get_model ({len(model.state_dict())} of its {n_ref} tensors"
        f" at {model.quantizer.n_q} codebooks)")
    randomize_norm_params(model, gen)

    sr, ch = a["sample_rate"], a["channels"]
    t0 = time.time()
    calib = calibration_audio(sr, ch, rng)
    log(f"  calibration audio: {calib.shape[1] / sr:.1f} s x {ch} ch ({time.time() - t0:.1f} s)")

    # Chunks as the model sees them: segments normalized to unit RMS when the model normalizes.
    # Chunks are drawn at random from all of the material, as many as give KMEANS_POINTS latents
    # (three times that at full width, see fill_codebooks).
    chunk = model.segment_length or 4 * sr
    n_all = calib.shape[1] // chunk
    frames_per_chunk = math.ceil(chunk / model.encoder.hop_length)
    pool = (3 if full else 1) * KMEANS_POINTS
    n_chunks = min(n_all, math.ceil(pool / frames_per_chunk) + 4)
    xs = torch.from_numpy(calib[:, :n_all * chunk].copy()).reshape(ch, n_all, chunk).permute(1, 0, 2)
    xs = xs[torch.randperm(n_all, generator=gen)[:n_chunks]].contiguous()
    if model.normalize:
        mono = xs.mean(dim=1, keepdim=True)
        xs = xs / (1e-8 + mono.pow(2).mean(dim=2, keepdim=True).sqrt())
    sub = xs[: (3 if full else 12)]

    enc_out = lsuv(model.encoder.model, sub, {}, "encoder")
    lsuv(model.decoder.model, enc_out, {sconv_layers(model.decoder.model)[-1][0]: 0.2}, "decoder")

    with torch.no_grad():
        latents = torch.cat([model.encoder(xs[i:i + 4]) for i in range(0, n_chunks, 4)])
    mean_t = latents.mean(dim=2)
    var_t = latents.var(dim=2)
    frac = (var_t / (var_t + mean_t ** 2)).mean().item()
    log(f"  latents: {latents.shape[0] * latents.shape[2]} vectors of dimension {latents.shape[1]};"
        f" time-varying share of energy {frac:.3f}")
    fill_codebooks(model, latents, args.kmeans_iters if not full else max(4, args.kmeans_iters // 2),
                   KMEANS_POINTS, rng, fresh_per_stage=full)

    # Reference outputs on the committed inputs.
    cases = {}
    hook_out = []
    hook = model.encoder.register_forward_hook(lambda _m, _i, out: hook_out.append(out.detach().clone()))
    for cname, (audio, desc, all_bw) in test_cases(arch, sr, ch, rng).items():
        x = torch.from_numpy(np.ascontiguousarray(audio))[None]
        rec = {"audio": audio, "desc": desc, "frames": {}, "decoded": {}, "latents": None}
        with torch.no_grad():
            try:
                model.encode(x)
            except ValueError as e:
                # e.g. GroupNorm(1, 1) (a 1-channel residual branch at reduced width) on a single value
                log(f"  case {cname} skipped: the reference raises {e}")
                continue
            for bw in model.target_bandwidths:
                hook_out.clear()
                model.set_target_bandwidth(bw)
                frames = model.encode(x)
                rec["frames"][bw] = [(c.clone(), None if s is None else s.clone()) for c, s in frames]
                if rec["latents"] is None:
                    rec["latents"] = list(hook_out)
                else:
                    assert all(torch.equal(p, q) for p, q in zip(rec["latents"], hook_out))
                if all_bw or bw == model.target_bandwidths[-1]:
                    rec["decoded"][bw] = model.decode(frames)
        cases[cname] = rec
    hook.remove()

    # The perturbation check (refuse to write on failure).
    n_q = model.quantizer.n_q
    figures = {}
    calib_embs = [latents[i:i + 1] for i in range(latents.shape[0])]
    for rel in (PERTURB_REL, 1e-5, 1e-4, 1e-3):
        ch_c, tot_c = perturbation_flips(model, calib_embs, n_q, rel, 2 if rel != PERTURB_REL else 4, gen)
        ch_t, tot_t = perturbation_flips(model, [e for r in cases.values() for e in r["latents"]], n_q, rel,
                                         PERTURB_TRIALS, gen)
        figures[f"{rel:g}"] = {"calibration_changed": ch_c, "calibration_codes": tot_c,
                               "cases_changed": ch_t, "cases_codes": tot_t}
        log(f"  perturbation x(1+{rel:g}*N(0,1)): calibration {ch_c}/{tot_c} codes changed"
            f" ({ch_c / tot_c:.2e}); committed inputs {ch_t}/{tot_t} ({PERTURB_TRIALS} trials)")
    for r in cases.values():
        r["radius"] = [flip_radius(model, e, n_q) for e in r["latents"]]
    margins = {c: min(x.min().item() for x in r["radius"]) for c, r in cases.items()}
    log("  flip radius (smallest code-changing perturbation / |latent|) per case: "
        + ", ".join(f"{c} {m:.2e}" for c, m in margins.items()))
    f6 = figures[f"{PERTURB_REL:g}"]
    failures = []
    if f6["cases_changed"] or f6["calibration_changed"] > CALIB_MAX_CHANGED * f6["calibration_codes"]:
        failures.append(f"fails the {PERTURB_REL:g} perturbation check: {f6}")
    if min(margins.values()) < MIN_FLIP_RADIUS:
        failures.append(f"a recorded input has a code within {min(margins.values()):.2e}·|z| of a tie"
                        f" (need {MIN_FLIP_RADIUS:g})")
    for failure in failures:
        if not args.force:
            sys.exit(f"REFUSED: {name} {failure}")
        log(f"  CHECK FAILED, written anyway (--force): {failure}")

    # decoded audio must not be degenerate (constant or silent), so the audio comparison means something
    for cname, rec in cases.items():
        for bw, y in rec["decoded"].items():
            assert torch.isfinite(y).all(), (cname, bw)
    sp = cases["speech" if arch == "24khz" else "speech_2seg"]["decoded"][model.target_bandwidths[-1]]
    log(f"  decoded speech: std {sp.std().item():.4f}, peak {sp.abs().max().item():.4f}")
    return model, cases, figures, margins


def write_outputs(arch, model, cases, figures, margins, full, outroot, tmp):
    name = model.name
    out = os.path.join(outroot, name)
    os.makedirs(out)
    sd = model.state_dict()
    torch.save(sd, os.path.join(out, f"{name}.th"))
    with open(os.path.join(out, "state_dict.txt"), "w") as f:
        for k, v in sd.items():
            f.write(f"{k}\t{list(v.shape)}\t{str(v.dtype).replace('torch.', '')}\n")

    hfcfg, hf_worst = write_hf(model, arch, os.path.join(out, "hf"), cases, tmp)

    a = ARCH[arch]
    enc = model.encoder
    config = {
        "name": name, "architecture": f"encodec_{arch}", "sample_rate": model.sample_rate,
        "channels": model.channels, "causal": a["causal"], "norm": a["norm"], "pad_mode": "reflect",
        "n_filters": enc.n_filters, "dimension": enc.dimension, "n_residual_layers": enc.n_residual_layers,
        "ratios": list(model.decoder.ratios), "kernel_size": 7, "last_kernel_size": 7,
        "residual_kernel_size": 3, "dilation_base": 2, "compress": 2, "true_skip": False, "lstm": 2,
        "trim_right_ratio": 1.0, "activation": "ELU", "activation_alpha": 1.0, "final_activation": None,
        "bins": model.quantizer.bins, "n_q": model.quantizer.n_q,
        "target_bandwidths": list(model.target_bandwidths), "normalize": model.normalize,
        "segment": model.segment, "overlap": model.overlap,
        "derived": {
            "hop_length": int(enc.hop_length), "frame_rate": model.frame_rate,
            "segment_length": model.segment_length, "segment_stride": model.segment_stride,
            "bits_per_codebook": model.bits_per_codebook,
            "n_q_for_bandwidth": {f"{bw:g}": model.quantizer.get_num_quantizers_for_bandwidth(
                model.frame_rate, bw) for bw in model.target_bandwidths},
        },
        "made_by": {"script": "scripts/make-encodec-fixtures.py", "seed": SEED, "full": full,
                    "torch": torch.__version__, "encodec": encodec.__version__, "numpy": np.__version__},
        "perturbation_check": {"multiplier": "1 + rel * N(0,1) per latent element", "figures": figures,
                               "flip_radius": margins},
        "huggingface": {"dir": "hf", "decoded_max_abs_diff_over_peak": hf_worst},
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
        f.write("\n")

    tensors = {}
    manifest = {
        "model": name,
        "tensor_names": {
            "<case>/input": "float32 [C, L]: the input audio",
            "<case>/seg<s>/latents": "float32 [D, T_s]: encoder output of segment s (after normalization),"
                                     " before quantization",
            "<case>/seg<s>/scale": "float32 [1]: the segment's scale 1e-8 + rms(mono) (normalizing models)",
            "<case>/seg<s>/flip_radius": "float32 [n_q, T_s]: per code decision at the top bandwidth, the"
                                         " smallest latent perturbation that changes it, relative to |z_t|"
                                         " (a near tie if tiny; codes of lower bandwidths are a prefix)",
            "<case>/bw<b>/seg<s>/codes": "int32 [K, T_s]: model.set_target_bandwidth(b); model.encode(x)",
            "<case>/bw<b>/decoded": "float32 [C, L']: model.decode(frames), untrimmed (L' >= L)",
        },
        "tolerance": "codes: identical; decoded audio: max |diff| <= 1e-4 * max |reference|",
        "cases": [],
    }
    for cname, rec in cases.items():
        x = rec["audio"]
        tensors[f"{cname}/input"] = torch.from_numpy(np.ascontiguousarray(x))
        segs = []
        first = rec["frames"][model.target_bandwidths[0]]
        seg_len = model.segment_length or x.shape[1]
        stride = model.segment_stride or x.shape[1]
        for s, lat in enumerate(rec["latents"]):
            tensors[f"{cname}/seg{s}/latents"] = lat[0].contiguous()
            tensors[f"{cname}/seg{s}/flip_radius"] = rec["radius"][s].contiguous()
            scale = first[s][1]
            if scale is not None:
                tensors[f"{cname}/seg{s}/scale"] = scale.reshape(1).float().contiguous()
            off = s * stride
            segs.append({"offset": off, "length": min(seg_len, x.shape[1] - off),
                         "frames": int(lat.shape[-1]),
                         "scale": None if scale is None else float(scale.item())})
        bws = []
        for bw in model.target_bandwidths:
            for s, (codes, _) in enumerate(rec["frames"][bw]):
                tensors[f"{cname}/bw{bw:g}/seg{s}/codes"] = codes[0].to(torch.int32).contiguous()
            entry = {"bandwidth": bw, "key": f"bw{bw:g}", "n_q": int(rec["frames"][bw][0][0].shape[1])}
            if bw in rec["decoded"]:
                tensors[f"{cname}/bw{bw:g}/decoded"] = rec["decoded"][bw][0].contiguous()
                entry["decoded_length"] = int(rec["decoded"][bw].shape[-1])
            bws.append(entry)
        manifest["cases"].append({"name": cname, "description": rec["desc"], "channels": int(x.shape[0]),
                                  "length": int(x.shape[1]), "segments": segs, "bandwidths": bws,
                                  "flip_radius": margins[cname]})
    save_file(tensors, os.path.join(out, "cases.safetensors"), metadata={"model": name})
    os.chmod(os.path.join(out, "cases.safetensors"), 0o644)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    write_ecdc(arch, model, cases, os.path.join(out, "ecdc"))


def write_ecdc(arch, model, cases, outdir):
    """compress() output for some inputs, checked by the reference's own decompress."""
    os.makedirs(outdir)
    ecompress.MODELS[model.name] = lambda: model      # decompress looks the model up by name
    raw = {n: r["audio"] for n, r in cases.items()}
    cases_for = {n: (a, "", True) for n, a in raw.items()}
    for cname, bw, audio in ecdc_cases(arch, cases_for, model.sample_rate):
        wav = torch.from_numpy(np.ascontiguousarray(audio))
        model.set_target_bandwidth(bw)
        data = ecompress.compress(model, wav, use_lm=False)
        with torch.no_grad():
            frames = model.encode(wav[None])
        base = f"{cname}_bw{bw:g}"
        with open(os.path.join(outdir, base + ".ecdc"), "wb") as f:
            f.write(data)
        try:
            dec, _ = ecompress.decompress(data)
            with torch.no_grad():
                expect = model.decode(frames)[0, :, :wav.shape[-1]]
            assert torch.equal(dec, expect), "reference decompress differs from model.decode"
            verdict = "ok: decodes to model.decode(model.encode(x)) exactly"
        except EOFError as e:
            verdict = f"fails: EOFError: {e}"
        meta = ebinary.read_ecdc_header(io.BytesIO(data))
        info = {
            "file": base + ".ecdc", "model": model.name, "bandwidth": bw,
            "header_json": json.dumps(meta), "audio_length": int(wav.shape[-1]),
            "num_codebooks": int(frames[0][0].shape[1]), "use_lm": False, "bytes": len(data),
            "reference_decompress": verdict,
            "frames": [{"scale": None if s is None else float(s.item()),
                        "scale_bits": None if s is None else "0x%08x" % struct.unpack(
                            "!I", struct.pack("!f", s.item()))[0],
                        "codes": c[0].tolist()} for c, s in frames],
        }
        with open(os.path.join(outdir, base + ".json"), "w") as f:
            json.dump(info, f, separators=(",", ":"))
            f.write("\n")
        log(f"  ecdc {base}: {len(data)} bytes, {len(frames)} segment(s), K={info['num_codebooks']};"
            f" reference decompress {verdict.split(':')[0]}")


def verify_written(out, arch, sizes):
    """Reload what was written, independently of the in-memory model: a fresh model loads the .th strictly
    and must reproduce every recorded code and decoded sample from cases.safetensors exactly."""
    cfg = json.load(open(os.path.join(out, "config.json")))
    model = build_model(arch, sizes["n_filters"], sizes["dimension"], sizes["bandwidths"], cfg["name"])
    model.load_state_dict(torch.load(os.path.join(out, f"{cfg['name']}.th")), strict=True)
    tensors = load_file(os.path.join(out, "cases.safetensors"))
    manifest = json.load(open(os.path.join(out, "cases.json")))
    checked = 0
    with torch.no_grad():
        for case in manifest["cases"]:
            x = tensors[f"{case['name']}/input"][None]
            for bw in case["bandwidths"]:
                model.set_target_bandwidth(bw["bandwidth"])
                frames = model.encode(x)
                assert len(frames) == len(case["segments"])
                for s, (codes, scale) in enumerate(frames):
                    want = tensors[f"{case['name']}/{bw['key']}/seg{s}/codes"]
                    assert torch.equal(codes[0].to(torch.int32), want), (case["name"], bw["key"], s)
                    if scale is not None:
                        assert torch.equal(scale.reshape(1), tensors[f"{case['name']}/seg{s}/scale"])
                    checked += codes.numel()
                key = f"{case['name']}/{bw['key']}/decoded"
                if key in tensors:
                    assert torch.equal(model.decode(frames)[0], tensors[key]), key
    log(f"  verified: a fresh model loading {cfg['name']}.th reproduces all {checked} recorded codes and the"
        " decoded audio exactly")


def write_json_examples(outroot):
    """json.dumps as encodec.binary.write_ecdc_header calls it, on awkward names (escaping, non-ASCII)."""
    names = ["encodec_24khz", 'quote"back\\slash', "tab\tnewline\nnul\u0000", "café ünï",
             "emoji \U0001F3B5 mark", "slash/ok"]
    examples = []
    for i, n in enumerate(names):
        meta = {"m": n, "al": [0, 1, 24000, 2 ** 31 + 5, 48700, 7][i], "nc": [1, 2, 32, 16, 4, 8][i],
                "lm": False}
        examples.append({"m": n, "al": meta["al"], "nc": meta["nc"], "lm": False,
                         "json": json.dumps(meta)})
    with open(os.path.join(outroot, "ecdc_json_examples.json"), "w") as f:
        json.dump({"made_by": "json.dumps(metadata) as encodec/binary.py:write_ecdc_header",
                   "examples": examples}, f, indent=1)
        f.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(REPO, "Tests", "Fixtures", "encodec"),
                   help="output directory for the reduced-width fixtures (replaced)")
    p.add_argument("--full", metavar="DIR", help="write full-width models and outputs to DIR instead")
    p.add_argument("--only", choices=["24khz", "48khz"], help="one architecture only")
    p.add_argument("--kmeans-iters", type=int, default=15)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--force", action="store_true",
                   help="write even when the tie checks fail (diagnostics only; never for committed fixtures)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    full = args.full is not None
    outroot = os.path.abspath(args.full if full else args.out)
    sizes = FULL if full else TINY
    t0 = time.time()
    log(f"torch {torch.__version__}, encodec {encodec.__version__}; output {outroot}"
        f" ({'full width' if full else 'reduced widths'})")
    with tempfile.TemporaryDirectory() as tmp:
        stage = os.path.join(tmp, "out")
        os.makedirs(stage)
        for arch in ("24khz", "48khz"):
            if args.only and arch != args.only:
                continue
            model, cases, figures, margins = make_model(arch, sizes[arch], full, args, tmp)
            write_outputs(arch, model, cases, figures, margins, full, stage, tmp)
            verify_written(os.path.join(stage, model.name), arch, sizes[arch])
        write_json_examples(stage)
        with open(os.path.join(stage, "README.md"), "w") as f:
            f.write(README)
        # Everything passed: replace the output directory.
        if os.path.exists(outroot):
            shutil.rmtree(outroot)
        shutil.copytree(stage, outroot)
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(outroot) for n in ns)
    log(f"\nwrote {outroot}: {total / 1e6:.2f} MB in all ({time.time() - t0:.0f} s)")


README = """# EnCodec parity fixtures

Made by `scripts/make-encodec-fixtures.py` (read its header for how to run it, and `--full`). Do not edit
by hand: rerun the script. Seeded models of the EnCodec 24 kHz architecture (causal, weight_norm, mono)
and 48 kHz architecture (non-causal, time_group_norm, stereo, normalize, 1 s segments, 1 % overlap) at
reduced widths, with the reference outputs of PyPI `encodec` 0.1.1:

- `<model>/<model>.th`: `torch.save(model.state_dict())`, laid out as the released checkpoints;
- `<model>/hf/`: the same weights with Hugging Face transformers names (`model.safetensors`, `config.json`);
- `<model>/config.json`: all hyper-parameters, derived values, the perturbation-check figures;
- `<model>/cases.safetensors` + `cases.json`: inputs, latents, scales, codes at every bandwidth, decoded
  audio (tensor names in `cases.json`);
- `<model>/ecdc/*.ecdc` + `*.json`: `encodec.compress.compress(model, wav, use_lm=False)` output and the
  codes/scales it holds;
- `ecdc_json_examples.json`: `json.dumps` of `.ecdc` headers with awkward model names.
"""


if __name__ == "__main__":
    main()
