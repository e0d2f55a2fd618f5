"""An LLM call as people read it: role-labelled messages and the model's reply, not one escaped-JSON wall.

The store keeps each call's request payload and the provider's response as JSON artifacts, in the
provider's own shape (OpenAI chat completions, Anthropic messages, or a test fake's). Here both become a
list of `Part`s: the system, user and assistant messages sent, then the reply, a structured reply split
into its fields (so a `method_code` reads as code, not as one line of `\\n` escapes). Anything that is not
JSON of a known shape is shown as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aar.llm.modes import mode_of_request

# A part longer than this (characters or lines) is collapsed behind its first line.
LONG_CHARS = 600
LONG_LINES = 12
HEAD_CHARS = 120


@dataclass(frozen=True)
class Part:
    """One message, or one field of a structured reply."""

    role: str  # system | user | assistant | tool | prompt (a request that is not a chat payload)
    text: str
    label: str = ""  # the field of a structured reply, or the tool a call went to

    @property
    def long(self) -> bool:
        """Whether the page collapses it behind its first line."""
        return len(self.text) > LONG_CHARS or self.text.count("\n") >= LONG_LINES

    @property
    def head(self) -> str:
        """Its first non-empty line, clipped: the summary of a collapsed part."""
        first = next((line.strip() for line in self.text.splitlines() if line.strip()), "")
        return first if len(first) <= HEAD_CHARS else first[:HEAD_CHARS] + "…"


@dataclass(frozen=True)
class CallView:
    """What was sent, what came back, and how structured output was asked for."""

    messages: list[Part] = field(default_factory=list)
    reply: list[Part] = field(default_factory=list)
    structured: str = ""  # json_schema | json_object | tools | "" (plain text, or unknown)


def call_view(prompt: bytes | None, response: bytes | None) -> CallView:
    """The readable view of one call from its two stored artifacts (either may be missing)."""
    request = _json(prompt)
    return CallView(
        messages=request_parts(request) if request is not None else _raw("prompt", prompt),
        reply=reply_parts(_json(response), response),
        structured=structured_mode(request),
    )


def request_parts(request: Any) -> list[Part]:
    """The messages of an OpenAI or Anthropic request payload (Anthropic's `system` first)."""
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        return [Part("prompt", json.dumps(request, indent=1, ensure_ascii=False))]
    parts = [Part("system", _content_text(request["system"]))] if request.get("system") else []
    for message in request["messages"]:
        if isinstance(message, dict):
            parts.append(Part(str(message.get("role", "user")), _content_text(message.get("content"))))
    return parts


def reply_parts(reply: Any, raw: bytes | None) -> list[Part]:
    """The model's answer: text or tool input, a JSON object split into its fields."""
    if reply is None:
        return _raw("assistant", raw)
    text, tool = _reply_text(reply)
    return _fields(text, tool)


def structured_mode(request: Any) -> str:
    """How the request asked for JSON: json_schema | json_object | tools | ""."""
    return (mode_of_request(request) or "") if isinstance(request, dict) else ""


def _reply_text(reply: Any) -> tuple[str, str]:
    """The reply's text (or tool input as JSON) and the tool it called, for each provider's shape."""
    if isinstance(reply, dict) and isinstance(reply.get("choices"), list) and reply["choices"]:
        message = reply["choices"][0].get("message") or {}
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            return str(function.get("arguments", "")), str(function.get("name", ""))
        return str(message.get("content") or ""), ""
    if isinstance(reply, dict) and isinstance(reply.get("content"), list):
        for block in reply["content"]:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                return json.dumps(block.get("input"), ensure_ascii=False), str(block.get("name", ""))
        return _content_text(reply["content"]), ""
    if isinstance(reply, dict) and isinstance(reply.get("text"), str):
        return reply["text"], ""
    return json.dumps(reply, indent=1, ensure_ascii=False), ""


def _fields(text: str, tool: str) -> list[Part]:
    """A JSON-object reply as one part per field (strings as they are); any other reply as one part."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        data = None
    if not isinstance(data, dict) or not data:
        return [Part("assistant", text, tool)]
    return [
        Part(
            "assistant",
            value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False),
            key,
        )
        for key, value in data.items()
    ]


def _content_text(content: Any) -> str:
    """A message's content: a string, or the text of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            str(b.get("text", ""))
            if isinstance(b, dict) and "text" in b
            else json.dumps(b, ensure_ascii=False)
            for b in content
        ]
        return "\n\n".join(texts)
    return "" if content is None else json.dumps(content, ensure_ascii=False)


def _json(data: bytes | None) -> Any:
    """Decoded JSON, or None (missing, not UTF-8, not JSON)."""
    if not data:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _raw(role: str, data: bytes | None) -> list[Part]:
    """A stored artifact that is not JSON of a known shape, shown as text."""
    return [Part(role, data.decode("utf-8", errors="replace"))] if data else []
