#!/usr/bin/env bash
# NEEDS A GPU MACHINE: an NVIDIA GPU, driver 570 or newer (580 for the figures in docs/performance.md), nvcc, CRIU
# 4.2 and a built workspace (scripts/setup.sh). NOT run by the test command.
#
# Builds gpu-pattern.cu with nvcc, starts a private cedana daemon, and for each size: runs gpu-pattern as a GPU job,
# dumps it, checks that it is gone, restores it, checks that its pass counter goes on from where it was with no
# mismatch in device memory, and prints the GPU figures the job recorded, with throughputs, as a markdown row.
#
# Usage: bash plugins/gpu/test/cuda/run-gpu-check.sh [MiB …]   (default: 1024 8192); NVCC=path picks the compiler.
set -euo pipefail

HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
# shellcheck source=../../../../scripts/lib/env.sh
[ -f "$ROOT/scripts/lib/env.sh" ] && source "$ROOT/scripts/lib/env.sh"
SIZES=("$@")
[ "${#SIZES[@]}" -gt 0 ] || SIZES=(1024 8192)

NVCC="${NVCC:-nvcc}"
command -v "$NVCC" >/dev/null || { echo "run-gpu-check: $NVCC not found (needs the CUDA toolkit)" >&2; exit 1; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,uuid,driver_version,memory.total --format=csv,noheader

WORK="$(mktemp -d /tmp/cedana-gpu-check.XXXXXX)"
export CEDANA_ADDRESS="$WORK/cedana.sock" CEDANA_DB_PATH="$WORK/cedana.db" CEDANA_CONFIG_DIR="$WORK/config"
export CEDANA_CHECKPOINT_DIR="$WORK/checkpoints" CEDANA_PLUGINS_LIB_DIR="$WORK/plugins"
mkdir -p "$CEDANA_CHECKPOINT_DIR"
cedana() { node "$ROOT/core/bin/cedana" "$@"; }

DAEMON=""
cleanup() {
  set +e
  cedana job kill --all --signal KILL >/dev/null 2>&1
  if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$NVCC" -O2 -o "$WORK/gpu-pattern" "$HERE/gpu-pattern.cu"
# Not through the function: $! must be the daemon itself, so that cleanup stops it.
node "$ROOT/core/bin/cedana" daemon start >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do [ -S "$CEDANA_ADDRESS" ] && break; sleep 0.1; done
[ -S "$CEDANA_ADDRESS" ] || { cat "$WORK/daemon.log"; exit 1; }
# Other plugins may report errors here (no containerd, say); only the CUDA section matters.
(cedana daemon check || true) | awk '/^CUDA/ {f = 1; print; next} /^[^ ]/ {f = 0} f'

last_step() { grep -o '^step [0-9]*' "$1" | tail -1 | cut -d' ' -f2; }
wait_steps() { # wait_steps LOG N: until the last step is at least N (60 s)
  for _ in $(seq 600); do
    local s; s="$(last_step "$1" || true)"
    [ -n "$s" ] && [ "$s" -ge "$2" ] && return 0
    grep -q '^cuda error' "$1" && { cat "$1"; exit 1; }
    sleep 0.1
  done
  echo "run-gpu-check: $1 did not reach step $2" >&2; tail -5 "$1" >&2; exit 1
}
now() { date +%s.%N; }

echo
echo "| MiB | device bytes | lock ms | checkpoint ms | checkpoint GB/s | dump s | restore ms | unlock ms | restore GB/s | restore s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for MIB in "${SIZES[@]}"; do
  jid="gpu-$MIB"
  log="$WORK/$jid.log"
  cedana run process --gpu-enabled --jid "$jid" --log "$log" -- "$WORK/gpu-pattern" "$MIB" >/dev/null
  wait_steps "$log" 5
  t0="$(now)"; cedana dump job "$jid" >/dev/null; t1="$(now)"
  cedana ps --json | node -e "const j=JSON.parse(require('fs').readFileSync(0)).find(j=>j.jid==='$jid'); if (j.status!=='halted') { console.error('still running after dump: '+j.status); process.exit(1) }"
  before="$(last_step "$log")"
  t2="$(now)"; cedana restore job "$jid" >/dev/null; t3="$(now)"
  wait_steps "$log" $((before + 10))
  # The pass counter lives in device memory: after the restore it goes on from the dump, not from 1.
  first_after="$(grep -o '^step [0-9]*' "$log" | cut -d' ' -f2 | awk 'NR>1 && $1<=prev {print "restart at " $1; exit} {prev=$1}')"
  [ -z "$first_after" ] || { echo "run-gpu-check: $jid: pass counter went back ($first_after)" >&2; exit 1; }
  if grep -q 'bad [1-9]' "$log"; then echo "run-gpu-check: $jid: device memory mismatches" >&2; grep 'bad [1-9]' "$log" | head -3 >&2; exit 1; fi
  cedana job inspect "$jid" --json | node -e "
    const g = JSON.parse(require('fs').readFileSync(0)).details.gpu;
    const d = g.dump, r = g.restore, b = d.deviceMemoryBytes;
    const gbs = (ms) => (b && ms ? (b / 1e9 / (ms / 1000)).toFixed(2) : 'n/a');
    console.log('| $MIB | ' + b + ' | ' + d.lockMs + ' | ' + d.checkpointMs + ' | ' + gbs(d.checkpointMs) + ' | ' +
      ($t1 - $t0).toFixed(2) + ' | ' + r.restoreMs + ' | ' + r.unlockMs + ' | ' + gbs(r.restoreMs) + ' | ' + ($t3 - $t2).toFixed(2) + ' |');"
  cedana job kill "$jid" --signal KILL >/dev/null
done
echo
echo "run-gpu-check: every size dumped, restored, kept its device memory and went on computing"
