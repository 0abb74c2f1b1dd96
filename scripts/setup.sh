#!/usr/bin/env bash
# Everything cedana needs on a fresh Debian 12 machine (root): system packages, CRIU 4.2, Node 24, pnpm
# (setup-system.sh), then the workspace's dependencies and build, and `cedana` on PATH.
# Idempotent: a second run skips what is done.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SCRIPT_DIR")"
# shellcheck source=lib/env.sh
source "$SCRIPT_DIR/lib/env.sh"

bash "$SCRIPT_DIR/setup-system.sh"

cd "$ROOT"
# Dependencies: pnpm checks the lockfile against node_modules and does nothing when they agree.
pnpm install --frozen-lockfile --reporter=silent
echo "workspace dependencies: up to date"

# Build, unless nothing that goes into the build changed since the last one.
stamp_file="node_modules/.cedana-build-stamp"
stamp="$( (git ls-files -s -- sdk core plugins tsconfig.base.json pnpm-lock.yaml 2>/dev/null; git diff -- sdk core plugins 2>/dev/null; node --version) | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && [ -f core/dist/src/cli/main.js ]; then
  echo "workspace build: up to date"
else
  pnpm -r --workspace-concurrency=1 run build >/dev/null
  echo "$stamp" > "$stamp_file"
  echo "workspace build: done"
fi

# The plugin stores (repo-local .store and /usr/local/lib/cedana/store): every plugin packed, with its dependencies.
bash "$SCRIPT_DIR/setup-plugin-store.sh"

# `cedana` on PATH, run by our Node whatever else is on PATH.
wrapper=/usr/local/bin/cedana
want="#!/bin/sh
# Installed by cedana's scripts/setup.sh
exec \"$CEDANA_TOOLS/node/bin/node\" \"$ROOT/core/bin/cedana\" \"\$@\""
if [ -f "$wrapper" ] && [ "$(cat "$wrapper")" = "$want" ]; then
  echo "cedana on PATH: $wrapper (already)"
else
  printf '%s\n' "$want" > "$wrapper"
  chmod 755 "$wrapper"
  echo "cedana on PATH: $wrapper"
fi
