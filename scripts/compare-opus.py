#!/usr/bin/env python3
"""Quality of a NeuralCodec model at 1.5, 3 and 6 kbps next to Opus at 6 and 12 kbps, on the same clips.

Clips: the held-out split of a training corpus (`codec train --data DIR --list-held-out`, the files the
trainer never reads) and/or audio files given on the command line. Each is converted to 24 kHz mono by
`codec convert` and cut to its first --clip-seconds (sox). Then, per clip:
  - ours: `codec eval CLIP --json [--model M]` (encode once, decode with 1..K stages); the rows with 2, 4 and
    8 stages are 1.5, 3 and 6 kbps at 75 frames/s and 1024 codes;
  - Opus (opus-tools): `opusenc --bitrate B` then `opusdec --rate 24000`, measured by `codec eval CLIP DEC --json`
    (the same metric code as ours).
Prints a markdown table of means (log-mel distance, MR-STFT loss, SI-SDR; lower, lower, higher is better),
per category (the corpus's first folder: speech/music/sounds) and over all clips.

Run: swift build -c release --product codec &&
     python3 scripts/compare-opus.py --data /work/data --samples Resources/samples/*.wav Resources/samples/*.flac
Needs sox and opus-tools (Debian); never needed by the tool or its tests.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRICS = ("logMel", "mrSTFT", "siSDR")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout


def value(v):
    """A metric from codec's JSON: a number, '+inf'/'-inf', or 'undefined (reason)' → None."""
    if isinstance(v, (int, float)):
        return float(v)
    if v in ("+inf", "-inf"):
        return math.inf if v == "+inf" else -math.inf
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", default=os.path.join(ROOT, ".build/release/codec"))
    ap.add_argument("--model", help="model file (default: codec's default model)")
    ap.add_argument("--data", help="training corpus: evaluate its held-out split")
    ap.add_argument("--held-out", type=float, default=0.05, help="the corpus's held-out fraction (as in codec train)")
    ap.add_argument("--max-per-category", type=int, default=40, help="held-out clips per category (evenly spaced by path)")
    ap.add_argument("--samples", nargs="*", default=[], help="more files, reported as category 'samples'")
    ap.add_argument("--clip-seconds", type=float, default=10.0)
    ap.add_argument("--stages", type=int, nargs="+", default=[2, 4, 8], help="our stage counts to report")
    ap.add_argument("--opus-kbps", type=float, nargs="+", default=[6, 12])
    ap.add_argument("--markdown", help="also write the table here")
    args = ap.parse_args()

    clips = []  # (category, path)
    if args.data:
        files = run([args.codec, "train", "--data", args.data, "--held-out", str(args.held_out), "--list-held-out"]).split("\n")
        by_cat = defaultdict(list)
        for f in sorted(x for x in files if x):
            by_cat[os.path.relpath(f, args.data).split(os.sep)[0]].append(f)
        for cat, fs in sorted(by_cat.items()):
            # Evenly spaced over the sorted paths, so every source of a category is represented.
            n = min(len(fs), args.max_per_category)
            clips += [(cat, fs[i * len(fs) // n]) for i in range(n)]
    clips += [("samples", f) for f in args.samples]
    if not clips:
        sys.exit("nothing to evaluate: give --data and/or --samples")

    model = ["--model", args.model] if args.model else []
    tmp = tempfile.mkdtemp(prefix="compare-opus-")
    rows = defaultdict(lambda: defaultdict(list))  # category -> system -> [(metric dict)]
    systems = [f"ours {s} stages" for s in args.stages] + [f"opus {b:g} kbps" for b in args.opus_kbps]
    kbps_of = {}
    skipped = 0
    for i, (cat, path) in enumerate(clips):
        clip = os.path.join(tmp, "clip.wav")
        full = os.path.join(tmp, "full.wav")
        try:
            run([args.codec, "convert", path, full, "--rate", "24000", "--channels", "1"])
            run(["sox", full, clip, "trim", "0", str(args.clip_seconds)])
            ours = json.loads(run([args.codec, "eval", clip, "--json"] + model))["report"]
        except RuntimeError as e:
            print(f"skip {path}: {e}", file=sys.stderr)
            skipped += 1
            continue
        if ours["length"] < 24000 // 4:
            skipped += 1
            continue
        for s in args.stages:
            st = ours["stages"][s - 1]
            kbps_of[f"ours {s} stages"] = st["kbps"]
            rows[cat][f"ours {s} stages"].append({m: value(st["quality"][m]) for m in METRICS})
        for b in args.opus_kbps:
            enc, dec = os.path.join(tmp, "o.opus"), os.path.join(tmp, "o.wav")
            run(["opusenc", "--quiet", "--bitrate", f"{b:g}", clip, enc])
            run(["opusdec", "--quiet", "--rate", "24000", enc, dec])
            q = json.loads(run([args.codec, "eval", clip, dec, "--json"]))["metrics"]
            kbps_of[f"opus {b:g} kbps"] = b
            rows[cat][f"opus {b:g} kbps"].append({m: value(q[m]) for m in METRICS})
        print(f"[{i + 1}/{len(clips)}] {cat} {os.path.basename(path)}", file=sys.stderr)

    if not rows:
        sys.exit(f"no clip could be evaluated ({skipped} skipped; reasons above)")

    def mean(items, m):
        v = [x[m] for x in items if x[m] is not None and math.isfinite(x[m])]
        return (sum(v) / len(v), len(v)) if v else (None, 0)

    cats = sorted(rows) + (["all"] if len(rows) > 1 else [])
    lines = ["| clips | system | kbps | log-mel ↓ | MR-STFT ↓ | SI-SDR dB ↑ |", "|---|---|---|---|---|---|"]
    for cat in cats:
        per_sys = rows[cat] if cat != "all" else {s: sum((rows[c][s] for c in rows), []) for s in systems}
        n = len(per_sys[systems[0]])
        for s in systems:
            cells = []
            for m in METRICS:
                v, k = mean(per_sys[s], m)
                cells.append("n/a" if v is None else (f"{v:.3f}" if k == n else f"{v:.3f} ({k} of {n})"))
            lines.append(f"| {cat} ({n}) | {s} | {kbps_of[s]:.2f} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if skipped:
        print(f"({skipped} clips skipped: unreadable or shorter than 0.25 s)")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
