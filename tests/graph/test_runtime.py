"""The graph's runtime never falls over on a job: unexpected host-side exceptions become failed results,
the trusted fallback runner scrubs the environment, and a study whose job output is hostile still ends
with its report (and resumes without crashing)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from aar.config import Settings
from aar.errors import InfraError
from aar.graph.runtime import Runtime, choose_runner
from aar.graph.study import build_runtime, resume_study, start_study
from aar.store import Experiment, Hypothesis, Study, StudyCreate, create_study
from aar.w2s.experiment import ExperimentSpec
from tests.graph.conftest import Events, study_config

TINY = "weak_train=48,w2s_train=96,dev=32,test=32"
HOSTILE_METHODS = Path(__file__).parents[1] / "sandbox" / "hostile_output"


@pytest.fixture()
def runtime(settings: Settings, store) -> Runtime:
    config = study_config("runtime", sizes=TINY, seeds=1)
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(name="runtime", goal="g", task=config.task, pair=config.pair, policy="builtin"))  # fmt: skip
        study_id = int(study.id or 0)
    return build_runtime(config, settings, store, study_id, Events(), None)


def smoke_spec(rt: Runtime, method: Path) -> ExperimentSpec:
    return ExperimentSpec(
        rt.smoke_setup, method, "hostile", [0], {"epochs": 1}, eval_splits=("dev",), threads=1
    )


def test_host_side_exceptions_become_failed_results(runtime: Runtime, tmp_path: Path):
    bad_meta = runtime.run(smoke_spec(runtime, HOSTILE_METHODS / "bad_requires.py"))
    assert bad_meta.status == "failed" and "REQUIRES must be a dict" in bad_meta.error
    assert "InvalidMethodMeta" in bad_meta.error and "\n" not in bad_meta.error
    gone = runtime.run(smoke_spec(runtime, tmp_path / "deleted.py"))  # a host bug: the file is not there
    assert gone.status == "failed" and gone.error.startswith("host error: FileNotFoundError")


def test_infrastructure_faults_still_stop_the_study(runtime: Runtime):
    def broken_engine(devices: tuple[str, ...], timeout_s: float = 3600.0):
        raise InfraError("the Docker engine went away")

    runtime.runner_for = broken_engine
    with pytest.raises(InfraError):
        runtime.run(smoke_spec(runtime, HOSTILE_METHODS / "nan.py"))


def test_builtin_fallback_runner_scrubs_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With no sandbox at all, builtin studies run library code on the local runner: no host secrets."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-planted-secret")
    monkeypatch.setenv("AAR_DATABASE_URL", "postgresql://planted:secret@db/aar")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no bwrap ...
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # ... and no Docker engine
    monkeypatch.delenv("AAR_SANDBOX", raising=False)
    factory, kind = choose_runner(study_config("fallback", sandbox=""), announce=None)
    assert kind == "local"
    code, data, out = tmp_path / "code", tmp_path / "data", tmp_path / "out"
    code.mkdir(), data.mkdir(), out.mkdir()
    (code / "runner.py").write_text(
        "import json, os, sys\n"
        "out = sys.argv[sys.argv.index('--out') + 1]\n"
        "open(os.path.join(out, 'env.json'), 'w').write(json.dumps(dict(os.environ)))\n"
    )
    outcome = factory(())(code, data, out)
    assert outcome.status == "ok", outcome
    seen = (out / "env.json").read_text()
    assert "planted" not in seen and "OPENAI_API_KEY" not in seen
    # The host's AAR_* settings stay out; AAR_GPUS is what aar itself tells the job (its GPU count).
    assert {k for k in json.loads(seen) if k.startswith("AAR_")} == {"AAR_GPUS"}


def _hostile_templates(tmp_path: Path) -> Path:
    """The templates with a runner that, for aux_conf jobs, rewrites final.jsonl with a non-UTF-8 byte."""
    root = tmp_path / "templates"
    shutil.copytree(Path(__file__).parents[2] / "experiment_templates", root)
    runner = root / "probe" / "runner.py"
    runner.write_text(
        runner.read_text().replace(
            "    common.run_job(args.data, args.out, method, ProbeBackend)\n",
            "    common.run_job(args.data, args.out, method, ProbeBackend)\n"
            "    import json\n"
            "    if json.loads((Path(args.data) / 'config.json').read_text()).get('method') == 'aux_conf':\n"
            "        for final in Path(args.out).glob('seed_*/predictions/final.jsonl'):\n"
            "            final.write_bytes(b'\\xff\\xfe not UTF-8\\n')\n",
        )
    )
    assert "not UTF-8" in runner.read_text()
    return root


@pytest.mark.slow
def test_study_with_hostile_job_output_ends_with_its_report(
    tmp_path: Path, results_env: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AAR_TEMPLATES_DIR", str(_hostile_templates(tmp_path)))
    settings = Settings()
    from aar.store import open_store

    store = open_store(settings)
    try:
        config = study_config(
            "hostile-output", sizes=TINY, seeds=1, per_round=2, max_experiments=5, audit_retries=0
        )
        outcome = start_study(config, settings, store, display=Events())
        assert outcome.report_path and Path(outcome.report_path).is_file()
        with store.session() as session:
            study = session.get(Study, outcome.study_id)
            hyps = session.exec(select(Hypothesis).where(Hypothesis.study_id == outcome.study_id)).all()
            exps = session.exec(select(Experiment).where(Experiment.study_id == outcome.study_id)).all()
        assert study is not None and study.report_sha256
        aux = [h for h in hyps if h.text.startswith("Library method `aux_conf`")]
        for h in aux:  # every try of the hostile method failed at its smoke run
            assert "invalid_output" in (h.finding or ""), h.finding
        assert aux
        assert any(e.status == "ok" for e in exps)  # the other methods ran and were scored
        again = resume_study(config.name, settings, store, display=Events())  # and resume does not crash
        assert again.report_path == outcome.report_path
    finally:
        store.close()
