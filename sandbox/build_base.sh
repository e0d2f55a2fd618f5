#!/usr/bin/env bash
# Build the sandbox images on a machine with no image registry:
#   1. a minimal Debian bookworm root made with debootstrap, imported as $BASE_IMAGE (tarball cached);
#   2. the runtime image $IMAGE on top of it, from sandbox/Dockerfile (python3, uid 65534, /code /data /out).
# The Python packages (torch, numpy, models) are not copied in: the sandbox bind-mounts the host's
# environment read-only at /opt/aar-env (see aar/sandbox/docker.py), so the image stays ~100 MB.
# Usage: sandbox/build_base.sh [--force]      (root; needs debootstrap and a running Docker engine)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BASE_IMAGE="${AAR_SANDBOX_BASE_IMAGE:-aar-sandbox-base:bookworm}"
IMAGE="${AAR_SANDBOX_IMAGE:-aar-sandbox:cpu}"
CACHE="${AAR_SANDBOX_CACHE:-/opt/aar/cache}"
MIRROR="${AAR_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="python3,libssl3,libgomp1,ca-certificates,libstdc++6,zlib1g,libffi8,libbz2-1.0,liblzma5,libsqlite3-0,procps"
TARBALL="$CACHE/debootstrap-bookworm-$(echo "$PACKAGES" | sha256sum | cut -c1-12).tar"
force=0; [[ "${1:-}" == "--force" ]] && force=1

log() { echo "[build_base] $*" >&2; }

make_tarball() {
  local root
  root="$(mktemp -d /var/tmp/aar-debootstrap.XXXXXX)"
  trap 'rm -rf "$root"' RETURN
  log "debootstrap bookworm into $root (a few minutes)"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >&2
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  mkdir -p "$CACHE"
  tar -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
}

if [[ $force == 1 ]] || ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  [[ $force == 1 || ! -s "$TARBALL" ]] && make_tarball
  log "importing $TARBALL as $BASE_IMAGE"
  docker import "$TARBALL" "$BASE_IMAGE" >/dev/null
fi
if [[ $force == 1 ]] || ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "building $IMAGE from $here/Dockerfile"
  docker build -q --build-arg "BASE=$BASE_IMAGE" --build-arg BUNDLE_ENV=0 -t "$IMAGE" -f "$here/Dockerfile" "$here" >&2
fi
log "ready: $IMAGE"
