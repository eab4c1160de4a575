#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real, when they are missing:
# curl (a real client) and prometheus + promtool (a real scraper). kubectl and Go come with the
# machine; the Kubernetes control plane itself is built from Go modules by e2e/control-plane/.
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The package may start a system-wide Prometheus; the tests run their own.
  pkill -x prometheus 2>/dev/null || true
fi
for tool in kubectl go; do
  command -v "$tool" >/dev/null || { echo "ensure-tools: $tool is required and was not found" >&2; exit 1; }
done
