# shellcheck shell=bash
# Environment for cedana development/test tools. Source it; do not execute it:
#   source scripts/lib/env.sh
# Only sets environment variables (no output, no files touched), safe to source repeatedly.
# The tools themselves are installed by scripts/setup-system.sh.

# Where setup-system.sh puts Node 24 and pnpm (overridable).
export CEDANA_TOOLS="${CEDANA_TOOLS:-/opt/cedana-tools}"

# pnpm's home (global bin dir for `pnpm add -g`, store/state defaults); kept out of the pnpm install itself.
export PNPM_HOME="${PNPM_HOME:-$CEDANA_TOOLS/pnpm/home}"

# PATH: our Node, pnpm, then /usr/local (CRIU 4.2 lives in /usr/local/sbin) before anything else.
# Idempotent: entries are moved to the front, never duplicated.
__cedana_path_front() {
  local want=("$@") rest="" d keep w
  local IFS=':'
  for d in $PATH; do
    [ -n "$d" ] || continue
    keep=1
    for w in "${want[@]}"; do [ "$d" = "$w" ] && keep=0 && break; done
    [ "$keep" = 1 ] && rest="${rest:+$rest:}$d"
  done
  PATH="${want[*]}${rest:+:$rest}"
}
__cedana_want="$CEDANA_TOOLS/node/bin:$CEDANA_TOOLS/pnpm/bin:/usr/local/sbin:/usr/local/bin"
case ":$PATH:" in
  ":$__cedana_want:"*) ;; # already in front
  *) __cedana_path_front "$CEDANA_TOOLS/node/bin" "$CEDANA_TOOLS/pnpm/bin" /usr/local/sbin /usr/local/bin ;;
esac
case ":$PATH:" in
  *":$PNPM_HOME:"*) ;;
  *) PATH="$PATH:$PNPM_HOME" ;;
esac
unset -f __cedana_path_front
unset __cedana_want
export PATH

# node-gyp: build native addons (better-sqlite3, ...) against the headers of *our* Node
# ($CEDANA_TOOLS/node/include/node). The env var beats `nodedir=` in ~/.npmrc.
export npm_config_nodedir="$CEDANA_TOOLS/node"

# No prompts, no update nags. (CI is deliberately NOT set: pnpm would switch to --frozen-lockfile.)
export npm_config_update_notifier=false
export npm_config_fund=false
export npm_config_audit=false
export npm_config_confirm_modules_purge=false    # pnpm: purge node_modules without asking (no TTY needed)
export pnpm_config_confirm_modules_purge=false
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
export COREPACK_ENABLE_STRICT=0
