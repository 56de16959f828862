#!/usr/bin/env bash
# Peak memory of `codec encode` and `codec decode` on long 24 kHz inputs (issue 4): under LIMIT_MB on an
# hour of audio, and not growing with length (a short run and a long run must peak alike).
#
# Usage: scripts/check-memory.sh [MODEL] [MINUTES]
#   MODEL    a 24 kHz model (default: the tiny EnCodec fixture; the full-size random-weight model of
#            scripts/bench-codec.py is written by `python3 scripts/bench-codec.py --save-model PATH`)
#   MINUTES  length of the long input (default 60); the short input is a tenth of it
# Env: LIMIT_MB (default 300), GROWTH_MB (allowed long − short difference, default 20),
#      NEURALCODEC_THREADS (threads, default all), KEEP=1 keeps the work directory.
# Needs sox and GNU time (/usr/bin/time -v). Prints one RESULT line per run and exits 1 if a bound fails.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-Tests/Fixtures/encodec/encodec_24khz_tiny/encodec_24khz_tiny.th}
MINUTES=${2:-60}
LIMIT_MB=${LIMIT_MB:-300}
GROWTH_MB=${GROWTH_MB:-20}

swift build -c release --product codec >/dev/null
CODEC=$(swift build -c release --show-bin-path)/codec
WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-memory.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

# Peak RSS (MB) and wall time of a command, from GNU time.
measure() {
    local log="$WORK/time.log"
    /usr/bin/time -v "$@" >"$WORK/out.log" 2>"$log" || { cat "$WORK/out.log" "$log" >&2; exit 2; }
    local kb wall
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    echo "$((kb / 1024)) $wall"
}

status=0
declare -A peak
short=$(( MINUTES * 6 ))   # seconds: a tenth of the long input
for seconds in "$short" $(( MINUTES * 60 )); do
    wav="$WORK/in-$seconds.wav"
    # Pink noise with a slow tremolo and a tone: broadband, not silent, deterministic.
    sox -n -r 24000 -c 1 -b 16 "$wav" synth "$seconds" pinknoise synth "$seconds" sine 220 \
        tremolo 0.5 40 vol 0.3 2>/dev/null
    read -r enc_mb enc_wall < <(measure "$CODEC" encode "$wav" -o "$WORK/x.ecdc" --model "$MODEL" --quiet)
    read -r dec_mb dec_wall < <(measure "$CODEC" decode "$WORK/x.ecdc" -o "$WORK/y.wav" --model "$MODEL" --quiet)
    frames=$(soxi -s "$WORK/y.wav")
    echo "RESULT seconds=$seconds encode_peak_mb=$enc_mb encode_wall=$enc_wall decode_peak_mb=$dec_mb decode_wall=$dec_wall decoded_samples=$frames ecdc_bytes=$(stat -c %s "$WORK/x.ecdc")"
    [ "$frames" -eq $(( seconds * 24000 )) ] || { echo "FAIL: decoded $frames samples, expected $(( seconds * 24000 ))"; status=1; }
    peak[enc-$seconds]=$enc_mb; peak[dec-$seconds]=$dec_mb
    rm -f "$wav" "$WORK/y.wav"
done
long=$(( MINUTES * 60 ))
for op in enc dec; do
    p=${peak[$op-$long]}; s=${peak[$op-$short]}
    if [ "$p" -ge "$LIMIT_MB" ]; then echo "FAIL: $op peak $p MB >= $LIMIT_MB MB"; status=1; fi
    if [ $(( p - s )) -gt "$GROWTH_MB" ]; then echo "FAIL: $op peak grows with length: $s MB → $p MB"; status=1; fi
done
[ $status = 0 ] && echo "OK: peaks under $LIMIT_MB MB and flat with length (model $MODEL, $MINUTES min)"
exit $status
