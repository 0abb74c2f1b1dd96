#!/usr/bin/env bash
# Runs every test of the workspace (after setting up whatever is missing), then prints one summary line.
set -uo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SCRIPT_DIR")"
bash "$SCRIPT_DIR/setup.sh" || { echo "set-up failed" >&2; exit 1; }
# shellcheck source=lib/env.sh
source "$SCRIPT_DIR/lib/env.sh"
cd "$ROOT"

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
pnpm -r --workspace-concurrency=1 --no-bail run test 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

passed=$(grep -Eo '^\s*[0-9]+ passing' "$out" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^\s*[0-9]+ failing' "$out" | awk '{s+=$1} END {print s+0}')
pending=$(grep -Eo '^\s*[0-9]+ pending' "$out" | awk '{s+=$1} END {print s+0}')
if [ "$failed" -gt 0 ]; then
  # The failures again, together at the end, where a log's tail shows them.
  echo
  echo "=== failures ==="
  awk '/^ *[0-9]+ failing/ {on=1; n=0} on && /ERR_PNPM|^> @cedana-ts|^ *[0-9]+ passing/ && !/failing/ {on=0} on && n++ < 200 {print}' "$out"
fi
echo
echo "${passed} passed, ${failed} failed, ${pending} skipped"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then echo "a test command failed outside mocha (exit $status)" >&2; fi
exit "$status"
