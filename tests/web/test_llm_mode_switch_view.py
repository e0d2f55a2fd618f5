"""A structured-output mode switch in the dashboard's agent log (issue 11): recorded for real (the SDK
talks to a fake llama-cpp-python server that answers HTTP 500 to json_schema; the study's recorder
writes the agent step) and shown above the LLM calls on every page of the log, and among the steps."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import BaseModel

from aar.llm import AdapterSettings, Message, RetryPolicy, complete_structured
from aar.llm.openai_provider import OpenAIClient
from aar.researchers.mode_log import mode_switch_recorder
from aar.store import AgentEventBase, Store, record_event
from tests.fakes.llm import FakeOpenAIServer, Text
from tests.report.seed import Seeded


class Finding(BaseModel):
    """What the experiment showed."""

    finding: str


def switch_modes(store: Store, study_id: int) -> list[tuple[str, str]]:
    """One structured call that moves from json_schema to json_object; what the terminal was shown."""
    shown: list[tuple[str, str]] = []
    settings = AdapterSettings(
        retry=RetryPolicy(max_attempts=1),
        on_mode_switch=mode_switch_recorder(store, study_id, lambda n, m: shown.append((n, m))),
    )
    with FakeOpenAIServer(
        [Text({"finding": "inside the noise"})], json_schema=False, reject_status=500
    ) as srv:
        client = OpenAIClient(
            "qwen2.5-0.5b",
            api_key="x",
            base_url=srv.base_url,
            provider="openai-compatible",
            settings=settings,
        )
        messages = [Message(role="user", content="What did it show?")]
        complete_structured(client, messages, Finding, node="analyze")
        client.close()
    return shown


def test_a_mode_switch_is_shown_above_the_llm_calls(client: TestClient, store: Store, seeded: Seeded) -> None:
    shown = switch_modes(store, seeded.study_id)
    assert len(shown) == 1 and shown[0][0] == "llm"
    assert "openai-compatible rejected json_schema structured output (HTTP 500" in shown[0][1]
    with store.session() as session:  # push the switch off the log's first page of steps
        for i in range(5):
            record_event(
                session=session,
                study_id=seeded.study_id,
                event_in=AgentEventBase(node="plan", message=f"round {i}"),
            )
    html = client.get(f"/studies/{seeded.study_id}/log?per_page=2&page=3").text
    switches = html[html.index('id="llm-mode-switches"') : html.index('<table id="llm-calls">')]
    assert "rejected json_schema structured output (HTTP 500" in switches
    assert "using json_object from now on" in switches
    first = client.get(f"/studies/{seeded.study_id}/log").text
    steps = first[first.index('<table id="agent-steps">') : first.index("<h2>LLM calls</h2>")]
    assert "structured output: openai-compatible rejected json_schema" in steps  # a step of the log


def test_no_switch_no_banner(client: TestClient, seeded: Seeded) -> None:
    assert 'id="llm-mode-switches"' not in client.get(f"/studies/{seeded.study_id}/log").text
