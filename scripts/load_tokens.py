#!/usr/bin/env python3
"""Load `codec tokenize` output with numpy and build a training batch (an example, not part of the tool).

  python3 scripts/load_tokens.py OUTDIR [--batch 8] [--max-frames 1500] [--seed 0]

Reads OUTDIR/manifest.jsonl (one JSON object per input; entries with "status": "ok" have a token file
"output", relative to OUTDIR, holding int16 codes [K, T]), picks a batch, crops each clip to at most
--max-frames frames at a random offset, and pads to the longest: codes [B, K, T] int64 with -1 as padding,
plus a boolean mask [B, T] and the lengths. Prints the batch's shapes and a JSON summary line.
"""
import argparse
import json
import os

import numpy as np


def load_manifest(outdir):
    entries = []
    with open(os.path.join(outdir, "manifest.jsonl")) as f:
        for line in f:
            if line.strip():
                entries.append(json.loads(line))
    return entries


def load_codes(outdir, entry):
    codes = np.load(os.path.join(outdir, entry["output"]))
    assert codes.dtype == np.int16 and codes.ndim == 2, f"{entry['output']}: expected int16 [K, T], got {codes.dtype} {codes.shape}"
    assert codes.shape == (entry["codebooks"], entry["frames"]), f"{entry['output']}: shape {codes.shape} disagrees with the manifest"
    return codes


def make_batch(arrays, max_frames, rng):
    crops = []
    for a in arrays:
        t = a.shape[1]
        start = int(rng.integers(0, t - max_frames + 1)) if t > max_frames else 0
        crops.append(a[:, start:start + max_frames].astype(np.int64))
    k = crops[0].shape[0]
    assert all(c.shape[0] == k for c in crops), "clips with different codebook counts in one batch"
    lengths = np.array([c.shape[1] for c in crops])
    batch = np.full((len(crops), k, lengths.max()), -1, dtype=np.int64)
    for i, c in enumerate(crops):
        batch[i, :, :c.shape[1]] = c
    mask = np.arange(lengths.max())[None, :] < lengths[:, None]
    return batch, mask, lengths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-frames", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    entries = load_manifest(args.outdir)
    ok = [e for e in entries if e["status"] == "ok"]
    failed = len(entries) - len(ok)
    rng = np.random.default_rng(args.seed)
    picked = rng.choice(len(ok), size=min(args.batch, len(ok)), replace=False)
    arrays = [load_codes(args.outdir, ok[i]) for i in sorted(picked)]
    batch, mask, lengths = make_batch(arrays, args.max_frames, rng)
    hours = sum(e["duration"] for e in ok) / 3600
    print(f"manifest: {len(ok)} ok, {failed} failed, {hours:.4f} h; model {ok[0]['model']} ({ok[0]['model_hash']}), {ok[0]['bandwidth']} kbps")
    print(f"batch: codes {batch.shape} {batch.dtype}, mask {mask.shape}, lengths {lengths.tolist()}")
    print(json.dumps({"ok": len(ok), "failed": failed, "batch_shape": list(batch.shape), "lengths": lengths.tolist(),
                      "min_code": int(batch[batch >= 0].min()), "max_code": int(batch.max())}))


if __name__ == "__main__":
    main()
