"""The LLM researcher's structured-output mode: forced from the study's config, and a detected one kept for
the study (a resumed study starts where the last valid call answered). Real `openai` SDK, fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from aar.budget import Budget, Limits
from aar.config import StudyConfig
from aar.llm import Message
from aar.researchers.llm import LLMResearcher, MethodCode
from aar.store import Store, Study, StudyCreate, create_study, open_store
from tests.fakes.llm import FakeOpenAIServer, Text

MESSAGES = [Message(role="system", content="You write methods."), Message(role="user", content="Write one.")]
CODE = {"method_code": "def loss(logits, weak_p, progress, ctx):\n    return logits.sum()\n"}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AAR_LLM_API_KEY", "k")
    monkeypatch.setenv("AAR_LLM_RETRY_BASE_S", "0.01")
    monkeypatch.delenv("AAR_PRICES", raising=False)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(url=f"sqlite:///{tmp_path / 'aar.db'}", results_dir=tmp_path)
    yield opened
    opened.close()


def researcher(store: Store, base_url: str, mode: str = "auto", study_id: int | None = None) -> LLMResearcher:
    """`LLMResearcher.from_config` for an openai-compatible server, on a (new) study."""
    config = StudyConfig(name="modes", goal="g", policy="llm", model=f"openai-compatible/qwen@{base_url}",
                         llm_structured=mode)  # type: ignore[arg-type]  # fmt: skip
    if study_id is None:
        with store.session() as session:
            name = f"modes-{len(list(session.exec(select(Study))))}"
            study = create_study(session=session, study_in=StudyCreate(name=name, goal="g", task="t", pair="p", policy="llm"))  # fmt: skip
            study_id = int(study.id or 0)
    budget = Budget(store, study_id, Limits(None, None, None, None, None))
    return LLMResearcher.from_config(
        config, store=store, study_id=study_id, budget=budget, display=lambda n, m: None
    )


def formats(server: FakeOpenAIServer) -> list[str]:
    return [
        "tools" if "tools" in r.body else (r.body.get("response_format") or {}).get("type", "text")
        for r in server.requests
    ]


@pytest.mark.parametrize("mode", ["json_object", "tools"])
def test_the_configured_mode_is_forced(store: Store, mode: str) -> None:
    with FakeOpenAIServer([Text(CODE)]) as server:
        r = researcher(store, server.base_url, mode)
        r._ask(MESSAGES, MethodCode, "implement")
    assert formats(server) == [mode]


def test_a_detected_mode_is_kept_when_the_study_resumes(store: Store) -> None:
    with FakeOpenAIServer([Text(CODE), Text(CODE)], json_schema=False, reject_status=500) as server:
        first = researcher(store, server.base_url)
        first._ask(MESSAGES, MethodCode, "implement")
        resumed = researcher(store, server.base_url, study_id=first.study_id)  # a new process, same study
        assert getattr(resumed.client, "structured_mode", None) == "json_object"
        resumed._ask(MESSAGES, MethodCode, "implement")
    assert formats(server) == ["json_schema", "json_object", "json_object"]


def test_another_study_detects_afresh(store: Store) -> None:
    with FakeOpenAIServer([Text(CODE), Text(CODE)], json_schema=False, reject_status=500) as server:
        researcher(store, server.base_url)._ask(MESSAGES, MethodCode, "implement")
        researcher(store, server.base_url)._ask(MESSAGES, MethodCode, "implement")
    assert formats(server) == ["json_schema", "json_object", "json_schema", "json_object"]
