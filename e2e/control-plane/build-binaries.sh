#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, etcd and
# CoreDNS (the local cluster's DNS) from their Go modules (no binaries can be downloaded here) into a cache outside the repository, and reuses them.
#
#   e2e/control-plane/build-binaries.sh          # prints the bin directory
#
# What is built is pinned by committed wrapper modules, not by what the module proxy serves today:
# go/kubernetes/, go/etcd/ and go/coredns/ each hold a go.mod whose `tool` directives name the commands (so
# `go mod tidy` keeps the require) and a go.sum that fixes every module's hash. The build runs with
# -mod=readonly: a module that is not already pinned fails the build instead of being fetched at its
# newest version. Kubernetes' own go.mod replaces its k8s.io/* staging modules with local paths, which
# a dependent module cannot use; the wrapper pins each to the matching published v0.x version.
#
# The cache key is a hash of the wrapper modules, so changing a pin rebuilds. After building, each
# binary's reported version is checked against the pin.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
K8S_MOD="$here/go/kubernetes"
ETCD_MOD="$here/go/etcd"
COREDNS_MOD="$here/go/coredns"
# The pinned versions, read from the wrapper modules (one place to change them).
pinned() { awk -v m="$2" '$1 == m {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1/go.mod"; }
K8S_VERSION="$(pinned "$K8S_MOD" k8s.io/kubernetes)"
ETCD_VERSION="$(pinned "$ETCD_MOD" go.etcd.io/etcd/server/v3)"
COREDNS_VERSION="$(pinned "$COREDNS_MOD" github.com/coredns/coredns)"
[ -n "$K8S_VERSION" ] && [ -n "$ETCD_VERSION" ] && [ -n "$COREDNS_VERSION" ] || { echo "build-binaries: cannot read the pinned versions" >&2; exit 1; }

CACHE="${CHAPERONE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaperone}"
key="$(cat "$K8S_MOD"/go.{mod,sum} "$ETCD_MOD"/go.{mod,sum} "$COREDNS_MOD"/go.{mod,sum} | sha256sum | cut -c1-12)"
BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-$key/bin"
mkdir -p "$BIN"

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
have() { [ -x "$BIN/$1" ]; }
log() { echo "build-binaries: $*" >&2; }

# Each binary reports the pinned version, or the build is wrong (and the cached file is removed).
check_version() {
  local name="$1" want="$2" got
  # The first line, cut here: `| head -1` under pipefail fails with SIGPIPE (141) when the binary
  # writes its second line after head has gone (coredns prints several).
  got="$("$BIN/$name" --version 2>&1)"
  got="${got%%$'\n'*}"
  if [[ "$got" != *"$want"* ]]; then
    rm -f "$BIN/$name"
    echo "build-binaries: $name reports '$got', expected $want" >&2
    exit 1
  fi
}

missing=0
for cmd in "${K8S_CMDS[@]}" etcd coredns; do have "$cmd" || missing=1; done
if [ "$missing" = 0 ]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "build-binaries: Go is required (https://go.dev/dl)" >&2; exit 1; }
export GOFLAGS="-mod=readonly -trimpath -buildvcs=false"
export CGO_ENABLED=0

# Build into a temporary name, then move into place: a concurrent run never sees half a binary.
build() {
  local mod="$1" name="$2" pkg="$3" ldflags="$4"
  have "$name" && return 0
  log "building $name (cold: several minutes)"
  (cd "$mod" && go build -ldflags "$ldflags" -o "$BIN/$name.tmp.$$" "$pkg")
  mv "$BIN/$name.tmp.$$" "$BIN/$name"
}

k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
for cmd in "${K8S_CMDS[@]}"; do
  build "$K8S_MOD" "$cmd" "k8s.io/kubernetes/cmd/$cmd" "$k8s_ldflags"
  check_version "$cmd" "Kubernetes $K8S_VERSION"
done
build "$ETCD_MOD" etcd go.etcd.io/etcd/server/v3 "-s -w"
check_version etcd "etcd Version: ${ETCD_VERSION#v}"
build "$COREDNS_MOD" coredns github.com/coredns/coredns "-s -w"
check_version coredns "CoreDNS-${COREDNS_VERSION#v}"

log "built and checked: ${K8S_CMDS[*]} $K8S_VERSION, etcd $ETCD_VERSION, coredns $COREDNS_VERSION"
echo "$BIN"
