# Chaperone: `make test` installs what it needs and runs every test; `make demo` shows it working.
SHELL := /bin/bash
NPM_STAMP := node_modules/.install-stamp

.PHONY: all deps tools build lint unit test demo bench crds clean

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

# Everything CI runs: type check, build, unit and integration tests.
test: tools lint build
	npx vitest run

demo: build
	node dist/e2e/demo/standalone.js

# The CRD is generated from api/schema.ts; a test fails when crds/ is stale.
crds: build
	node dist/bin/chaperone.js crd > crds/governancepolicies.chaperone.dev.yaml

bench: build tools
	node dist/bench/run.js $(BENCH_ARGS)

clean:
	rm -rf dist
