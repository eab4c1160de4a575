#!/usr/bin/env bash
# Builds helm from its Go module (no binaries can be downloaded here) into a cache outside the
# repository, keyed by version, and reuses it. Same approach as build-binaries.sh for Kubernetes.
#
#   e2e/control-plane/build-helm.sh          # prints the path of the helm binary
#
# helm.sh/helm/v3's go.mod has no replace directives, so `go install module/cmd/helm@version` builds
# it as released. The ldflags are the ones helm's own Makefile sets: the version string, and the
# Kubernetes version `helm template`/`helm lint` assume without a cluster (client-go v0.X.Y -> 1.X;
# without them helm would default to v1.20 and reject charts needing a newer API).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"   # latest stable helm v3 on the Go module proxy
CACHE="${CHAPERONE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaperone}"
BIN="$CACHE/helm-$HELM_VERSION/bin"
HELM="$BIN/helm"

if [ -x "$HELM" ]; then
  echo "$HELM"
  exit 0
fi

command -v go >/dev/null || { echo "build-helm: Go is required (https://go.dev/dl)" >&2; exit 1; }
log() { echo "build-helm: $*" >&2; }
mkdir -p "$BIN"
work="$(mktemp -d)"
tmpbin="$(mktemp -d "$BIN/.build.XXXXXX")"
trap 'rm -rf "$work" "$tmpbin"' EXIT
export GOFLAGS="${GOFLAGS:-} -mod=mod -trimpath"
export CGO_ENABLED=0

log "building helm $HELM_VERSION (cold: a minute or two)"
cd "$work"
go mod download -json "helm.sh/helm/v3@$HELM_VERSION" >/dev/null
modfile="$(go env GOMODCACHE)/cache/download/helm.sh/helm/v3/@v/$HELM_VERSION.mod"
client_go="$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$modfile")"   # e.g. v0.37.0
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
[ -n "$k8s_minor" ] || { echo "build-helm: no k8s.io/client-go in $modfile" >&2; exit 1; }

ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

# Build into a temporary directory, then move into place: a concurrent run never sees half a binary.
GOBIN="$tmpbin" go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
mv "$tmpbin/helm" "$HELM"
log "built $HELM ($("$HELM" version --short))"
echo "$HELM"
