#!/usr/bin/env bash
# Fills the plugin stores from the built workspace: `pnpm pack` of the SDK and of every package under plugins/,
# plus the dependencies those plugins need, so `cedana plugin install <name>` works with no registry reachable.
#   - <repo>/.store                    : the repo-local store (tests point plugins.store at it)
#   - /usr/local/lib/cedana/store      : the default plugins.store (when run as root)
# Idempotent: a package already in a store with the same bytes is left as it is. Run after the workspace build.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$SCRIPT_DIR")"
# shellcheck source=lib/env.sh
source "$SCRIPT_DIR/lib/env.sh"

FILL="$ROOT/core/dist/src/plugins/packages/fill-store.js"
[ -f "$FILL" ] || { echo "setup-plugin-store.sh: $FILL is missing: build the workspace first" >&2; exit 1; }

node "$FILL" "$ROOT" "$ROOT/.store"

SYSTEM_STORE="${CEDANA_SYSTEM_PLUGIN_STORE:-/usr/local/lib/cedana/store}"
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$SYSTEM_STORE"
  # Tarballs first, the index last: a reader never sees an index naming a file that is not there yet.
  find "$ROOT/.store" -maxdepth 1 -name '*.tgz' -exec cp -p -t "$SYSTEM_STORE" {} +
  cp -p "$ROOT/.store/index.json" "$SYSTEM_STORE/index.json.tmp"
  mv "$SYSTEM_STORE/index.json.tmp" "$SYSTEM_STORE/index.json"
  echo "plugin store: $SYSTEM_STORE (copy of .store)"
fi
