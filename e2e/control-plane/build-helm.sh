#!/usr/bin/env bash
# Builds helm from its Go module (no binaries can be downloaded here) into a cache outside the
# repository, and reuses it. Same approach as build-binaries.sh: go/helm/ is a committed wrapper
# module (a `tool` directive and a go.sum) that pins helm and every dependency; -mod=readonly.
#
#   e2e/control-plane/build-helm.sh          # prints the path of the helm binary
#
# The ldflags are the ones helm's own Makefile sets: the version string, and the Kubernetes version
# `helm template`/`helm lint` assume without a cluster (client-go v0.X.Y -> 1.X; without them helm
# would default to v1.20 and reject charts needing a newer API).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
MOD="$here/go/helm"
HELM_VERSION="$(awk '$1 == "helm.sh/helm/v3" {print $2; exit}' "$MOD/go.mod")"
client_go="$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$MOD/go.mod")"   # e.g. v0.37.0
[ -n "$HELM_VERSION" ] && [ -n "$client_go" ] || { echo "build-helm: cannot read the pins in $MOD/go.mod" >&2; exit 1; }
CACHE="${CHAPERONE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaperone}"
key="$(cat "$MOD/go.mod" "$MOD/go.sum" | sha256sum | cut -c1-12)"
BIN="$CACHE/helm-$HELM_VERSION-$key/bin"
HELM="$BIN/helm"

if [ -x "$HELM" ]; then
  echo "$HELM"
  exit 0
fi

command -v go >/dev/null || { echo "build-helm: Go is required (https://go.dev/dl)" >&2; exit 1; }
log() { echo "build-helm: $*" >&2; }
mkdir -p "$BIN"
export GOFLAGS="-mod=readonly -trimpath -buildvcs=false"
export CGO_ENABLED=0

k8s_minor="$(echo "$client_go" | cut -d. -f2)"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

log "building helm $HELM_VERSION (cold: a minute or two)"
(cd "$MOD" && go build -ldflags "$ldflags" -o "$HELM.tmp.$$" helm.sh/helm/v3/cmd/helm)
got="$("$HELM.tmp.$$" version --short)"
if [[ "$got" != "$HELM_VERSION"* ]]; then
  rm -f "$HELM.tmp.$$"
  echo "build-helm: the built helm reports '$got', expected $HELM_VERSION" >&2
  exit 1
fi
mv "$HELM.tmp.$$" "$HELM"
log "built $HELM ($got)"
echo "$HELM"
