#!/usr/bin/env bash
# Per-stage report of a model on the held-out split of a training corpus (the files `codec train` never
# reads): links them into a temporary tree that keeps their category folders, then runs `codec eval` on it
# (per-file rows, means over all files and per category, as text and an HTML report).
#
# Usage: scripts/eval-held-out.sh DATA OUTDIR [MODEL] [HELD_OUT_FRACTION]
#   writes OUTDIR/held-out.txt (the table) and OUTDIR/held-out.html (the report)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: scripts/eval-held-out.sh DATA OUTDIR [MODEL] [HELD_OUT_FRACTION]}
OUT=${2:?usage: scripts/eval-held-out.sh DATA OUTDIR [MODEL] [HELD_OUT_FRACTION]}
MODEL=${3:-}
FRACTION=${4:-0.05}
CODEC=${CODEC:-$(swift build -c release --show-bin-path)/codec}
[ -x "$CODEC" ] || swift build -c release --product codec >/dev/null
DATA=$(cd "$DATA" && pwd)
mkdir -p "$OUT"
TREE=$(mktemp -d "${TMPDIR:-/tmp}/held-out.XXXXXX")
trap 'rm -rf "$TREE"' EXIT
"$CODEC" train --data "$DATA" --held-out "$FRACTION" --list-held-out | while IFS= read -r f; do
    rel=${f#"$DATA"/}
    mkdir -p "$TREE/$(dirname "$rel")"
    ln -s "$f" "$TREE/$rel"
done
echo "$(find "$TREE" -type l | wc -l) held-out files of $DATA (fraction $FRACTION)"
args=()
[ -n "$MODEL" ] && args=(--model "$MODEL")
"$CODEC" eval "$TREE" "${args[@]}" --report "$OUT/held-out.html" | sed "s|$TREE|held-out|g" > "$OUT/held-out.txt"
tail -n 40 "$OUT/held-out.txt"
