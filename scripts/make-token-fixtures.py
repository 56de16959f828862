#!/usr/bin/env python3
"""Token layout fixtures for Tests/TokensTests: Tests/Fixtures/tokens/layouts.json.

A small reference written from the published definitions:
  - audiocraft modules/codebooks_patterns.py: a pattern is a list of sequence steps, step 0 empty (the
    leading special step), each step a list of (t, q) coordinates. build_pattern_sequence (with
    keep_only_valid_steps=False) fills step s, codebook q with codes[q, t] for the coordinate (t, q) of
    step s when t < T, else the special token (= card, the codebook size).
      ParallelPatternProvider:  steps t = 0..T-1 hold (t, q) for every q.
      DelayedPatternProvider (delays 0..K-1): steps t = 0..T+K-2 hold (t - q, q) for t - q >= 0.
      CoarseFirstPattern (delays 0): steps t = 0..T-1 hold (t, 0), then steps t = 0..T-1 hold (t, q >= 1).
  - Bark generation.py _flatten_codebooks: arr[q] += q * CODEBOOK_SIZE, then arr.ravel("F") (frame-major).

With --audiocraft FILE (audiocraft's codebooks_patterns.py; needs torch) the three audiocraft patterns are
also computed with the original module and must agree, e.g.:
  git -C <audiocraft clone> show HEAD:audiocraft/modules/codebooks_patterns.py > /tmp/cp.py
  python3 scripts/make-token-fixtures.py --audiocraft /tmp/cp.py
Also records FNV-1a-64 hashes of a few relative paths (the shard key). Deterministic (seeded); < 20 kB.
"""
import argparse
import importlib.util
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "tokens", "layouts.json")


def pattern_steps(name, K, T):
    steps = [[]]  # the leading empty step
    if name == "parallel":
        for t in range(T):
            steps.append([(t, q) for q in range(K)])
    elif name == "delay":
        for t in range(T + K - 1):
            steps.append([(t - q, q) for q in range(K) if t - q >= 0])
    elif name == "coarse-first":
        for t in range(T):
            steps.append([(t, 0)])
        for t in range(T):
            steps.append([(t, q) for q in range(1, K)])
    else:
        raise ValueError(name)
    return steps


def build(name, codes, card):
    K, T = codes.shape
    if name == "flatten":
        arr = codes.astype(np.int64).copy()
        for q in range(1, K):
            arr[q, :] += q * card
        return arr.ravel("F")
    steps = pattern_steps(name, K, T)
    out = np.full((K, len(steps)), card, dtype=np.int64)
    for s, coords in enumerate(steps):
        for t, q in coords:
            if t < T:
                out[q, s] = codes[q, t]
    return out


def audiocraft_build(module, name, codes, card):
    import torch
    K, T = codes.shape
    if name == "parallel":
        provider = module.ParallelPatternProvider(K)
    elif name == "delay":
        provider = module.DelayedPatternProvider(K)
    else:
        provider = module.CoarseFirstPattern(K)
    pattern = provider.get_pattern(T)
    z = torch.from_numpy(codes.astype(np.int64))[None]
    values, _, _ = pattern.build_pattern_sequence(z, card, keep_only_valid_steps=False)
    reverted, _, _ = pattern.revert_pattern_sequence(values, card, keep_only_valid_steps=False)
    assert (reverted[0].numpy() == codes).all(), f"audiocraft revert differs for {name}"
    return values[0].numpy()


def fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audiocraft", help="path to audiocraft's codebooks_patterns.py to cross-check")
    args = ap.parse_args()
    module = None
    if args.audiocraft:
        spec = importlib.util.spec_from_file_location("codebooks_patterns", args.audiocraft)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

    rng = np.random.default_rng(8)
    shapes = [(3, 4, 8), (4, 5, 16), (2, 1, 4), (1, 6, 10), (8, 3, 1024)]
    cases = []
    for K, T, card in shapes:
        codes = rng.integers(0, card, size=(K, T))
        for name in ["parallel", "delay", "flatten", "coarse-first"]:
            if name == "coarse-first" and K < 2:
                continue
            seq = build(name, codes, card)
            if module is not None and name != "flatten":
                ref = audiocraft_build(module, name, codes, card)
                assert ref.shape == seq.shape and (ref == seq).all(), f"{name} K={K} T={T}: differs from audiocraft"
            cases.append({"pattern": name, "bins": card, "codebooks": K, "frames": T,
                          "codes": codes.ravel().tolist(), "shape": list(seq.shape), "sequence": seq.ravel().tolist()})
    paths = ["a.wav", "sub/b.flac", "speaker_0001/utt_0042.wav", "ünïcødé/ß.wav", ""]
    hashes = [{"path": p, "fnv1a64": format(fnv1a64(p), "016x")} for p in paths]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"made_by": "scripts/make-token-fixtures.py", "audiocraft_checked": module is not None,
                   "layouts": cases, "fnv1a64": hashes}, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} layout cases, {len(hashes)} hashes, audiocraft checked: {module is not None}")


if __name__ == "__main__":
    main()
