#!/bin/bash
# Integration test on a real single-node Slurm (opt-in; not part of `swift test`):
#   scripts/test-slurm.sh [NUM_SHARDS]        (default 4; run as root on Debian/Ubuntu)
# Installs Debian's slurm-wlm and munge if missing, starts a private munged, slurmctld and slurmd on
# localhost (config, key, state, logs and ports in a temporary directory; nothing in /etc is changed),
# makes a small corpus with `codec convert`, submits scripts/slurm/tokenize.sbatch as a job array of
# NUM_SHARDS tasks, waits, merges the shard manifests, and checks that the merged manifest and every token
# file are byte-identical to a single-process run. Stops the daemons it started on exit.
set -euo pipefail
SHARDS=${1:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CODEC=${CODEC:-$ROOT/.build/release/codec}
MODEL=${MODEL:-$ROOT/Tests/Fixtures/encodec/encodec_24khz_tiny/encodec_24khz_tiny.th}
W=$(mktemp -d /tmp/neuralcodec-slurm.XXXXXX)
chmod 700 "$W"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done   # stopped before their files go
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
say() { echo "[test-slurm] $*"; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi
[ -x "$CODEC" ] || (cd "$ROOT" && swift build -c release --product codec >/dev/null)

# munge: a private daemon with its own key and socket.
mkdir -p "$W/munge"
dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$W/munge/munge.key"
munged --foreground --force --socket="$W/munge/sock" --key-file="$W/munge/munge.key" --pid-file="$W/munge/pid" \
       --log-file="$W/munge/log" --seed-file="$W/munge/seed" & PIDS+=($!)
for _ in $(seq 50); do [ -S "$W/munge/sock" ] && break; sleep 0.1; done

# Slurm: one node (this host), one partition; ports chosen from the PID to avoid clashes.
HOST=$(hostname -s)
CPUS=$(nproc)
PORT=$((20000 + ($$ % 20000)))
mkdir -p "$W/state" "$W/spool" "$W/log"
cat > "$W/slurm.conf" <<CONF
ClusterName=neuralcodec
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$W/munge/sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MaxArraySize=1000
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$W/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$W/log/slurmctld.out" 2>&1 & PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >"$W/log/slurmd.out" 2>&1 & PIDS+=($!)
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then break; fi
    sleep 1
done
sinfo -h -o "%P %D %T %c" | sed 's/^/[test-slurm] node: /'
sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)' || { say "slurm did not come up"; tail -20 "$W/log/"*; exit 1; }

# A small corpus: the sample clips at several rates and channel counts, in a tree.
C=$W/corpus
mkdir -p "$C/en" "$C/mix/stereo"
for r in 16000 22050 24000 32000 44100 48000; do
    "$CODEC" convert "$ROOT/Resources/samples/speech-en-24k.wav" "$C/en/speech-$r.wav" --rate $r >/dev/null
    "$CODEC" convert "$ROOT/Resources/samples/speech-music-48k-stereo.flac" "$C/mix/stereo/mix-$r.flac" --rate $r >/dev/null
done
"$CODEC" convert "$ROOT/Resources/samples/speech-music-48k-stereo.flac" "$C/mix/mono.wav" --channels 1 >/dev/null
say "corpus: $(find "$C" -type f | wc -l) files"

# The job array: one task per shard, one CPU each (tasks run side by side).
OUT=$W/out-slurm
jid=$(CODEC=$CODEC sbatch --parsable --wait --array=0-$((SHARDS - 1)) --cpus-per-task=1 \
      --output="$W/log/task-%A_%a.out" "$ROOT/scripts/slurm/tokenize.sbatch" "$C" "$OUT" "$MODEL" 3)
say "job array $jid finished: $(ls "$OUT"/manifest.shard-*.jsonl | wc -l) shard manifests"
for f in "$W"/log/task-*.out; do sed 's/^/[test-slurm]   /' "$f" | grep -E 'task|tokenized'; done
"$CODEC" tokenize --merge -o "$OUT" | sed 's/^/[test-slurm] /'

# The same corpus in one process.
REF=$W/out-single
"$CODEC" tokenize "$C" -o "$REF" --model "$MODEL" --bandwidth 3 | sed 's/^/[test-slurm] /'

# Every input in exactly one shard, and the merged result equal to the single run.
total=$(cat "$OUT"/manifest.shard-*.jsonl | wc -l)
unique=$(cat "$OUT"/manifest.shard-*.jsonl | grep -o '"relative":"[^"]*"' | sort -u | wc -l)
[ "$total" = "$unique" ] || { say "FAIL: an input is in more than one shard ($total lines, $unique inputs)"; exit 1; }
cmp "$OUT/manifest.jsonl" "$REF/manifest.jsonl" || { say "FAIL: merged manifest differs"; diff "$OUT/manifest.jsonl" "$REF/manifest.jsonl" | head; exit 1; }
diff -r -x 'manifest*' "$OUT" "$REF" || { say "FAIL: token files differ"; exit 1; }
n=$(find "$REF" -name '*.npy' | wc -l)
say "PASS: $SHARDS shards on Slurm, merged manifest ($total entries) and $n token files identical to one process"
