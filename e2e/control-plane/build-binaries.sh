#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from their Go modules (no binaries can be
# downloaded here) into a cache outside the repository, keyed by version, and reuses them.
#
#   e2e/control-plane/build-binaries.sh          # prints the bin directory
#
# Kubernetes' own go.mod replaces its k8s.io/* staging modules with local paths, which a dependent
# module cannot use; a small wrapper module requires k8s.io/kubernetes and pins every staging module
# to the matching published v0.x version instead. etcd likewise, at the version Kubernetes requires.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"   # what k8s.io/kubernetes ${K8S_VERSION} requires
CACHE="${CHAPERONE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaperone}"
BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
mkdir -p "$BIN"

have() { [ -x "$BIN/$1" ]; }
if have kube-apiserver && have kube-controller-manager && have etcd; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "build-binaries: Go is required (https://go.dev/dl)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOFLAGS="${GOFLAGS:-} -mod=mod -trimpath"
export CGO_ENABLED=0

log() { echo "build-binaries: $*" >&2; }

if ! have kube-apiserver || ! have kube-controller-manager; then
  log "building kube-apiserver and kube-controller-manager $K8S_VERSION (cold: several minutes)"
  mkdir -p "$work/k8s"
  cd "$work/k8s"
  staging="0${K8S_VERSION#v1}"   # v1.36.3 -> 0.36.3
  (cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null)
  modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  {
    echo "module chaperone.dev/e2e/k8s-binaries"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    grep -E '^\s*k8s\.io/[^ ]+ => \./staging/' "$modfile" | awk -v v="v$staging" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > go.mod
  echo 'package tools' > tools.go
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" >/dev/null 2>&1 || true
  go mod tidy >/dev/null 2>&1 || true
  for cmd in kube-apiserver kube-controller-manager; do
    have "$cmd" && continue
    go build -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
      -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$BIN/$cmd.tmp" "$BIN/$cmd"
    log "built $BIN/$cmd"
  done
fi

if ! have etcd; then
  log "building etcd $ETCD_VERSION"
  mkdir -p "$work/etcd"
  cd "$work/etcd"
  printf 'module chaperone.dev/e2e/etcd-binary\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
  echo 'package tools' > tools.go
  go mod tidy >/dev/null 2>&1 || true
  go build -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd.tmp" "$BIN/etcd"
  log "built $BIN/etcd"
fi

echo "$BIN"
