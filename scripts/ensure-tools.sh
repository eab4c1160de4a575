#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real, when they are missing:
#  - curl (a real client) and prometheus + promtool (a real scraper);
#  - the local node: containerd, runc, the CNI plugins, iptables and conntrack (kube-proxy), iproute2;
#  - the images: buildah (builds the Dockerfile without Docker), debootstrap (the base it starts from);
#  - keytool (a Java runtime), which reads the JKS trust store the operator writes for Java apps;
#  - redis-server, the shared counter store of fleet-wide rate limits (e2e/harness/redis.ts).
# kubectl and Go come with the machine; Kubernetes, etcd, CoreDNS and helm are built from Go modules
# by e2e/control-plane/.
set -euo pipefail
need=()
want() { command -v "$1" >/dev/null || need+=("$2"); }
want curl curl
want prometheus prometheus
want promtool prometheus
want containerd containerd
want ctr containerd
want runc runc
want iptables iptables
want conntrack conntrack
want ip iproute2
want buildah buildah
want debootstrap debootstrap
want keytool openjdk-17-jre-headless
want redis-server redis-server
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  echo "installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The packages may start system-wide services; the tests run their own.
  pkill -x prometheus 2>/dev/null || true
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then $SUDO systemctl disable --now containerd 2>/dev/null || true; fi
fi
for tool in kubectl go; do
  command -v "$tool" >/dev/null || { echo "ensure-tools: $tool is required and was not found" >&2; exit 1; }
done
