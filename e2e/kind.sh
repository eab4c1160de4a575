#!/usr/bin/env bash
# The end-to-end suite against a kind cluster, for machines with Docker and kind (CI here has no
# Docker and uses the local control plane instead; the suite is the same).
#   make e2e-kind            # KEEP_CLUSTER=1 keeps the cluster afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in docker kind kubectl; do command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is required" >&2; exit 1; }; done
name="${KIND_CLUSTER:-chaperone-e2e}"
kubeconfig="$(mktemp)"
if ! kind get clusters | grep -qx "$name"; then kind create cluster --name "$name" --wait 120s; fi
kind get kubeconfig --name "$name" > "$kubeconfig"
# The suites run the webhook on this machine; kind's API server reaches it at the host's address on
# the kind network (its gateway), not at 127.0.0.1.
E2E_WEBHOOK_HOST="$(docker network inspect kind -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' | tr ' ' '\n' | grep -E '^[0-9.]+$' | head -1)"
export E2E_WEBHOOK_HOST
docker build -t chaperone:e2e .
kind load docker-image chaperone:e2e --name "$name"
status=0
KUBECONFIG="$kubeconfig" CHAPERONE_IMAGE=chaperone:e2e npx vitest run --config e2e/vitest.config.ts || status=$?
[ "${KEEP_CLUSTER:-0}" = 1 ] || kind delete cluster --name "$name"
rm -f "$kubeconfig"
exit $status
