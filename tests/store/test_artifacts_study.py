"""With AAR_ARTIFACTS=db a study's code, results, agent log and report outlive its results folder: a
dashboard on another host (here: a fresh store over the same database, the folder deleted) shows them."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from aar.config import Settings, StudyConfig
from aar.graph.study import start_study
from aar.store import Experiment, Study, open_store
from aar.web import create_app

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"


def _run_study(settings: Settings) -> int:
    config = StudyConfig(
        name="gpu-node", goal="raise PGR", sizes=TINY, seeds=1, per_round=1, finalists=1, max_experiments=3,
        sandbox="local", unsafe_local=True, deadline=time.time() + 900,
    )  # fmt: skip
    store = open_store(settings)
    try:
        return start_study(config, settings, store, display=lambda node, message: None).study_id
    finally:
        store.close()


@pytest.mark.slow
def test_a_study_shows_everything_after_its_results_folder_is_gone(
    tmp_path: Path, shared_cache: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'shared' / 'aar.db'}"
    (tmp_path / "shared").mkdir()
    node = Settings(
        results_dir=tmp_path / "results", database_url=database, artifacts="db", cache=shared_cache
    )
    study_id = _run_study(node)
    shutil.rmtree(tmp_path / "results")  # the GPU node's disk is not the dashboard's

    elsewhere = Settings(results_dir=tmp_path / "dashboard", database_url=database, artifacts="db")
    store = open_store(elsewhere)
    try:
        with store.session() as session:
            study = session.exec(select(Study).where(Study.id == study_id)).one()
            runs = session.exec(select(Experiment).where(Experiment.study_id == study_id)).all()
        client = TestClient(create_app(store), raise_server_exceptions=False)
        assert study.report_sha256 and runs
        report = client.get(f"/api/artifacts/{study.report_sha256}")
        assert report.status_code == 200 and "<html" in report.text.lower()
        for run in runs:
            assert run.method_sha256 and run.output_sha256
            code = client.get(f"/api/artifacts/{run.method_sha256}")
            assert code.status_code == 200 and "def " in code.text
            page = client.get(f"/experiments/{run.id}")
            assert page.status_code == 200
            first_def = re.search(r"def \w+\(", code.text)
            assert first_def and first_def.group(0) in page.text, "the page shows the code"
            result = client.get(f"/api/artifacts/{run.output_sha256}")
            assert result.status_code == 200 and '"pgr"' in result.text
        assert client.get(f"/studies/{study_id}/log").status_code == 200
        rendered = client.get(f"/studies/{study_id}/report")
        assert rendered.status_code == 200 and "gpu-node" in rendered.text
        assert not (tmp_path / "dashboard").exists(), "the dashboard needs no results folder"
    finally:
        store.close()
