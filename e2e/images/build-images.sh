#!/usr/bin/env bash
# Builds the e2e suite's container images without Docker and without pulling anything from an image
# registry, as OCI archives that a containerd node imports (`ctr -n k8s.io images import ARCHIVE`
# names each image from its io.containerd.image.name annotation):
#
#   docker.io/library/node:20-bookworm-slim  the Dockerfile's base, made here: Debian from debootstrap
#                                            (the mirror apt uses) plus this machine's Node.js and npm
#   chaperone.dev/chaperone:$IMAGE_TAG       the repository's Dockerfile (sidecar, webhook, operator)
#   chaperone.dev/e2e-agent:$IMAGE_TAG       e2e/images/agent.Dockerfile: an agent pod's tools
#   chaperone.dev/pause:3.10                 e2e/images/pause.Dockerfile: a static pause, FROM scratch
#
#   e2e/images/build-images.sh      # or `make images`; needs root, buildah, debootstrap, gcc, node
#
# stdout: one NAME=PATH line per image, in the order above (the image reference, then its archive;
# references have no '=', so split at the first one). The same lines are written to
# $CACHE/images/images.env. Logs go to stderr. Environment: IMAGE_TAG (default e2e); CHAPERONE_IMAGE,
# AGENT_IMAGE, PAUSE_IMAGE (full references); CHAPERONE_CACHE (default ~/.cache/chaperone);
# CHAPERONE_NPM_CACHE (npm's cache lent to the builds; default this machine's npm cache).
#
# Each archive is cached in $CACHE/images under a key hashed from its inputs (the Debian mirror and
# suite, the node binary, the Dockerfile, the build context after .dockerignore, the steps of this
# script that make it), so a run with nothing changed takes seconds; the Debian root filesystem is
# cached as a tarball. The images are also left in buildah's local storage under their names. Builds
# go to temporary names and are moved into place; a lock (flock) serialises concurrent runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${CHAPERONE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaperone}"
OUT="$CACHE/images"
IMAGE_TAG="${IMAGE_TAG:-e2e}"
CHAPERONE_IMAGE="${CHAPERONE_IMAGE:-chaperone.dev/chaperone:$IMAGE_TAG}"
AGENT_IMAGE="${AGENT_IMAGE:-chaperone.dev/e2e-agent:$IMAGE_TAG}"
PAUSE_IMAGE="${PAUSE_IMAGE:-chaperone.dev/pause:3.10}"
DOCKERFILE="$ROOT/Dockerfile"
AGENT_DOCKERFILE="$ROOT/e2e/images/agent.Dockerfile"
PAUSE_DOCKERFILE="$ROOT/e2e/images/pause.Dockerfile"
PAUSE_SRC="$ROOT/e2e/images/pause.c"

log() { echo "build-images: $*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1fs", e - s }'; }
sha() { sha256sum | cut -c1-16; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, and buildah's storage in /var/lib/containers)"
for tool in buildah debootstrap gcc node git tar flock findmnt sha256sum apt-get; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

# ---- What the Dockerfiles build on ----
# The base both Dockerfiles use: the Dockerfile's first FROM. buildah resolves the short name
# through registries.conf's short-name aliases ("node" -> docker.io/library/node) or Docker Hub's
# library namespace, and with --pull=never it looks in local storage only: so the base is committed
# there under the fully qualified name.
from="$(awk 'toupper($1) == "FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; exit } }' "$DOCKERFILE")"
[ -n "$from" ] || die "no FROM in $DOCKERFILE"
case "$from" in
  */*/*) BASE_IMAGE="$from" ;;
  */*) if [[ "${from%%/*}" == *[.:]* || "${from%%/*}" == localhost ]]; then BASE_IMAGE="$from"; else BASE_IMAGE="docker.io/$from"; fi ;;
  *) BASE_IMAGE="docker.io/library/$from" ;;
