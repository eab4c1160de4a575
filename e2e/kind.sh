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
# The images the pod suite runs, under the names the local node imports them by (e2e/harness/pods.ts):
# the Dockerfile itself, and the test agent (curl, Python, Node.js with the SDKs, the fake provider).
docker build -t chaperone.dev/chaperone:e2e .
docker build -f e2e/images/agent.Dockerfile -t chaperone.dev/e2e-agent:e2e .
kind load docker-image chaperone.dev/chaperone:e2e chaperone.dev/e2e-agent:e2e --name "$name"
status=0
KUBECONFIG="$kubeconfig" npx vitest run --config e2e/vitest.config.ts || status=$?
[ "${KEEP_CLUSTER:-0}" = 1 ] || kind delete cluster --name "$name"
rm -f "$kubeconfig"
exit $status
