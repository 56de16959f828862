#!/usr/bin/env bash
# µP coordinate check (Tensor Programs V, Fig. 5): train the codec a few Adam steps at several widths and
# record, per layer, how far its output has moved from its value at initialisation (RMS of the change).
# Under µP the change stays the same size as the width grows; under standard parameterization it grows
# with the width. Writes docs/mup/coord-check.{csv,md,svg}.
# Usage: scripts/mup-coord-check.sh [WIDTHS] [STEPS] [LR] [BASE]   e.g. "4,8,16,32" 4 0.01 4
set -euo pipefail
cd "$(dirname "$0")/.."
WIDTHS=${1:-4,8,16,32}; STEPS=${2:-4}; LR=${3:-0.01}; BASE=${4:-4}
OUT=${OUT:-docs/mup}
mkdir -p "$OUT"
[ -x .build/release/bench-train ] || swift build -c release --product bench-train
{ NEURALCODEC_THREADS=1 .build/release/bench-train coord mup "$WIDTHS" "$STEPS" "$LR" "$BASE"
  NEURALCODEC_THREADS=1 .build/release/bench-train coord sp "$WIDTHS" "$STEPS" "$LR" "$BASE" | tail -n +2; } > "$OUT/coord-check.csv"
python3 - "$OUT" "$STEPS" <<'PY'
import csv, collections, math, sys
out, steps = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(f"{out}/coord-check.csv")))
last = [r for r in rows if int(r["step"]) == steps]
change = collections.defaultdict(dict)  # (p, layer) -> width -> change_rms
layers = []
for r in last:
    change[(r["parameterization"], r["layer"])][int(r["filters"])] = float(r["change_rms"])
    if r["layer"] not in layers: layers.append(r["layer"])
widths = sorted({int(r["filters"]) for r in last})
md = [f"Change of each layer's output from its value at initialisation (RMS) after {steps} Adam steps, "
      f"and the ratio widest/narrowest (width {widths[-1]} / {widths[0]}). µP keeps it flat; SP grows it.", "",
      "| layer | " + " | ".join(f"µP w{w}" for w in widths) + " | µP ratio | " + " | ".join(f"SP w{w}" for w in widths) + " | SP ratio |",
      "|---|" + "---|" * (2 * len(widths) + 2)]
ratios = {"mup": [], "sp": []}
for layer in layers:
    cells = []
    for p in ("mup", "sp"):
        d = change[(p, layer)]
        cells += [f"{d[w]:.3g}" for w in widths]
        r = d[widths[-1]] / d[widths[0]] if d[widths[0]] > 0 else math.nan
        ratios[p].append(r)
        cells.append(f"{r:.2f}")
    md.append(f"| {layer} | " + " | ".join(cells) + " |")
med = {p: sorted(v)[len(v) // 2] for p, v in ratios.items()}
md += ["", f"Median ratio over layers: µP {med['mup']:.2f}, SP {med['sp']:.2f}."]
open(f"{out}/coord-check.md", "w").write("\n".join(md) + "\n")
# SVG: change vs width (log-log), one polyline per layer, a panel per parameterization.
W, H, pad = 460, 340, 55
vals = [v for d in change.values() for v in d.values() if v > 0]
lo, hi = math.log10(min(vals)), math.log10(max(vals))
def px(w): return pad + (math.log2(w) - math.log2(widths[0])) / (math.log2(widths[-1]) - math.log2(widths[0])) * (W - 2 * pad)
def py(v): return H - pad - (math.log10(v) - lo) / (hi - lo or 1) * (H - 2 * pad)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2*W}" height="{H}" font-family="sans-serif" font-size="12">']
for i, p in enumerate(("mup", "sp")):
    title = "µP" if p == "mup" else "standard parameterization"
    svg.append(f'<g transform="translate({i*W},0)"><text x="{W/2}" y="20" text-anchor="middle" font-size="14">{title}: output change vs width (log-log)</text>')
    svg.append(f'<rect x="{pad}" y="{pad}" width="{W-2*pad}" height="{H-2*pad}" fill="none" stroke="#888"/>')
    for w in widths: svg.append(f'<text x="{px(w):.1f}" y="{H-pad+16}" text-anchor="middle">{w}</text>')
    for e in range(math.floor(lo), math.ceil(hi) + 1):
        if lo <= e <= hi: svg.append(f'<text x="{pad-4}" y="{py(10**e)+4:.1f}" text-anchor="end">1e{e}</text>')
    for j, layer in enumerate(layers):
        d = change[(p, layer)]
        pts = " ".join(f"{px(w):.1f},{py(d[w]):.1f}" for w in widths if d.get(w, 0) > 0)
        svg.append(f'<polyline fill="none" stroke="hsl({(j * 37) % 360},60%,45%)" stroke-width="1.5" points="{pts}"/>')
    svg.append(f'<text x="{W/2}" y="{H-12}" text-anchor="middle">width (n_filters)</text></g>')
svg.append("</svg>")
open(f"{out}/coord-check.svg", "w").write("\n".join(svg))
print("\n".join(md[-1:]))
PY