esac
base_tag="${BASE_IMAGE##*:}"                   # 20-bookworm-slim
[[ "$BASE_IMAGE" == docker.io/library/node:* && "$base_tag" =~ ^([0-9]+)-([a-z]+)-slim$ ]] \
  || die "the Dockerfile's base $from is not node:<major>-<debian suite>-slim, the only kind this script makes"
NODE_MAJOR="${BASH_REMATCH[1]}"
SUITE="${BASH_REMATCH[2]}"
grep -qiE "^FROM +$from( |$)" "$AGENT_DOCKERFILE" || die "$AGENT_DOCKERFILE must build FROM $from too"

# This machine's Node.js goes into the base (no Node.js can be downloaded here): it must be the
# major version the Dockerfile names.
NODE_BIN="$(readlink -f "$(command -v node)")"
NODE_VERSION="$(node --version)"
NODE_VERSION="${NODE_VERSION#v}"
[ "${NODE_VERSION%%.*}" = "$NODE_MAJOR" ] || die "node $NODE_VERSION here, the Dockerfile's base has node $NODE_MAJOR"
NODE_MODULES="$(dirname "$(dirname "$NODE_BIN")")/lib/node_modules"
[ -f "$NODE_MODULES/npm/package.json" ] || die "npm not found at $NODE_MODULES/npm"

# The Debian mirror apt uses here (sources.list or deb822 .sources, whichever is configured):
# debootstrap fetches from it, and the base's apt sources name it, as Debian's images name theirs.
# shellcheck disable=SC2016 # $(...) are apt's format fields
repo_of() { apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 'Identifier: Packages' | awk -v r="$1" '$2 == r && $3 == "deb" && !n++ { print $1 }'; }
MIRROR="$(repo_of "$SUITE")"
[ -n "$MIRROR" ] || die "no apt source for Debian $SUITE in /etc/apt/sources.list{,.d}: the base is made from it"
MIRROR="${MIRROR%/}"
SECURITY_MIRROR="$(repo_of "$SUITE-security")"
SECURITY_MIRROR="${SECURITY_MIRROR%/}"
: "${SECURITY_MIRROR:=${MIRROR%/debian}/debian-security}"

mkdir -p "$OUT"
# One build at a time on this machine, whatever its cache: buildah's storage, where the base and the
# images are tagged, is the machine's.
LOCK=/run/lock/chaperone-build-images.lock
[ -d /run/lock ] || LOCK="$OUT/.lock"
exec 9>"$LOCK"
if ! flock -n 9; then
  log "another build holds $LOCK; waiting"
  flock 9
fi

