"""LLM calls for dashboard tests, made for real: the official SDKs talk to the fake servers on 127.0.0.1 and
the LLM researcher's own recorder stores each call (request and response JSON artifacts, the error)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from aar.budget import Budget, Limits
from aar.config import StudyConfig
from aar.llm import AdapterSettings, Message, RetryPolicy, complete_structured
from aar.llm.anthropic_provider import AnthropicClient
from aar.llm.openai_provider import OpenAIClient
from aar.researchers.llm import LLMResearcher, MethodCode
from aar.store import Store
from tests.fakes.llm import FakeAnthropicServer, FakeOpenAIServer, Text, ToolCall

# A system prompt long enough to be collapsed, with a marker on its last line.
SYSTEM = (
    "You are a weak-to-strong generalization researcher.\n"
    + "\n".join(f"Rule {i}: keep the sealed test split sealed." for i in range(40))
    + "\nLAST-SYSTEM-LINE"
)
# One unbroken 600-character line (a job's log, a hash): it must wrap, not widen the page.
LONG_LINE = "job-output:" + "0123456789abcdef" * 37
USER = f"Write method.py for: a softer auxiliary confidence loss <alpha=0.5>.\n{LONG_LINE}"
CODE = (
    "def loss(logits, weak_p, progress, ctx):\n"
    + "".join(f"    x{i} = {i}\n" for i in range(30))
    + "    return x0\n"
)


class Finding(BaseModel):
    """What the experiment showed."""

    finding: str


@dataclass(frozen=True)
class Recorded:
    """What was recorded: the reply code and the invalid reply's text."""

    code: str
    invalid: str


def record_calls(store: Store, study_id: int) -> Recorded:
    """Three calls: OpenAI implement (an invalid reply, then valid code), and an Anthropic tool call."""
    settings = AdapterSettings(retry=RetryPolicy(max_attempts=1))
    config = StudyConfig(name="web", goal="g", policy="llm", model="openai/gpt-4o-mini")
    budget = Budget(store, study_id, Limits(None, None, None, None, None))
    messages = [Message(role="system", content=SYSTEM), Message(role="user", content=USER)]
    invalid = "I think the method should be:\n" + CODE
    with FakeOpenAIServer([Text(invalid), Text({"method_code": CODE})]) as server:
        client = OpenAIClient("gpt-4o-mini", api_key="k", base_url=server.base_url, settings=settings)
        researcher = LLMResearcher(client, store, study_id, budget, config, display=lambda n, m: None)
        complete_structured(client, messages, MethodCode, node="implement", on_call=researcher._record)
        client.close()
    with FakeAnthropicServer([ToolCall({"finding": "alpha 0.5 is above naive, inside the noise"})]) as server:
        anthropic = AnthropicClient(
            "claude-haiku-4-5", api_key="k", base_url=server.base_url, settings=settings
        )
        complete_structured(anthropic, messages, Finding, node="analyze", on_call=researcher._record)
        anthropic.close()
    return Recorded(CODE, invalid)
