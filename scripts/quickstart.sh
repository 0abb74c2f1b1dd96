#!/usr/bin/env bash
# The quick start: a daemon on a private socket, a counter run as a job, checkpointed, killed by the
# checkpoint, restored, and counting on from where it was. Stops everything it started.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
bash "$SCRIPT_DIR/setup.sh"
# shellcheck source=lib/env.sh
source "$SCRIPT_DIR/lib/env.sh"

work="$(mktemp -d /tmp/cedana-quickstart.XXXXXX)"
export CEDANA_ADDRESS="$work/cedana.sock" CEDANA_DB_PATH="$work/cedana.db" CEDANA_CONFIG_DIR="$work/config"
export CEDANA_CHECKPOINT_DIR="$work/checkpoints"
mkdir -p "$CEDANA_CHECKPOINT_DIR"
daemon_pid=""

cleanup() {
  if [ -S "$CEDANA_ADDRESS" ]; then cedana job kill --all --signal KILL >/dev/null 2>&1 || true; fi
  if [ -n "$daemon_pid" ]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }
last_count() { tail -n 1 "$work/counter.log"; }

say "cedana daemon start   # private socket $CEDANA_ADDRESS"
cedana daemon start >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$CEDANA_ADDRESS" ] && break; sleep 0.1; done
[ -S "$CEDANA_ADDRESS" ] || { cat "$work/daemon.log"; echo "the daemon did not start" >&2; exit 1; }

run cedana run process --jid counter --log "$work/counter.log" -- \
  bash -c 'i=0; while true; do echo $i; i=$((i+1)); sleep 0.5; done'
sleep 2
run cedana ps
say "tail -n 1 counter.log"; last_count

run cedana dump job counter --compression lz4
at_dump="$(last_count)"
run cedana ps
run cedana job checkpoints counter
sleep 1
[ "$(last_count)" = "$at_dump" ] || { echo "the counter kept running after the dump" >&2; exit 1; }
echo "(the job is halted: its log stays at $at_dump)"

run cedana restore job counter
sleep 2
run cedana ps
say "tail -n 3 counter.log"; tail -n 3 "$work/counter.log"
now="$(last_count)"
if [ "$now" -gt "$at_dump" ]; then
  printf '\nThe counter was checkpointed at %s, restored, and carried on to %s.\n' "$at_dump" "$now"
else
  echo "the counter did not carry on after restore (at dump: $at_dump, now: $now)" >&2
  exit 1
fi