# What a killed run left: its work directory (unmounting what debootstrap mounted there first: never
# delete through a mount), its temporary images and their working containers.
unmount_under() {
  local m
  { findmnt -rn -o TARGET | grep -F "$1/" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
}
for stale in "$OUT"/.work.*; do
  [ -d "$stale" ] || continue
  unmount_under "$stale"
  rm -rf --one-file-system "$stale"
done
buildah containers --format '{{.ContainerID}} {{.ImageName}}' 2>/dev/null | awk '$2 ~ /^localhost\/chaperone-images\// { print $1 }' \
  | xargs -r buildah rm >/dev/null 2>&1 || true
buildah images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep '^localhost/chaperone-images/' | xargs -r buildah rmi >/dev/null 2>&1 || true

work="$(mktemp -d "$OUT/.work.XXXXXX")"
containers=()   # this run's working containers, removed on exit (those already committed are gone)
cleanup() {
  local c
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  unmount_under "$work"
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # through the EXIT trap

# Content keys. A step's own code is part of its key (`declare -f` prints it without comments), so
# changing how an image is made rebuilds it, while editing a comment does not.
slug() { local n="${1##*/}"; echo "${n//:/-}"; }              # chaperone.dev/chaperone:e2e -> chaperone-e2e
archive_for() { echo "$OUT/$(slug "$1")-$2.oci.tar"; }

# The files of the build context: what git knows (tracked, or untracked and not ignored) minus the
# .dockerignore patterns, matched as buildah matches the simple patterns used there (a pattern also
# excludes everything below a directory it matches; **/ matches zero or more directories).
context_files() {
  local -a patterns=()
  local p f
  while IFS= read -r p || [ -n "$p" ]; do
    p="${p%%#*}"; p="${p#"${p%%[![:space:]]*}"}"; p="${p%"${p##*[![:space:]]}"}"
    [ -n "$p" ] || continue
    [[ "$p" == '!'* ]] && die ".dockerignore exceptions (!) are not supported by context_files"
    p="${p#/}"; p="${p%/}"
    patterns+=("$p")
    [[ "$p" == '**/'* ]] && patterns+=("${p#'**/'}")
  done < <(cat "$ROOT/.dockerignore" 2>/dev/null || true)
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -f "$ROOT/$f" ] || continue
    for p in "${patterns[@]}"; do
      # shellcheck disable=SC2053 # the pattern is a glob on purpose
      [[ "$f" == $p || "$f" == $p/* ]] && continue 2
    done
    printf '%s\0' "$f"
  done
}
context_key() { (cd "$ROOT" && context_files | LC_ALL=C sort -z | xargs -0r sha256sum | sha); }

# ---- The Debian root filesystem (debootstrap) ----
# minbase (essential packages and apt), as debian:*-slim is, trimmed as the slim images are: no docs,
# man pages or locales, now or in later installs; apt drops its caches after each install.
make_rootfs() {
  local dest="$1" dir="$work/rootfs"
  debootstrap --variant=minbase --arch=amd64 --components=main "$SUITE" "$dir" "$MIRROR" >&2 \
    || { tail -20 "$dir/debootstrap/debootstrap.log" >&2 2>/dev/null; return 1; }
  mkdir -p "$dir/etc/dpkg/dpkg.cfg.d" "$dir/etc/apt/apt.conf.d" "$dir/etc/apt/sources.list.d"
  cat > "$dir/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# As in Debian's slim images: files containers do not need are not installed (copyrights stay).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir/usr/share/groff" "$dir/usr/share/info" "$dir/usr/share/linda" "$dir/usr/share/lintian" "$dir/usr/share/man"
  find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  cat > "$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' > "$dir/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' > "$dir/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$dir/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -f "$dir/etc/apt/sources.list"
  cat > "$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Build-time leftovers and this machine's identity: the runtime provides resolv.conf and hostname.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
    "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old "$dir/var/log/bootstrap.log" "$dir/debootstrap"
  mkdir -p "$dir/var/lib/apt/lists/partial"
  : > "$dir/var/log/dpkg.log"
  : > "$dir/var/log/alternatives.log"
  rm -f "$dir/etc/resolv.conf" "$dir/etc/hostname" "$dir/etc/machine-id"
  tar -C "$dir" --numeric-owner --xattrs --sort=name -cf "$dest.tmp" .
  mv "$dest.tmp" "$dest"
  rm -rf --one-file-system "$dir"
}

# ---- The base: that root filesystem, then Node.js as the official node image lays it out ----
make_base() {
  local rootfs_tar="$1" name="$2" c mnt lib m missing=()
  # Layer 1: Debian, as the official image's debian:*-slim layer.
  c="$(buildah from scratch)"; containers+=("$c")
  mnt="$(buildah mount "$c")"
  tar -C "$mnt" --numeric-owner --xattrs -xpf "$rootfs_tar"
  buildah umount "$c" >/dev/null
  buildah config --os linux --arch amd64 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["bash"]' \
    --created-by "debootstrap --variant=minbase $SUITE $MIRROR (e2e/images/build-images.sh)" "$c"
  buildah commit --quiet --identity-label=false --rm "$c" "localhost/chaperone-images/debian:$SUITE-slim" >/dev/null

  # Layer 2: node in /usr/local/bin, npm and corepack in /usr/local/lib/node_modules (where the node
  # image has them, and where npm derives its prefix from), a `node` user, docker-entrypoint.sh.
  c="$(buildah from --pull=never "localhost/chaperone-images/debian:$SUITE-slim")"; containers+=("$c")
  mnt="$(buildah mount "$c")"
  install -D -m 0755 "$NODE_BIN" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules"
  for m in npm corepack; do
    [ -d "$NODE_MODULES/$m" ] && cp -a "$NODE_MODULES/$m" "$mnt/usr/local/lib/node_modules/$m"
  done
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  if [ -d "$mnt/usr/local/lib/node_modules/corepack" ]; then
    ln -s ../lib/node_modules/corepack/dist/corepack.js "$mnt/usr/local/bin/corepack"
  fi
  # The binary comes from another distribution's package: every library it links must be in the
  # root filesystem (by soname, in the multiarch library directories), and it must run there.
  while read -r lib; do
    [ -e "$mnt/lib/x86_64-linux-gnu/$lib" ] || [ -e "$mnt/usr/lib/x86_64-linux-gnu/$lib" ] || [ -e "$mnt/lib64/$lib" ] || missing+=("$lib")
  done < <(ldd "$NODE_BIN" | awk '$2 == "=>" { print $1 } $1 ~ /^\// { n = split($1, p, "/"); print p[n] }')
  [ ${#missing[@]} -eq 0 ] || die "libraries node links are missing from the root filesystem: ${missing[*]}"
  cat > "$mnt/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
# As the node image's entrypoint: `IMAGE -e ...` or `IMAGE script.js` runs node with those
# arguments; any other command runs as given.
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
  chmod 0755 "$mnt/usr/local/bin/docker-entrypoint.sh"
  buildah umount "$c" >/dev/null
  # shellcheck disable=SC2016 # expanded by the image's shell
  buildah run --isolation=chroot "$c" -- sh -ec '
    groupadd --gid 1000 node
    useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    echo "node $(node --version), npm $(npm --version), npx $(npx --version) run in the image"' >&2
  buildah config --env "NODE_VERSION=$NODE_VERSION" --entrypoint '["docker-entrypoint.sh"]' --cmd '["node"]' \
    --created-by "node $NODE_VERSION and npm from this machine's $NODE_BIN (e2e/images/build-images.sh)" "$c"
  buildah commit --quiet --identity-label=false --rm "$c" "$name" >/dev/null
  buildah rmi "localhost/chaperone-images/debian:$SUITE-slim" >/dev/null
}

# ---- Dockerfile builds ----
# What npm needs to reach its registry from inside a build, passed through from this machine: the
# registry, CA bundle and proxies of this machine's npm, and its cache (a rebuild does not download
# every package again). They are mounted (-v: for RUN steps only, in no layer) at /usr/local/etc,
# npm's global config directory for a node in /usr/local/bin: an existing, empty directory in the
# base, so no empty mount-point files are left in the images, as mounts at new paths would leave.
# apt needs nothing: the base's sources name the mirror it reaches here.
build_mounts() {
  local env="$work/build-env" ca="" key value npm_cache
  mkdir -p "$env/npm-cache"
  : > "$env/npmrc"
  if command -v npm >/dev/null; then
    for key in registry strict-ssl proxy https-proxy noproxy; do
      value="$(npm config get "$key" 2>/dev/null || true)"
      [ -n "$value" ] && [ "$value" != null ] && [ "$value" != undefined ] && echo "$key=$value" >> "$env/npmrc"
    done
    ca="$(npm config get cafile 2>/dev/null || true)"
  fi
  [ -f "$ca" ] || ca="${NODE_EXTRA_CA_CERTS:-}"
  [ -f "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
  if [ -f "$ca" ]; then
    cp "$ca" "$env/ca.crt"
    echo "cafile=/usr/local/etc/ca.crt" >> "$env/npmrc"
  fi
  echo "cache=/usr/local/etc/npm-cache" >> "$env/npmrc"
  npm_cache="${CHAPERONE_NPM_CACHE:-$(npm config get cache 2>/dev/null || echo "$OUT/npm-cache")}"
  mkdir -p "$npm_cache"
  MOUNTS=(-v "$env:/usr/local/etc:ro" -v "$npm_cache:/usr/local/etc/npm-cache")
}

# buildah bud: local images only, chroot isolation (RUN needs no OCI runtime or cgroup setup), the
# host's network (npm and apt reach their registries), no builder label (docker build adds none).
bud() {
  local dockerfile="$1" context="$2" name="$3"
  shift 3
  buildah bud --pull=never --isolation=chroot --network=host --layers=false --format=oci \
    --identity-label=false "${MOUNTS[@]}" "$@" -f "$dockerfile" -t "$name" "$context" >&2
}

# Writes an image from local storage to an OCI archive ($2, with the image's ID in $2.id) whose
# index names it for ctr import: io.containerd.image.name (what containerd reads first) and
# org.opencontainers.image.ref.name (what podman and skopeo read; containerd 1.6 takes a full
# reference there too, but calls an image whose ref.name is a bare tag, as OCI suggests,
# import-DATE:TAG), both the full reference; plus the annotations in $4 (a JSON object).
export_archive() {
  local image="$1" dest="$2" name="$3" extra="${4:-}" layout="$work/layout"
  rm -rf "$layout"
  buildah push --quiet --format=oci "$image" "oci:$layout:$(slug "$name")" >&2
  node - "$layout/index.json" "$name" "$extra" <<'EOF'
const fs = require('node:fs');
const [file, name, extra] = process.argv.slice(2);
const index = JSON.parse(fs.readFileSync(file, 'utf8'));
if (index.manifests.length !== 1) throw new Error(`expected one manifest in ${file}`);
index.manifests[0].annotations = {
  'io.containerd.image.name': name,
  'org.opencontainers.image.ref.name': name,
  ...(extra ? JSON.parse(extra) : {}),
};
fs.writeFileSync(file, JSON.stringify(index));
EOF
  # Plain names (no ./), sorted, no owners or times: the same image gives the same archive.
  tar -C "$layout" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$dest" oci-layout index.json blobs
  buildah inspect --type image --format '{{.FromImageID}}' "$image" > "$dest.id"
  rm -rf "$layout"
}

# Moves an archive made in $work into the cache; the archive's presence marks the image built, so
# it goes last.
install_archive() {
  mv "$1.id" "$2.id"
  mv "$1" "$2"
}

# Compares the chaperone archive's config with the Dockerfile's final stage
# (e2e/images/image-config.ts, compiled by `make build`, which `make images` runs first).
check_config() {
  local archive="$1" dockerfile="$2" helper="$ROOT/dist/e2e/images/image-config.js"
  if [ ! -f "$helper" ]; then
    echo "build-images: $helper is missing (run make build): cannot check $archive against $dockerfile" >&2
    return 1
  fi
  node --input-type=module - "$helper" "$archive" "$dockerfile" <<'EOF'
import { pathToFileURL } from 'node:url';
const [helper, archive, dockerfile] = process.argv.slice(2);
const { checkImageMatchesDockerfile } = await import(pathToFileURL(helper).href);
const diffs = await checkImageMatchesDockerfile(archive, dockerfile);
for (const d of diffs) console.error(`build-images: ${d}`);
if (diffs.length === 0) console.error(`build-images: the image's config matches ${dockerfile}`);
process.exit(diffs.length === 0 ? 0 : 1);
EOF
}

# Makes sure local storage holds the base these keys describe: storage may have lost it, or hold
# another image under its name.
ensure_base_in_storage() {
  local want have
  want="$(cat "$BASE_ARCHIVE.id")"
  have="$(buildah inspect --type image --format '{{.FromImageID}}' "$BASE_IMAGE" 2>/dev/null || true)"
  [ "$have" = "$want" ] && return 0
  log "loading $BASE_IMAGE into buildah's storage from $BASE_ARCHIVE"
  have="$(buildah pull --quiet "oci-archive:$BASE_ARCHIVE" | tail -1)"
  retag "$have" "$BASE_IMAGE"
}

# Gives NAME to the image TMP names (or is, by ID) and drops TMP; the image NAME named before is
# deleted when nothing names or uses it any more, else each rebuild would leave a nameless copy.
retag() {
  local tmp="$1" name="$2" old new
  old="$(buildah inspect --type image --format '{{.FromImageID}}' "$name" 2>/dev/null || true)"
  buildah tag "$tmp" "$name"
  new="$(buildah inspect --type image --format '{{.FromImageID}}' "$name")"
  [ "$tmp" = "$new" ] || buildah rmi "$tmp" >/dev/null
  if [ -n "$old" ] && [ "$old" != "$new" ]; then buildah rmi "$old" >/dev/null 2>&1 || true; fi
}

# Keeps the newest two archives of an image (this run's, and the one before, which a suite may still
# be importing) and deletes older ones.
prune() {
  local old
  find "$OUT" -maxdepth 1 -name "$1-*.oci.tar" -printf '%T@ %p\n' | sort -rn | tail -n +3 | cut -d' ' -f2- \
    | while read -r old; do rm -f "$old" "$old.id"; done
}

MOUNTS=()
built=0

# Tags the built TMP_NAME as NAME, writes its archive into place, drops older ones, and says so.
publish() {
  local name="$1" tmp_name="$2" archive="$3" t0="$4" tmp_archive
  tmp_archive="$work/$(slug "$1").tar"
  retag "$tmp_name" "$name"
  export_archive "$name" "$tmp_archive" "$name"
  install_archive "$tmp_archive" "$archive"
  prune "$(slug "$name")"
  built=1
  log "built $name in $(since "$t0") ($(du -h "$archive" | cut -f1))"
}

# ---- pause ----
pause_key="$( { cat "$PAUSE_SRC" "$PAUSE_DOCKERFILE"; echo "$PAUSE_IMAGE gcc-$(gcc -dumpfullversion)"; declare -f bud export_archive; } | sha)"
PAUSE_ARCHIVE="$(archive_for "$PAUSE_IMAGE" "$pause_key")"
if [ ! -f "$PAUSE_ARCHIVE" ]; then
  t0="$(now)"
  log "building $PAUSE_IMAGE"
  ctx="$work/pause-context"
  mkdir -p "$ctx"
  gcc -static -O2 -s -Wall -Wextra -o "$ctx/pause" "$PAUSE_SRC"
  tmp_name="localhost/chaperone-images/pause-tmp:$$"
  # Fixed timestamps: the same pause.c and compiler give the same image digest.
  bud "$PAUSE_DOCKERFILE" "$ctx" "$tmp_name" --timestamp 0
  publish "$PAUSE_IMAGE" "$tmp_name" "$PAUSE_ARCHIVE" "$t0"
fi

# ---- base ----
rootfs_key="$( { echo "$SUITE $MIRROR $SECURITY_MIRROR minbase amd64"; debootstrap --version; declare -f make_rootfs; } | sha)"
ROOTFS_TAR="$OUT/rootfs/debian-$SUITE-minbase-$rootfs_key.tar"
node_sum="$(sha256sum "$NODE_BIN" | cut -c1-64)"
npm_version="$(node -p "require('$NODE_MODULES/npm/package.json').version")"
base_key="$( { echo "$rootfs_key $BASE_IMAGE $node_sum $NODE_VERSION npm-$npm_version"; declare -f make_base export_archive; } | sha)"
BASE_ARCHIVE="$(archive_for "$BASE_IMAGE" "$base_key")"
if [ ! -f "$BASE_ARCHIVE" ]; then
  if [ ! -f "$ROOTFS_TAR" ]; then
    t0="$(now)"
    log "debootstrap $SUITE (minbase) from $MIRROR"
    mkdir -p "$OUT/rootfs"
    make_rootfs "$ROOTFS_TAR"
    find "$OUT/rootfs" -maxdepth 1 -name '*.tar' -not -path "$ROOTFS_TAR" -delete
    log "root filesystem $ROOTFS_TAR in $(since "$t0") ($(du -h "$ROOTFS_TAR" | cut -f1))"
  fi
  t0="$(now)"
  log "making $BASE_IMAGE (Debian $SUITE + node $NODE_VERSION, npm $npm_version)"
  tmp_name="localhost/chaperone-images/node-tmp:$$"
  make_base "$ROOTFS_TAR" "$tmp_name"
  publish "$BASE_IMAGE" "$tmp_name" "$BASE_ARCHIVE" "$t0"
fi

# ---- chaperone and the agent: Dockerfiles on that base, the repository as context ----
ctx_key="$(context_key)"
build_key() { { echo "$base_key $ctx_key $1"; cat "$2" "$ROOT/.dockerignore"; declare -f bud build_mounts export_archive; } | sha; }
CHAPERONE_ARCHIVE="$(archive_for "$CHAPERONE_IMAGE" "$(build_key "$CHAPERONE_IMAGE" "$DOCKERFILE")")"
AGENT_ARCHIVE="$(archive_for "$AGENT_IMAGE" "$(build_key "$AGENT_IMAGE" "$AGENT_DOCKERFILE")")"
if [ ! -f "$CHAPERONE_ARCHIVE" ] || [ ! -f "$AGENT_ARCHIVE" ]; then
  ensure_base_in_storage
  build_mounts
fi

build_from_dockerfile() {
  local name="$1" dockerfile="$2" archive="$3" t0 tmp_name tmp_archive digest
  t0="$(now)"
  log "building $name from ${dockerfile#"$ROOT/"}"
  tmp_name="localhost/chaperone-images/$(slug "$name")-tmp:$$"
  tmp_archive="$work/$(slug "$name").tar"
  bud "$dockerfile" "$ROOT" "$tmp_name"
  # The archive records which Dockerfile it was built from (its digest), for whoever inspects it.
  digest="$(sha256sum "$dockerfile" | cut -c1-64)"
  export_archive "$tmp_name" "$tmp_archive" "$name" "{\"dev.chaperone.dockerfile.sha256\":\"$digest\"}"
  if [ "$dockerfile" = "$DOCKERFILE" ]; then
    check_config "$tmp_archive" "$dockerfile" || die "$name does not match $dockerfile"
  fi
  retag "$tmp_name" "$name"
  install_archive "$tmp_archive" "$archive"
  prune "$(slug "$name")"
  log "built $name in $(since "$t0") ($(du -h "$archive" | cut -f1))"
}
if [ ! -f "$CHAPERONE_ARCHIVE" ]; then
  build_from_dockerfile "$CHAPERONE_IMAGE" "$DOCKERFILE" "$CHAPERONE_ARCHIVE"
  built=1
fi
if [ ! -f "$AGENT_ARCHIVE" ]; then
  build_from_dockerfile "$AGENT_IMAGE" "$AGENT_DOCKERFILE" "$AGENT_ARCHIVE"
  built=1
fi

[ "$built" = 1 ] || log "all images cached in $OUT"
{
  echo "$BASE_IMAGE=$BASE_ARCHIVE"
  echo "$CHAPERONE_IMAGE=$CHAPERONE_ARCHIVE"
  echo "$AGENT_IMAGE=$AGENT_ARCHIVE"
  echo "$PAUSE_IMAGE=$PAUSE_ARCHIVE"
} > "$work/images.env"
mv "$work/images.env" "$OUT/images.env"
cat "$OUT/images.env"
