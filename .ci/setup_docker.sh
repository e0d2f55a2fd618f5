# Sourced by .ci/run (bash, set -euo pipefail, venv active, $AAR_VENV set). Idempotent:
# installs docker.io/debootstrap/bubblewrap/docker-compose if missing, starts dockerd if no engine answers, builds the
# sandbox images if missing (debootstrap tarball cached under $AAR_SANDBOX_CACHE), exports what tests need.
export AAR_SANDBOX_CACHE="${AAR_SANDBOX_CACHE:-/opt/aar/cache}"
export AAR_SANDBOX_IMAGE="${AAR_SANDBOX_IMAGE:-aar-sandbox:cpu}"
# The venv the sandbox's code-only job environment is built from (that, not the venv, is mounted at
# /opt/aar-env; aar/sandbox/jobenv.py).
export AAR_SANDBOX_PYENV="${AAR_VENV:-$VIRTUAL_ENV}"

_aar_missing=()
command -v dockerd >/dev/null || _aar_missing+=(docker.io)
command -v debootstrap >/dev/null || _aar_missing+=(debootstrap)
command -v bwrap >/dev/null || _aar_missing+=(bubblewrap)
# Debian's Compose (v1) for tests/deploy/test_compose.py; the deploy image it brings up stays cached in
# the engine between runs (`aar deploy build` rebuilds only what changed).
command -v docker-compose >/dev/null || _aar_missing+=(docker-compose)
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
# The job environment hardlinks the venv's files, so they must be readable by the sandbox user (uid
# 65534); files that are not get copied instead (slow for torch). One recursive chmod, the first time only.
if [[ -z "$(find "$AAR_SANDBOX_PYENV/lib" -maxdepth 0 -perm -o+rx 2>/dev/null)" ]]; then
  chmod -R o+rX "$AAR_SANDBOX_PYENV/lib"
fi
# Build the code-only job environment now (seconds, once per set of package versions; then a lookup).
python -c "from aar.sandbox.pyenv import site_packages; site_packages()"
# The compose deployment's image (tests/deploy/test_compose.py), here and not in the test's time limit:
# minutes the first time and after a dependency change (a 4 GB environment layer), then seconds.
python -m aar deploy build >&2
unset _aar_missing
