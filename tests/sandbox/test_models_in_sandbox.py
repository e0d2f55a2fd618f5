"""Models reach the sandbox: a hub-cached model folder, mounted read-only at /models/<role>, loads inside real
Docker and real bwrap with the network off (issue 10, item 1)."""

from __future__ import annotations

import json
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.sandbox.base import Sandbox
from aar.scheduler import Limits, sandbox_runner
from aar.w2s.models import hub_folder
from tests.tiny_models import fake_hub_cache, make_tiny_qwen

REPO_ID = "aar-test/tiny-qwen2"

# The job's runner: load each role's model from the path its config names, run it, and report.
LOADER = """
import json, os, socket, sys
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
report = {"offline": os.environ.get("HF_HUB_OFFLINE")}
for role, spec in json.load(open("/data/config.json"))["models"].items():
    tok = AutoTokenizer.from_pretrained(spec["path"])
    model = AutoModelForSequenceClassification.from_pretrained(spec["path"])
    enc = tok(["a tiny test", "another one"], padding=True, return_tensors="pt")
    with torch.no_grad():
        shape = list(model(**enc).logits.shape)
    try:
        open(os.path.join(spec["path"], "config.json"), "a").close()
        write = "allowed"
    except OSError as exc:
        write = type(exc).__name__
    report[role] = {"path": spec["path"], "type": model.config.model_type, "logits": shape, "write": write}
try:
    socket.create_connection(("1.1.1.1", 443), timeout=3)
    report["network"] = "reached"
except OSError:
    report["network"] = "off"
os.makedirs("/out", exist_ok=True)
json.dump(report, open("/out/report.json", "w"))
"""


@pytest.fixture(scope="module")
def hub_model() -> Iterator[Path]:
    """A tiny Qwen2 (2 layers, MiniLM's tokenizer) in a Hugging Face cache layout, readable by uid 65534
    (pytest's tmp folders are 0700: bwrap as root could not reach them)."""
    root = Path(tempfile.mkdtemp(prefix="aar-models-", dir="/tmp"))
    cache = root / "cache"
    fake_hub_cache(cache, REPO_ID, make_tiny_qwen(root / "saved"))
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    yield cache
    shutil.rmtree(root, ignore_errors=True)


def _job_dirs(workdir: Path, cache: Path) -> tuple[Path, Path, Path]:
    code, data = workdir / "job" / "code", workdir / "job" / "data"
    code.mkdir(parents=True)
    data.mkdir()
    (code / "runner.py").write_text(textwrap.dedent(LOADER))
    # As the experiment writes them: `hf:<hub id>` names the id, `hf:<folder>` (a snapshot here) its path.
    snapshot = hub_folder(REPO_ID, cache_dir=cache).path
    models = {
        "strong": {"name": f"hf:{REPO_ID}", "kind": "hf", "source": REPO_ID},
        "intermediate_0": {"name": "by-path", "kind": "hf", "source": str(snapshot), "path": str(snapshot)},
    }
    (data / "config.json").write_text(json.dumps({"template": "finetune", "models": models, "seeds": []}))
    return code, data, workdir / "job" / "out"


