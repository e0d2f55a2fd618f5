"""`method_meta`: REQUIRES and SPACE read as literals of the documented shape, or one clear error."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from aar.errors import UserError
from aar.graph.runtime import library_sources
from aar.w2s.experiment import ExperimentSpec, run_experiment
from aar.w2s.templates import (
    LIBRARY_METHODS,
    InvalidMethodMeta,
    get_template,
    method_meta,
    needs_embeddings,
    unmet_requirement,
)
from tests.conftest import TEMPLATES


def meta_of(tmp_path: Path, source: str | bytes) -> dict:
    path = tmp_path / "method.py"
    path.write_bytes(source if isinstance(source, bytes) else source.encode())
    return method_meta(path)


@pytest.mark.parametrize("name", LIBRARY_METHODS)
def test_library_methods_are_valid(name: str):
    method_meta(TEMPLATES / "methods" / f"{name}.py")


def test_template_defaults_and_known_keys(tmp_path: Path):
    assert method_meta(TEMPLATES / "probe" / "method.py") == {"SPACE": {}}
    source = 'REQUIRES = {"intermediate": True, "weak_train_inputs": False}\nSPACE: dict = {"a": {"choices": [1, "x"]}}\n'
    assert meta_of(tmp_path, source)["REQUIRES"] == {"intermediate": True, "weak_train_inputs": False}
    assert meta_of(tmp_path, 'SPACE = {"lr": {"low": 1e-4, "high": 1e-2, "log": True}}')["SPACE"]["lr"]["log"]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("REQUIRES = [1]", "REQUIRES must be a dict"),
        ("REQUIRES = 1", "REQUIRES must be a dict"),
        ("REQUIRES = None", "REQUIRES must be a dict"),
        ('REQUIRES = {"intermediate": 1}', "must be bool"),
        ('REQUIRES = {"labels": True}', "unknown key 'labels'"),
        ("REQUIRES = {1: True}", "unknown key '1'"),
        ("REQUIRES = dict(intermediate=True)", "REQUIRES must be a literal dict"),
        ("REQUIRES = {'intermediate': __import__('os')}", "must be a literal dict"),
        ("SPACE = [1]", "SPACE must be a dict"),
        ('SPACE = {"lr": 1}', "SPACE['lr']: must be a dict"),
        ('SPACE = {"lr": {"low": 1}}', "must have low and high"),
        ('SPACE = {"lr": {"low": "a", "high": 1}}', "finite numbers"),
        ('SPACE = {"lr": {"low": 2, "high": 1}}', "low <= high"),
        ('SPACE = {"lr": {"low": 1e999, "high": 1e999}}', "finite numbers"),
        ('SPACE = {"lr": {"low": 0, "high": 10**400}}', "SPACE must be a literal dict"),
        ('SPACE = {"lr": {"low": 0, "high": 1' + "0" * 400 + "}}", "finite numbers"),
        ('SPACE = {"lr": {"low": True, "high": 1}}', "finite numbers"),
        ('SPACE = {"lr": {"low": 0, "high": 1, "log": "yes"}}', "log must be"),
        ('SPACE = {"lr": {"choices": []}}', "choices must be"),
        ('SPACE = {"lr": {"choices": [[1]]}}', "choices must be"),
        ('SPACE = {"not a name": {"choices": [1]}}', "not a hyperparameter name"),
        ("SPACE = {" + ", ".join(f'"k{i}": {{"choices": [1]}}' for i in range(40)) + "}", "at most 32"),
        ("REQUIRES = " + "[" * 200 + "]" * 200, "REQUIRES must be a"),
        ("REQUIRES = " + "(" * 100_000 + ")" * 100_000, "syntax error"),
        ("def f(:\n", "syntax error"),
        (b"REQUIRES = {}\n\xff\n", "not a readable Python file"),
        (b"REQUIRES = {}\x00", "syntax error: source code string cannot contain null bytes"),
    ],
)
def test_bad_metadata_is_one_line_user_error(tmp_path: Path, source: str | bytes, reason: str):
    with pytest.raises(InvalidMethodMeta) as err:
        meta_of(tmp_path, source)
    message = str(err.value)
    assert reason in message and "\n" not in message
    assert isinstance(err.value, UserError) and err.value.exit_code == 2


def test_methods_that_read_frozen_embeddings_stay_out_of_templates_without_them(probe_setup):
    """knn_denoise, denoised_aux_conf and low_rank call ctx.embeddings / ctx.neighbour_mean, which only the
    probe template has: a finetune study's library leaves them out, and a run of one fails in one line
    before anything is trained (it used to load the model, then raise NotImplementedError in the job).
    Planted: needs_embeddings always False turns this red."""
    methods = TEMPLATES / "methods"
    readers = {m for m in LIBRARY_METHODS if needs_embeddings(methods / f"{m}.py")}
    assert readers == {"knn_denoise", "denoised_aux_conf", "low_rank"}
    probe, finetune = get_template("probe", TEMPLATES), get_template("finetune", TEMPLATES)
    assert unmet_requirement(methods / "low_rank.py", probe) == ""
    assert unmet_requirement(methods / "aux_conf.py", finetune) == ""
    settings = SimpleNamespace(templates_dir=TEMPLATES)
    assert set(library_sources(settings, finetune)[0]) == set(LIBRARY_METHODS) - readers  # type: ignore[arg-type]
    assert set(library_sources(settings, probe)[1]) == set(LIBRARY_METHODS)  # type: ignore[arg-type]
    spec = ExperimentSpec(probe_setup.variant(template=finetune), methods / "low_rank.py", "low_rank", [0])
    result = run_experiment(spec)
    assert result.status == "failed" and result.seed_results == []
    assert result.error == (
        "low_rank reads frozen embeddings (ctx.embeddings / ctx.neighbour_mean) and template 'finetune' "
        "has none: use the probe template"
    )
