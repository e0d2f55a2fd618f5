# Sourced by .ci/run (bash, set -euo pipefail, venv active, $AAR_VENV set). Idempotent:
# installs docker.io/debootstrap/bubblewrap if missing, starts dockerd if no engine answers, builds the
# sandbox images if missing (debootstrap tarball cached under $AAR_SANDBOX_CACHE), exports what tests need.
export AAR_SANDBOX_CACHE="${AAR_SANDBOX_CACHE:-/opt/aar/cache}"
export AAR_SANDBOX_IMAGE="${AAR_SANDBOX_IMAGE:-aar-sandbox:cpu}"
export AAR_SANDBOX_PYENV="${AAR_VENV:-$VIRTUAL_ENV}"   # the env bind-mounted read-only at /opt/aar-env

_aar_missing=()
command -v dockerd >/dev/null || _aar_missing+=(docker.io)
command -v debootstrap >/dev/null || _aar_missing+=(debootstrap)
command -v bwrap >/dev/null || _aar_missing+=(bubblewrap)
if (( ${#_aar_missing[@]} )); then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${_aar_missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  mkdir -p /var/log/aar
  (setsid nohup dockerd >/var/log/aar/dockerd.log 2>&1 &)
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/aar/dockerd.log" >&2; return 1; }
fi

bash sandbox/build_base.sh
# The sandbox user (uid 65534) must be able to read the mounted environment.
if [[ -z "$(find "$AAR_SANDBOX_PYENV/lib" -maxdepth 0 -perm -o+rx 2>/dev/null)" ]]; then
  chmod -R o+rX "$AAR_SANDBOX_PYENV/lib"
fi
unset _aar_missing
