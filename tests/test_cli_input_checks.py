"""User mistakes the CLI must refuse at once: one line, exit 2, no traceback, nothing written (issue 11)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aar.config import REPO_ROOT
from aar.errors import UserError
from aar.w2s.overrides import parse_sets
from aar.w2s.templates import get_template, resolve_method
from tests.test_cli_w2s import aar

TEMPLATES = REPO_ROOT / "experiment_templates"


def refused(out: subprocess.CompletedProcess, message: str, results: Path) -> None:
    """One line naming the problem, exit 2, no traceback, and no results folder (no store, no job)."""
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not results.exists(), sorted(results.rglob("*"))


@pytest.fixture
def binary_files(tmp_path: Path) -> dict[str, Path]:
    jsonl, csv_file = tmp_path / "data.jsonl", tmp_path / "data.csv"
    jsonl.write_bytes(b'{"text": "fine", "label": 1}\n' + bytes(range(128, 256)) * 4)
    csv_file.write_bytes(b"text,label\nok,1\n\xff\xfe\x00bad,0\n")
    return {"jsonl": jsonl, "csv": csv_file}


@pytest.mark.parametrize(
    ("kind", "where"), [("jsonl", "byte 0x80 on line 2"), ("csv", "byte 0xff on line 3")]
)
def test_binary_custom_data_is_one_line(results_env: Path, binary_files: dict, kind: str, where: str) -> None:
    path = binary_files[kind]
    out = aar(
        "exp", "run", "--method", "naive", "--task", f"custom:{path}", "--sandbox", "local", "--unsafe-local"
    )
    refused(out, f"{path}: not UTF-8 text ({where})", results_env)


def test_nul_bytes_are_a_binary_file(results_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "zeros.csv"
    path.write_bytes(b"\x00" * 64)
    refused(aar("baseline", "--task", f"custom:{path}"), "contains NUL bytes", results_env)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("lr=abc", "--set lr=abc: lr must be a number"),
        ("lr=NaN", "--set lr=NaN: lr must be a number"),
        ("epochs=2.5", "--set epochs=2.5: epochs must be an integer"),
        ("aux_alpha=high", "--set aux_alpha=high: aux_alpha must be a number"),
        ("nosuchkey=1", "unknown hyperparameter 'nosuchkey' for template probe"),
        ("bf16=true", "unknown hyperparameter 'bf16'"),  # a finetune knob, not probe's
    ],
)
def test_bad_set_is_refused_before_any_job(results_env: Path, setting: str, message: str) -> None:
    out = aar("exp", "run", "--method", "aux_conf", "--set", setting, "--sandbox", "local", "--unsafe-local")
    refused(out, message, results_env)


def test_unknown_key_lists_the_known_ones(results_env: Path) -> None:
    out = aar("exp", "run", "--method", "aux_conf", "--set", "nosuchkey=1")
    known = out.stderr.split("known: ")[1].split(", ")
    assert {"lr", "epochs", "hidden", "aux_alpha", "aux_warmup"} <= {k.strip() for k in known}


def test_report_out_in_a_missing_folder_creates_nothing(results_env: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "dir" / "x.html"
    refused(
        aar("report", "anything", "--out", str(target)), f"the folder {target.parent} for --out", results_env
    )
    assert not (tmp_path / "missing").exists()
    refused(aar("report", "anything", "--out", str(tmp_path)), "is a folder", results_env)


def test_inputs_are_checked_before_the_science_stack_loads(binary_files: dict) -> None:
    """In a fresh interpreter: the checks raise with no torch, transformers, numpy or scipy imported."""
    probe = f"""
import json, sys, time
from aar.config import Settings
from aar.errors import UserError
start = time.perf_counter()
from aar.w2s.commands import check_inputs
errors = []
for task, sets in [("custom:{binary_files["csv"]}", []), ("rotten_tomatoes", ["lr=abc"]), ("rotten_tomatoes", ["x=1"])]:
    try:
        check_inputs(task, "probe", "aux_conf", sets, Settings())
    except UserError as exc:
        errors.append(str(exc))
heavy = sorted(m for m in ("torch", "transformers", "numpy", "scipy", "sklearn") if m in sys.modules)
print(json.dumps({{"errors": errors, "heavy": heavy, "seconds": time.perf_counter() - start}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    result = json.loads(out.stdout)
    assert len(result["errors"]) == 3 and result["heavy"] == [], result


def test_set_values_are_typed_by_the_template_and_method() -> None:
    probe, finetune = get_template("probe", TEMPLATES), get_template("finetune", TEMPLATES)
    aux = resolve_method("aux_conf", TEMPLATES)
    assert parse_sets(["lr=1", "epochs=3", "aux_alpha=0.5"], template=probe, method_path=aux) == {
        "lr": 1, "epochs": 3, "aux_alpha": 0.5,
    }  # fmt: skip
    assert parse_sets(["bf16=False", "max_length=64"], template=finetune, method_path=aux) == {
        "bf16": False, "max_length": 64,
    }  # fmt: skip
    with pytest.raises(UserError, match="bf16 must be true or false"):
        parse_sets(["bf16=yes"], template=finetune, method_path=aux)
    with pytest.raises(UserError, match="bad --set"):
        parse_sets(["=1"], template=probe, method_path=aux)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--sandbox", "dockr", "sandbox: Input should be 'docker', 'bwrap', 'local' or ''"),
     ("--feedback", "peek", "feedback mode 'peek'")],
)  # fmt: skip
def test_study_modes_are_refused_in_one_line(
    results_env: Path, option: str, value: str, message: str
) -> None:
    """Modes are Literal fields of StudyConfig: a typo is one line and exit 2, not a traceback later."""
    out = aar("run", option, value, "--max-experiments", "20")
    refused(out, message, results_env)
