#!/usr/bin/env bash
# µP learning-rate sweep: trains the codec for a few hundred steps at several widths and learning rates,
# under µP and under standard parameterization (SP), and tabulates the final training loss (mean of the
# last 20 steps). Under µP the best learning rate should be the same grid point at every width; under SP it
# should drift (Tensor Programs V, Fig. 1). Writes docs/mup/sweep.tsv, docs/mup/sweep.md and an SVG chart.
#
# Usage: scripts/mup-sweep.sh DATA_DIR [STEPS] [WIDTHS] [LRS]
#   e.g. scripts/mup-sweep.sh data 300 "4 8 16" "3e-4 1e-3 3e-3 1e-2 3e-2"
# Runs are resumable: a finished run's log is kept in $OUT/runs and skipped on rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: scripts/mup-sweep.sh DATA_DIR [STEPS] [WIDTHS] [LRS]}
STEPS=${2:-300}
WIDTHS=${3:-"4 8 16"}
LRS=${4:-"3e-4 1e-3 3e-3 1e-2 3e-2"}
OUT=${OUT:-docs/mup}
RUNS=${RUNS:-.build/mup-runs}
CODEC=${CODEC:-.build/release/codec}
BASE=${BASE:-8}
mkdir -p "$OUT" "$RUNS"
[ -x "$CODEC" ] || swift build -c release --product codec

final_loss() {  # mean "total" over the last 20 logged steps of a log
    grep -o 'total [0-9.eE+-]*' "$1" | awk '{v[NR]=$2} END {n=0; s=0; for (i=NR-19; i<=NR; i++) if (i>0) {s+=v[i]; n++}; if (n) printf "%.4f", s/n; else print "nan"}'
}

echo -e "parameterization\twidth\tlr\tfinal_loss" > "$OUT/sweep.tsv"
for p in mup sp; do
  for w in $WIDTHS; do
    for lr in $LRS; do
      log="$RUNS/$p-w$w-lr$lr-s$STEPS.log"
      if ! grep -q "^trained" "$log" 2>/dev/null; then
        echo "[mup-sweep] $p width $w lr $lr ($STEPS steps)" >&2
        # The same seed, data order and batches for every run; a diverged run (NaN) counts as failed.
        if ! "$CODEC" train --data "$DATA" --width "$w" --base-width "$BASE" --parameterization "$p" --lr "$lr" \
              --steps "$STEPS" --warmup $((STEPS / 10)) --batch 4 --crop-seconds 0.4 --log-every 1 \
              --checkpoint-every "$STEPS" --seed 1 -o "$RUNS/$p-w$w-lr$lr.safetensors" > "$log.tmp" 2>&1; then
          echo "diverged" >> "$log.tmp"
        fi
        mv "$log.tmp" "$log"
      fi
      if grep -q "^diverged" "$log"; then loss=nan; else loss=$(final_loss "$log"); fi
      echo -e "$p\t$w\t$lr\t$loss" >> "$OUT/sweep.tsv"
    done
  done
done

python3 - "$OUT" <<'EOF'
import sys, math, collections
out = sys.argv[1]
rows = [l.rstrip("\n").split("\t") for l in open(f"{out}/sweep.tsv")][1:]
table = collections.defaultdict(dict)
lrs = []
for p, w, lr, loss in rows:
    table[(p, int(w))][lr] = float(loss) if loss not in ("nan", "") else math.nan
    if lr not in lrs: lrs.append(lr)
md = ["| param. | width | " + " | ".join(f"lr {lr}" for lr in lrs) + " | best lr |", "|---|---|" + "---|" * (len(lrs) + 1)]
for (p, w), d in sorted(table.items()):
    finite = {lr: v for lr, v in d.items() if not math.isnan(v)}
    best = min(finite, key=finite.get) if finite else "-"
    cells = [(f"**{d[lr]:.4f}**" if lr == best else f"{d[lr]:.4f}") if not math.isnan(d.get(lr, math.nan)) else "diverged" for lr in lrs]
    md.append(f"| {p} | {w} | " + " | ".join(cells) + f" | {best} |")
open(f"{out}/sweep.md", "w").write("\n".join(md) + "\n")
# SVG: final loss against log10(lr), one line per width, one panel per parameterization.
W, H, pad = 460, 320, 50
colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
xs = [math.log10(float(lr)) for lr in lrs]
vals = [v for d in table.values() for v in d.values() if not math.isnan(v)]
lo, hi = min(vals), max(vals)
def px(x): return pad + (x - min(xs)) / (max(xs) - min(xs) or 1) * (W - 2 * pad)
def py(y): return H - pad - (y - lo) / (hi - lo or 1) * (H - 2 * pad)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2*W}" height="{H}" font-family="sans-serif" font-size="12">']
for i, p in enumerate(["mup", "sp"]):
    svg.append(f'<g transform="translate({i*W},0)"><text x="{W/2}" y="20" text-anchor="middle" font-size="14">{"µP" if p=="mup" else "standard parameterization"}: final loss vs learning rate</text>')
    svg.append(f'<rect x="{pad}" y="{pad}" width="{W-2*pad}" height="{H-2*pad}" fill="none" stroke="#888"/>')
    for x, lr in zip(xs, lrs):
        svg.append(f'<text x="{px(x)}" y="{H-pad+16}" text-anchor="middle">{lr}</text>')
    for f in (0, 0.5, 1):
        y = lo + f * (hi - lo)
        svg.append(f'<text x="{pad-4}" y="{py(y)+4}" text-anchor="end">{y:.2f}</text>')
    widths = sorted(w for (q, w) in table if q == p)
    for j, w in enumerate(widths):
        d = table[(p, w)]
        pts = [(px(x), py(d[lr])) for x, lr in zip(xs, lrs) if not math.isnan(d.get(lr, math.nan))]
        c = colors[j % len(colors)]
        if pts:
            svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
            best = max(pts, key=lambda t: t[1])  # lowest loss = largest y pixel
            svg.append(f'<circle cx="{best[0]:.1f}" cy="{best[1]:.1f}" r="5" fill="{c}"/>')
        svg.append(f'<text x="{W-pad-60}" y="{pad+16+16*j}" fill="{c}">width {w}</text>')
    svg.append('</g>')
svg.append('</svg>')
open(f"{out}/sweep.svg", "w").write("\n".join(svg))
print(open(f"{out}/sweep.md").read())
EOF
