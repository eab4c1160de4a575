# Chaperone: `make test` installs what it needs and runs every test; `make demo` shows it working.
SHELL := /bin/bash
NPM_STAMP := node_modules/.install-stamp
IMAGE ?= ghcr.io/chaperone-dev/chaperone:$(shell node -p "require('./package.json').version")

.PHONY: all deps tools build lint unit e2e test demo demo-standalone bench bench-soak bench-stall crds control-plane helm chart-test cluster-up cluster-down e2e-kind image images clean

all: build

# npm packages, exactly as locked. Install scripts stay off (none are needed).
$(NPM_STAMP): package.json package-lock.json
	@# npm ci refuses lock files written with omit-lockfile-registry-resolved (no per-platform
	@# optional entries); npm install honours the lock just the same.
	npm install --no-audit --no-fund --ignore-scripts --no-save
	@touch $@

deps: $(NPM_STAMP)

# Debian tools the tests drive for real (curl as a real client).
tools:
	@bash scripts/ensure-tools.sh

build: deps
	npx tsc -p tsconfig.build.json
	@chmod +x dist/bin/chaperone.js

lint: deps
	npx tsc -p tsconfig.json --noEmit

unit: build
	npx vitest run

# End-to-end suite against a real cluster: KUBECONFIG when set (kind, any cluster, with the images
# loaded), else the local cluster and its node (binaries built from Go modules and images built from
# the Dockerfile on first use, cached outside the repo; needs root).
e2e: build tools control-plane helm
	npx vitest run --config e2e/vitest.config.ts

# Everything CI runs: type check, build, unit and integration tests, then the end-to-end suite.
test: tools lint build control-plane helm
	npx vitest run
	npx vitest run --config e2e/vitest.config.ts

# The control plane, kubelet, kube-proxy, etcd and CoreDNS from pinned Go modules (cold: ~25 min on
# 2 cores; then cached in ~/.cache/chaperone, keyed by the pins). Skipped when KUBECONFIG is set.
control-plane:
	@if [ -z "$$KUBECONFIG" ]; then bash e2e/control-plane/build-binaries.sh >/dev/null; fi

# helm from its pinned Go module (cold: ~3 min; then cached in ~/.cache/chaperone/helm-<version>-<pin>). Not
# skipped with KUBECONFIG: the chart tests and the demo need helm on any cluster.
helm:
	@bash e2e/control-plane/build-helm.sh >/dev/null

# The Helm chart alone: lint, schema, template, server-side dry run, install/uninstall.
chart-test: build helm control-plane
	npx vitest run --config e2e/vitest.config.ts e2e/helm

# The local cluster with its node (root): kubeconfig in e2e/.cluster/kubeconfig.
cluster-up: build
	@node dist/e2e/control-plane/cluster.js up

cluster-down: build
	@node dist/e2e/control-plane/cluster.js down

# On a machine with Docker and kind: the same suite against a kind cluster.
e2e-kind: build
	bash e2e/kind.sh

# For users with Docker: the one image (sidecar, webhook, operator) from the Dockerfile.
image:
	docker build -t $(IMAGE) .
# Without Docker (what the e2e suite runs): the same Dockerfile built with buildah on a base made here.
images: build
	bash e2e/images/build-images.sh

# The whole story on the local cluster's node (or $$KUBECONFIG): helm install, the webhook and operator
# pods, an injected agent pod whose sidecar governs real calls made from inside it.
# demo-standalone: the sidecar alone, no cluster.
demo: build tools control-plane helm
	node dist/e2e/demo/cluster.js

demo-standalone: build
	node dist/e2e/demo/standalone.js

# The CRDs are generated from api/ (api/crd.ts CRD_YAML); api/crd.test.ts fails when crds/ or the
# chart's copy (charts/chaperone/crds/) is stale.
crds: build
	for crd in governancepolicies.chaperone.dev approvalrequests.chaperone.dev; do \
		node dist/bin/chaperone.js crd $$crd > crds/$$crd.yaml && cp crds/$$crd.yaml charts/chaperone/crds/ || exit 1; \
	done

# The peers (mitmproxy, @agentreserve/proxy) are installed outside the project's dependencies; run.js
# goes last so latest.md carries this run's propagation and admission results.
bench: build tools control-plane
	bash bench/peers/install.sh
	node dist/bench/propagation.js
	node dist/bench/pod-propagation.js
	node dist/bench/admission.js
	@# Threat detection quality on the labelled dataset (seconds; fails below its aim: bench/README.md).
	node dist/bench/threats.js
	@# Fleet-wide rate limits: added p50 of the shared store vs local buckets (fails above 0.3 ms).
	node dist/bench/shared-limits.js
	node dist/bench/run.js $(BENCH_ARGS)
	@# SOAK=1: the soak too (another ~12 minutes; bench/README.md, "Soak").
	@if [ -n "$(SOAK)" ]; then echo "node dist/bench/soak.js $(SOAK_ARGS)"; node dist/bench/soak.js $(SOAK_ARGS); fi

# The soak (issue 15): one sidecar with every check on, 10 minutes at 500 req/s of mixed good and bad
# traffic after 60 s of warm-up (~12 minutes); RSS and event-loop delay watched throughout. Writes
# bench/results/soak.md and soak.json. A short one: make bench-soak SOAK_ARGS="--minutes 1 --warmup-s 15".
bench-soak: build
	node dist/bench/soak.js $(SOAK_ARGS)

# The stall probe (issue 15): the event-loop stall while the sidecar handles one request, by request
# and answer size, and the first request of each kind on a fresh sidecar (~4 minutes). Writes
# bench/results/stall.md and stall.json.
bench-stall: build
	node dist/bench/stall.js $(STALL_ARGS)

clean:
	rm -rf dist
