"""The agent log's LLM calls read as role-labelled messages, long ones collapsed, a structured reply split
into its fields — from calls made for real through the SDKs and stored by the LLM researcher."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from aar.store import AgentEventBase, Store, record_event
from aar.web.llm_view import call_view
from tests.report.seed import Seeded
from tests.web.llm_calls import CODE, SYSTEM, record_calls


def _calls_html(client: TestClient, study_id: int) -> str:
    text = client.get(f"/studies/{study_id}/log").text
    return text[text.index('<table id="llm-calls">') :]


def test_calls_are_role_labelled_messages(client: TestClient, store: Store, seeded: Seeded) -> None:
    record_calls(store, seeded.study_id)
    html = _calls_html(client, seeded.study_id)
    implement = html[html.index("<td>implement</td>") : html.index("<td>analyze</td>")]
    roles = re.findall(r'<span class="role">(\w+)</span>', implement)
    # Two implement calls (the invalid reply, then the retry): system, user, the reply; the retry also
    # carries the bad reply and the validation error fed back.
    assert roles == ["system", "user", "assistant", "system", "user", "assistant", "user", "assistant"]
    assert "structured output: json_schema" in implement
    assert "Write method.py for: a softer auxiliary confidence loss &lt;alpha=0.5&gt;." in implement
    # The long system prompt is collapsed behind its first line, its whole text inside.
    assert '<details class="long"><summary>You are a weak-to-strong generalization researcher.' in implement
    assert "LAST-SYSTEM-LINE" in implement
    # The valid reply's method_code reads as code (real newlines), labelled with its field.
    assert '<span class="field">method_code</span>' in implement
    assert "    x29 = 29\n" in implement and "\\n    x1 = 1" not in implement
    # The invalid reply shows with its validation error.
    assert "not valid JSON" in implement and '<div class="error call-error">' in implement


def test_anthropic_tool_call_reads_as_its_fields(client: TestClient, store: Store, seeded: Seeded) -> None:
    record_calls(store, seeded.study_id)
    html = _calls_html(client, seeded.study_id)
    analyze = html[html.index("<td>analyze</td>") :]
    assert "structured output: tools" in analyze
    assert re.findall(r'<span class="role">(\w+)</span>', analyze)[:3] == ["system", "user", "assistant"]
    assert '<span class="field">finding</span>' in analyze
    assert "alpha 0.5 is above naive, inside the noise" in analyze


def test_call_view_of_each_shape() -> None:
    openai_request = {"model": "m", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Propose."}],
                      "tools": [{"type": "function"}]}  # fmt: skip
    tool_reply = {"choices": [{"message": {"content": None, "tool_calls": [
        {"type": "function", "function": {"name": "MethodCode", "arguments": json.dumps({"method_code": CODE})}}]}}]}  # fmt: skip
    view = call_view(json.dumps(openai_request).encode(), json.dumps(tool_reply).encode())
    assert [(p.role, p.label) for p in view.messages + view.reply] == [
        ("system", ""),
        ("user", ""),
        ("assistant", "method_code"),
    ]
    assert view.structured == "tools" and view.reply[0].text == CODE
    assert view.messages[0].long and not view.messages[1].long
    plain = call_view(b"Propose a hypothesis", b"not json at all")
    assert [(p.role, p.text) for p in plain.messages + plain.reply] == [
        ("prompt", "Propose a hypothesis"),
        ("assistant", "not json at all"),
    ]
    assert call_view(None, None).reply == []


def test_a_failed_step_is_marked_in_the_agent_log(client: TestClient, store: Store, seeded: Seeded) -> None:
    with store.session() as session:
        record_event(session=session, study_id=seeded.study_id, event_in=AgentEventBase(
            node="decide", message="decide failed: no valid DecisionOut after 3 attempts", data={"failed": True}))  # fmt: skip
    text = client.get(f"/studies/{seeded.study_id}/log").text
    row = re.search(r'<tr class="failed-step">(.*?)</tr>', text, re.DOTALL)
    assert row and "decide failed: no valid DecisionOut" in row.group(1)
    assert text.count('class="failed-step"') == 1  # the other steps are not marked
