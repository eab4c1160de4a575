#!/usr/bin/env bash
# Installs what the benchmark's peers and chart need, outside the project's dependencies.
# Idempotent, and fast once everything is there (a few checks, no network).
#
#   mitmproxy              Debian package (mitmdump), the base of the mitmproxy contender
#   python3-matplotlib     Debian package, for bench/chart.py (bench/results/latency.png)
#   @agentreserve/proxy    npm registry, v0.1.0, into ${XDG_CACHE_HOME:-~/.cache}/chaperone/bench/peers
#                          (--ignore-scripts; its one native dependency, better-sqlite3, is then built
#                          from its bundled sources with npm's own node-gyp against this Node's headers)
#
# Never fails the caller: a piece that cannot be installed is reported here, and the benchmark run
# reports that contender as "not available: <reason>" and carries on.
set -u

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/chaperone/bench/peers"
AR_VERSION=0.1.0
say() { printf '[peers] %s\n' "$*" >&2; }
status=0

# ---------------------------------------------------------------------------------------- Debian
need=()
command -v mitmdump >/dev/null 2>&1 || need+=(mitmproxy)
/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1 || need+=(python3-matplotlib)
if ((${#need[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "apt-get not found: cannot install ${need[*]}"
    status=1
  else
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else say "not root and no sudo: cannot install ${need[*]}"; fi
    fi
    say "installing ${need[*]} (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
      # The package lists may be missing or stale: refresh them once and retry.
      $SUDO apt-get update -qq >/dev/null 2>&1
      $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 || { say "apt-get install ${need[*]} failed"; status=1; }
    fi
  fi
fi

# --------------------------------------------------------------------------- @agentreserve/proxy
AR="$CACHE/node_modules/@agentreserve/proxy"
installed_version() { node -e "process.stdout.write(require(process.argv[1]).version)" "$AR/package.json" 2>/dev/null; }
if [ "$(installed_version)" != "$AR_VERSION" ]; then
  say "installing @agentreserve/proxy@$AR_VERSION into $CACHE (npm, --ignore-scripts)"
  mkdir -p "$CACHE"
  npm install --prefix "$CACHE" "@agentreserve/proxy@$AR_VERSION" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>&1 \
    || { say "npm install @agentreserve/proxy@$AR_VERSION failed"; status=1; }
fi

# better-sqlite3's native binding, built for this Node (rebuilt when Node's ABI changes).
BS="$CACHE/node_modules/better-sqlite3"
sqlite_ok() { (cd "$CACHE" && node -e "new (require('better-sqlite3'))(':memory:').close()") >/dev/null 2>&1; }
if [ -d "$BS" ] && ! sqlite_ok; then
  NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  GYP="$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js"
  NODE_PREFIX="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  gyp_args=(rebuild --release -j 2)
  # Headers of the running Node, so node-gyp downloads nothing.
  if [ -f "$NODE_PREFIX/include/node/node.h" ]; then gyp_args+=("--nodedir=$NODE_PREFIX"); fi
  if [ ! -f "$GYP" ]; then
    say "node-gyp not found next to npm ($GYP): cannot build better-sqlite3"
    status=1
  else
    say "building better-sqlite3 (native, about a minute, once)"
    if ! (cd "$BS" && node "$GYP" "${gyp_args[@]}") >"$CACHE/better-sqlite3-build.log" 2>&1; then
      say "better-sqlite3 build failed: see $CACHE/better-sqlite3-build.log"
      status=1
    elif ! sqlite_ok; then
      say "better-sqlite3 built but does not load"
      status=1
    fi
  fi
fi

if [ "$status" = 0 ]; then
  say "ok: mitmdump $(mitmdump --version 2>/dev/null | sed -n 's/^Mitmproxy: //p'), @agentreserve/proxy $(installed_version), matplotlib $(/usr/bin/python3 -c 'import matplotlib; print(matplotlib.__version__)' 2>/dev/null)"
else
  say "some peers are missing; the benchmark will report them as not available"
fi
exit 0