@pytest.mark.parametrize(
    "kind", [pytest.param("docker", marks=pytest.mark.docker), pytest.param("bwrap", marks=pytest.mark.bwrap)]
)
def test_hub_model_loads_read_only_offline(
    kind: str, hub_model: Path, workdir: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
):
    """Both roles' folders are mounted (a snapshot's symlinks resolve inside the mount), the config names
    only /models paths, the weights are read-only, and the job is offline."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_model))  # the host's cache, for this test
    sandbox: Sandbox = request.getfixturevalue(f"{kind}_sandbox")
    code, data, out = _job_dirs(workdir, hub_model)
    outcome = sandbox_runner(sandbox, kind, Limits(timeout_s=300, memory_mb=2048, cpus=1))(code, data, out)
    assert outcome.status == "ok", outcome.stderr_tail
    report = json.loads((out / "report.json").read_text())
    for role in ("strong", "intermediate_0"):
        assert report[role]["path"] == f"/models/{role}/snapshots/{'0' * 40}"  # the mount, never a host path
        assert report[role]["type"] == "qwen2" and report[role]["logits"] == [2, 2]
        assert report[role]["write"] in ("OSError", "PermissionError")
    assert report["network"] == "off" and report["offline"] == "1"


@pytest.fixture(scope="module")
def qwen_pair() -> Iterator[str]:
    """Two tiny Qwen2 folders (hidden 16 → 32) as a weak→strong pair of local models, readable by uid 65534."""
    root = Path(tempfile.mkdtemp(prefix="aar-pair-", dir="/tmp"))
    weak, strong = make_tiny_qwen(root / "weak", 16), make_tiny_qwen(root / "strong", 32)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield f"hf:{weak}→hf:{strong}"
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind", [pytest.param("docker", marks=pytest.mark.docker), pytest.param("bwrap", marks=pytest.mark.bwrap)]
)
def test_finetune_job_trains_the_mounted_model(
    kind: str, qwen_pair: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """The finetune template, end to end: baselines on the host, the method job in the sandbox loading the
    strong model from /models/strong (its config names no host path), scored on the host."""
    from aar.w2s.experiment import ExperimentSpec, run_experiment
    from aar.w2s.ladder import parse_pair
    from aar.w2s.setup import Setup
    from aar.w2s.splits import SplitSizes
    from aar.w2s.templates import get_template, resolve_method
    from tests.conftest import TEMPLATES

    sandbox: Sandbox = request.getfixturevalue(f"{kind}_sandbox")
    hp = {"epochs": 1, "eval_every": 2, "max_length": 32, "batch_size": 16}
    setup = Setup(
        "rotten_tomatoes", parse_pair(qwen_pair), get_template("finetune", TEMPLATES),
        sizes=SplitSizes(weak_train=32, w2s_train=32, dev=16, test=16), cache_dir=tmp_path, baseline_hparams=hp,
    )  # fmt: skip
    spec = ExperimentSpec(setup, resolve_method("naive", TEMPLATES), "naive", [0], hp)
    result = run_experiment(
        spec, sandbox_runner(sandbox, kind, Limits(timeout_s=600, memory_mb=3072, cpus=2))
    )
    assert result.status == "ok", result.error
    assert result.sandbox == kind and len(result.seed_results[0].splits["dev"].curve) >= 1


@pytest.mark.bwrap
def test_bwrap_as_root_mounts_a_model_only_root_can_reach(
    bwrap_sandbox: Sandbox, hub_model: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    """Like /root/.cache/huggingface: the model sits under a folder (0700) uid 65534 cannot enter. As root,
    bwrap binds it in a private mount namespace first, so the job still loads it, and nothing leaks."""
    import os

    if os.geteuid() != 0:
        pytest.skip("root mode only: as another user bwrap binds the folder as that user")
    private = Path(tempfile.mkdtemp(prefix="aar-private-", dir="/tmp"))  # 0700, like /root
    try:
        shutil.copytree(hub_model, private / "hub", symlinks=True)
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(private / "hub"))
        code, data, out = _job_dirs(workdir, private / "hub")
        outcome = sandbox_runner(bwrap_sandbox, "bwrap", Limits(timeout_s=300, memory_mb=2048, cpus=1))(
            code, data, out
        )
        assert outcome.status == "ok", outcome.stderr_tail
        report = json.loads((out / "report.json").read_text())
        assert report["strong"]["type"] == "qwen2" and report["strong"]["write"] in (
            "OSError",
            "PermissionError",
        )
        assert str(private) not in Path("/proc/self/mountinfo").read_text()  # the binds stayed private
        # none of this process's bind points is left (another xdist worker's jobs may hold theirs now)
        points = (bwrap_sandbox.staging_root / "models").iterdir()  # type: ignore[attr-defined]
        assert not [p for p in points if p.name.startswith(f"{os.getpid()}-")]
    finally:
        shutil.rmtree(private, ignore_errors=True)
