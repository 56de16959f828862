#!/bin/bash
# Corpus tokenization throughput: `codec tokenize` over a directory vs `codec encode` once per file.
#   scripts/bench-tokenize.sh [MODEL] [FILES] [SECONDS]
# Defaults: the tiny 24 kHz fixture model (where per-process start-up weighs most), 100 files of 10 s.
# Makes a seeded corpus of 24 kHz mono WAVs (python3 + numpy + scipy), then times, on all cores:
#   tokenize:      codec tokenize CORPUS -o OUT --model MODEL        (files in parallel, one process)
#   encode serial: codec encode FILE ... once per file, one after another (kernels on all cores)
#   encode -P N:   the same with xargs -P <cores> (NEURALCODEC_THREADS=1 per process)
# and prints throughput in audio-hours per wall-hour and the ratios, as a Markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=${1:-$ROOT/Tests/Fixtures/encodec/encodec_24khz_tiny/encodec_24khz_tiny.th}
FILES=${2:-100}
SECONDS_PER_FILE=${3:-10}
CODEC=${CODEC:-$ROOT/.build/release/codec}
CORES=$(nproc)
[ -x "$CODEC" ] || (cd "$ROOT" && swift build -c release --product codec >/dev/null)
W=$(mktemp -d /tmp/neuralcodec-bench-tokenize.XXXXXX)
trap 'rm -rf "$W"' EXIT

python3 - "$W/corpus" "$FILES" "$SECONDS_PER_FILE" <<'PY'
import os, sys
import numpy as np
from scipy.io import wavfile
out, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rng = np.random.default_rng(0)
sr = 24000
t = np.arange(int(seconds * sr)) / sr
for i in range(n):
    d = os.path.join(out, f"spk{i % 10}")
    os.makedirs(d, exist_ok=True)
    f0 = 110 + 20 * (i % 17)
    x = 0.3 * np.sin(2 * np.pi * f0 * t * (1 + 0.05 * np.sin(2 * np.pi * 0.5 * t))) + 0.05 * rng.standard_normal(t.size)
    wavfile.write(os.path.join(d, f"utt{i:04d}.wav"), sr, (np.clip(x, -1, 1) * 32767).astype(np.int16))
PY
AUDIO_H=$(python3 -c "print($FILES * $SECONDS_PER_FILE / 3600)")
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$AUDIO_H / (($2 - $1) / 3600):.1f}')"; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $FILES files x $SECONDS_PER_FILE s; model $(basename "$MODEL"); $CORES cores" >&2
t0=$(now); "$CODEC" tokenize "$W/corpus" -o "$W/tok" --model "$MODEL" --quiet >&2; t1=$(now)
find "$W/corpus" -name '*.wav' | sort > "$W/list"
t2=$(now)
while read -r f; do "$CODEC" encode "$f" -o "$W/one.ecdc" --model "$MODEL" >/dev/null; done < "$W/list"
t3=$(now)
mkdir -p "$W/ecdc"
t4=$(now)
NEURALCODEC_THREADS=1 xargs -P "$CORES" -I{} sh -c '"$0" encode "$1" -o "$2/$(basename "$1" .wav).ecdc" --model "$3" >/dev/null' \
    "$CODEC" {} "$W/ecdc" "$MODEL" < "$W/list"
t5=$(now)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
tok=$(rate "$t0" "$t1"); ser=$(rate "$t2" "$t3"); par=$(rate "$t4" "$t5")
echo "| method | wall s | audio-h / wall-h | vs tokenize |"
echo "|---|---|---|---|"
echo "| codec tokenize (1 process, --jobs $CORES) | $(secs "$t0" "$t1") | $tok | 1.00x |"
echo "| codec encode per file, serial | $(secs "$t2" "$t3") | $ser | $(python3 -c "print(f'{$ser/$tok:.2f}x')") |"
echo "| codec encode per file, xargs -P $CORES | $(secs "$t4" "$t5") | $par | $(python3 -c "print(f'{$par/$tok:.2f}x')") |"
