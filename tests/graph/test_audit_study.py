"""The audit inside a study: every rejection lands in the store, a hypothesis given up after them reads
"rejected by audit: <first problem>" in the store and the report, and methods that ran are named by
hypothesis and code hash (real graph, real local jobs, a scripted OpenAI-compatible server)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlmodel import select

from aar.graph.study import start_study
from aar.store import Experiment, Hypothesis, list_audit_findings
from tests.conftest import TEMPLATES
from tests.fakes.llm import FakeOpenAIServer, Text
from tests.graph.conftest import Events, study_config

FIXTURES = Path(__file__).parent / "audit_fixtures"
SIZES = "weak_train=48,w2s_train=96,dev=32,test=32"
TORCH_OS = (FIXTURES / "torch_os.py").read_text()
WEAK_TRAIN = (FIXTURES / "ctx_weak_train.py").read_text()
TUNED = (TEMPLATES / "methods" / "aux_conf.py").read_text().replace("0.75", "0.6")
HYPOTHESES = {"hypotheses": [
    {"text": "escape", "rationale": "r", "expected_effect": "e", "base_method": "aux_conf", "hparams": {}},
    {"text": "tuned aux", "rationale": "r", "expected_effect": "e", "base_method": "aux_conf", "hparams": {}},
]}  # fmt: skip


pytestmark = pytest.mark.slow  # a real study: baselines, a smoke run, search and finalist jobs (~2 min)


@pytest.fixture(autouse=True)
def _llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def test_rejections_are_recorded_and_reported(settings, store):
    script = [Text(HYPOTHESES), Text({"method_code": TORCH_OS}), Text({"method_code": TUNED}),
              Text({"method_code": WEAK_TRAIN}), Text({"finding": "tuned is fine"}),
              Text({"action": "stop", "reason": "done"})]  # fmt: skip
    with FakeOpenAIServer(script) as server:
        config = study_config("audit-study", policy="llm", model=f"openai/gpt-4o-mini@{server.base_url}",
                              per_round=2, audit_retries=1, finalists=0, sizes=SIZES)  # fmt: skip
        outcome = start_study(config, settings, store, display=Events())
    with store.session() as session:
        hyps = {h.text: h for h in session.exec(select(Hypothesis)).all()}
        escape, tuned = hyps["escape"], hyps["tuned aux"]
        found = list_audit_findings(session=session, study_id=outcome.study_id)
        runs = session.exec(select(Experiment).where(Experiment.hypothesis_id == tuned.id)).all()
    assert [(f.hypothesis_id, f.attempt, f.stage) for f in found] == [
        (escape.id, 1, "static"),
        (escape.id, 2, "static"),
    ]
    assert found[0].problems[0].startswith("line 7: torch.os is not allowed")
    assert store.get_artifact(found[1].code_sha256 or "") == WEAK_TRAIN.encode()
    first = "line 7: ctx.data['weak_train'] is not allowed"
    assert escape.status == "abandoned" and (escape.finding or "").startswith(f"rejected by audit: {first}")
    digest = hashlib.sha256(TUNED.encode()).hexdigest()[:8]
    assert runs and all(r.config["method"] == f"h{tuned.id}-{digest}" for r in runs)
    assert all(r.config["base_method"] == "aux_conf" for r in runs)
    report = Path(outcome.report_path).read_text()
    assert "rejected by audit" in report and "torch.os is not allowed" in report
