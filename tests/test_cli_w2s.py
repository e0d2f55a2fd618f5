"""The science-core commands through the real `aar` entry point."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SMALL = "weak_train=200,w2s_train=800,dev=200,test=400"


def aar(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aar", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_tasks_and_pairs_json():
    tasks = json.loads(aar("tasks", "--json").stdout)
    assert {"rotten_tomatoes", "boolq", "sciq"} <= {t["name"] for t in tasks}
    pairs = json.loads(aar("pairs", "--json").stdout)
    assert [p["name"] for p in pairs][:3] == ["static64", "minilm-l3", "minilm-l6"]


def test_exp_run_json(results_env: Path):
    out = aar("exp", "run", "--method", "aux_conf", "--pair", "static64->minilm-l6", "--seeds", "2", "--sizes", SMALL,
              "--set", "aux_alpha=0.5", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["method"] == "aux_conf" and data["seeds"] == [0, 1] and data["hparams"]["aux_alpha"] == 0.5
    assert 0 < data["weak_acc"] < data["ceiling_acc"] <= 1
    assert data["pgr_ci"][0] <= data["pgr"] <= data["pgr_ci"][1]


def test_baseline_table(results_env: Path):
    out = aar("baseline", "--pair", "static64->minilm-l6", "--seeds", "2", "--sizes", SMALL)
    assert out.returncode == 0, out.stderr
    assert "PGR" in out.stdout and "ceiling" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["exp", "run", "--method", "nope"], "unknown method 'nope'"),
        (["exp", "run", "--method", "naive", "--task", "custom:/does/not/exist.jsonl"], "no such file"),
        (["exp", "run", "--method", "naive", "--pair", "static64"], "bad pair"),
        (["exp", "run", "--method", "naive", "--set", "lr"], "bad --set"),
        (["baseline", "--sizes", "weak_train=100000"], "pass smaller --sizes"),
    ],
)
def test_user_mistakes_are_one_line_exit_2(results_env: Path, args: list, message: str):
    out = aar(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_custom_data_error_names_row(results_env: Path, tmp_path: Path):
    data = tmp_path / "mine.csv"
    data.write_text("text,label\nfine,1\nbad,maybe\n")
    out = aar("exp", "run", "--method", "naive", "--task", f"custom:{data}")
    assert out.returncode == 2 and f"{data}, row 2: label 'maybe' is not binary" in out.stderr


def test_untrusted_method_without_sandbox_is_refused_or_sandboxed(results_env: Path, tmp_path: Path):
    method = tmp_path / "m.py"
    method.write_text("def loss(logits, weak_p, progress, ctx):\n    return (logits.sum() * 0)\n")
    out = aar(
        "exp",
        "run",
        "--method",
        str(method),
        "--sandbox",
        "local",
        "--sizes",
        SMALL,
        "--pair",
        "static64->minilm-l6",
    )
    assert out.returncode == 2 and "--unsafe-local" in out.stderr
