"""Fakes for tests: an in-process scripted client, and scripted HTTP servers that the real SDKs talk to.

`ScriptedLLM` answers from a script with no HTTP at all (fast graph tests). `FakeOpenAIServer` and
`FakeAnthropicServer` listen on 127.0.0.1 and answer each request with the next script step, so the
official SDKs' whole HTTP path runs:

    with FakeOpenAIServer([Status(429, retry_after=0.1), Text({"answer": 42})]) as server:
        client = OpenAIClient("gpt-4o-mini", api_key="test", base_url=server.base_url)
        ...
        assert server.requests[1].body["response_format"]["type"] == "json_schema"
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel

from aar.llm.base import LLMResponse, Message
from aar.llm.parsing import ParseResult, parse_reply

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- the in-process scripted client

ScriptedReply = str | dict[str, Any] | BaseModel | Exception


@dataclass(frozen=True)
class ScriptedCall:
    """What `ScriptedLLM` was asked."""

    messages: list[Message]
    schema: type[BaseModel] | None
    node: str


Script = (
    Iterable[ScriptedReply] | Mapping[str, Iterable[ScriptedReply]] | Callable[[ScriptedCall], ScriptedReply]
)


class ScriptedLLM:
    """An `LLMClient` that answers from a script: a list, a list per node, or a function of the call.

    A reply is text, a dict (sent as JSON), a pydantic object, or an exception to raise. A structured
    reply is validated against the requested schema just as a real provider's would be.
    """

    provider = "scripted"

    def __init__(
        self,
        script: Script,
        *,
        model: str = "scripted",
        tokens_in: int = 100,
        tokens_out: int = 50,
        cost_usd: float = 0.0,
    ) -> None:
        self.model = model
        self.tokens_in, self.tokens_out, self.cost_usd = tokens_in, tokens_out, cost_usd
        self.calls: list[ScriptedCall] = []
        self._respond = _responder(script)

    def complete(
        self,
        messages: list[Message],
        *,
        schema: type[BaseModel] | None = None,
        node: str = "",
        max_tokens: int = 4096,
    ) -> LLMResponse:
        """The next scripted reply, validated against `schema` if one is given."""
        call = ScriptedCall(list(messages), schema, node)
        self.calls.append(call)
        reply = self._respond(call)
        if isinstance(reply, Exception):
            raise reply
        text = reply.model_dump_json() if isinstance(reply, BaseModel) else _as_text(reply)
        parsed = parse_reply(text, schema) if schema is not None else ParseResult(None, None)
        request = {"node": node, "messages": [m.model_dump() for m in messages]}
        return LLMResponse(
            text=text,
            parsed=parsed.value,
            parse_error=parsed.error,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            cost_usd=self.cost_usd,
            latency_s=0.0,
            model=self.model,
            provider=self.provider,
            request_json=json.dumps(request),
            response_json=json.dumps({"text": text}),
        )


def _responder(script: Script) -> Callable[[ScriptedCall], ScriptedReply]:
    """A function from a call to its reply, whatever form the script takes."""
    if callable(script):
        return script
    if isinstance(script, Mapping):
        queues = {node: deque(replies) for node, replies in script.items()}
        return lambda call: _pop(queues.get(call.node, deque()), f"node {call.node!r}")
    queue = deque(script)
    return lambda call: _pop(queue, f"the script (node {call.node!r})")


def _pop(queue: deque[ScriptedReply], what: str) -> ScriptedReply:
    if not queue:
        raise LookupError(f"ScriptedLLM: no reply left for {what}")
    return queue.popleft()


def _as_text(reply: str | dict[str, Any]) -> str:
    return reply if isinstance(reply, str) else json.dumps(reply)


# ---------------------------------------------------------------- script steps for the HTTP fakes


@dataclass(frozen=True)
class Text:
    """Reply with text (a dict is sent as its JSON)."""

    content: str | dict[str, Any]
    tokens_in: int = 100
    tokens_out: int = 50


@dataclass(frozen=True)
class ToolCall:
    """Reply with a tool call carrying `input` (Anthropic: a tool_use block; OpenAI: the JSON as text)."""

    input: dict[str, Any]
    tokens_in: int = 100
    tokens_out: int = 50


@dataclass(frozen=True)
class Status:
    """Fail with an HTTP status (429, 500, 400, ...), optionally with a Retry-After header."""

    status: int
    retry_after: float | None = None
    message: str = "scripted failure"


Step = Text | ToolCall | Status


@dataclass(frozen=True)
class RecordedRequest:
    """A request a fake server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """What a fake server sends back."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- the HTTP fakes


class _FakeServer:
    """A scripted JSON-over-HTTP server on 127.0.0.1, in a background thread."""

    endpoint = ""  # the path suffix it serves
    url_suffix = ""  # appended to http://127.0.0.1:PORT to make the SDK's base URL

    def __init__(self, script: Iterable[Step]) -> None:
        self.requests: list[RecordedRequest] = []
        self._steps = deque(script)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The base URL to give the SDK."""
        if self._http is None:
            raise RuntimeError("the fake server is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._http.server_address[1]}{self.url_suffix}"

    @property
    def remaining(self) -> int:
        """Script steps not yet used."""
        return len(self._steps)

    def __enter__(self) -> _FakeServer:
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._http.daemon_threads = True
        # A short poll interval keeps shutdown (and so every test using a fake) fast.
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.02,), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        """Record the request and answer it from the script."""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return self.error(400, "request body is not JSON")
        with self._lock:
            self.requests.append(RecordedRequest(path, headers, body))
            if not path.endswith(self.endpoint):
                return self.error(404, f"the fake serves only POST {self.endpoint}, not {path}")
            rejection = self.reject(body)
            if rejection is not None:
                return rejection
            if not self._steps:
                return self.error(500, "fake server script exhausted")
            step, number = self._steps.popleft(), next(self._ids)
        if isinstance(step, Status):
            headers_out = {"retry-after": str(step.retry_after)} if step.retry_after is not None else {}
            return Answer(step.status, self.error(step.status, step.message).body, headers_out)
        return Answer(200, self.reply(step, body, number))

    def reject(self, body: dict[str, Any]) -> Answer | None:
        """An error for a request feature this server is set not to support, else None."""
        return None

    def reply(self, step: Text | ToolCall, body: dict[str, Any], number: int) -> dict[str, Any]:
        """The provider's success JSON for a step."""
        raise NotImplementedError

    def error(self, status: int, message: str) -> Answer:
        """The provider's error JSON."""
        raise NotImplementedError


class FakeOpenAIServer(_FakeServer):
    """`POST /v1/chat/completions` like OpenAI, vLLM, llama.cpp or Ollama.

    Args:
        script: the steps, one per accepted request.
        json_schema: accept `response_format` type json_schema (else `reject_status`, consuming no step).
        json_object: accept `response_format` type json_object (else `reject_status`, consuming no step).
        tools: accept `tools` (else `reject_status`); a step then answers as the forced function's
            arguments (a `tool_calls` message), whatever its kind.
        reject_status: the status of a rejection: 400 like OpenAI and vLLM, 500 like llama-cpp-python.
    """

    endpoint = "/chat/completions"
    url_suffix = "/v1"

    def __init__(
        self,
        script: Iterable[Step],
        *,
        json_schema: bool = True,
        json_object: bool = True,
        tools: bool = True,
        reject_status: int = 400,
    ) -> None:
        super().__init__(script)
        self.supported = {"json_schema": json_schema, "json_object": json_object, "text": True}
        self.tools = tools
        self.reject_status = reject_status

    def __enter__(self) -> FakeOpenAIServer:
        super().__enter__()
        return self

    def reject(self, body: dict[str, Any]) -> Answer | None:
        if "tools" in body and not self.tools:
            return self.error(self.reject_status, "tools are not supported by this server")
        kind = (body.get("response_format") or {}).get("type", "text")
        if self.supported.get(kind, False):
            return None
        # llama-cpp-python's words (with HTTP 500).
        allowed = " or ".join(f'"{k}"' for k, ok in self.supported.items() if ok)
        return self.error(
            self.reject_status, f"response_format type must be one of {allowed}, but got: {kind}"
        )

    def reply(self, step: Text | ToolCall, body: dict[str, Any], number: int) -> dict[str, Any]:
        content = step.content if isinstance(step, Text) else step.input
        message: dict[str, Any] = {"role": "assistant", "content": _as_text(content), "refusal": None}
        if "tools" in body:
            name = ((body.get("tool_choice") or {}).get("function") or {}).get("name", "respond")
            call = {
                "id": f"call_{number}",
                "type": "function",
                "function": {"name": name, "arguments": _as_text(content)},
            }
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if "tools" in body else "stop",
                    "logprobs": None,
                }
            ],
            "usage": _openai_usage(step.tokens_in, step.tokens_out),
        }

    def error(self, status: int, message: str) -> Answer:
        kind = (
            "rate_limit_exceeded"
            if status == 429
            else "server_error"
            if status >= 500
            else "invalid_request_error"
        )
        return Answer(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})


class FakeAnthropicServer(_FakeServer):
    """`POST /v1/messages` like Anthropic's Messages API.

    Args:
        script: the steps, one per accepted request.
        tools: accept requests with `tools` (else `reject_status`, consuming no step).
        reject_status: the status of a rejection.
    """

    endpoint = "/v1/messages"

    def __init__(self, script: Iterable[Step], *, tools: bool = True, reject_status: int = 400) -> None:
        super().__init__(script)
        self.tools = tools
        self.reject_status = reject_status

    def __enter__(self) -> FakeAnthropicServer:
        super().__enter__()
        return self

    def reject(self, body: dict[str, Any]) -> Answer | None:
        if self.tools or "tools" not in body:
            return None
        return self.error(self.reject_status, "tools are not supported by this server")

    def reply(self, step: Text | ToolCall, body: dict[str, Any], number: int) -> dict[str, Any]:
        if isinstance(step, ToolCall):
            name = (body.get("tool_choice") or {}).get("name", "respond")
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": f"toolu_fake_{number}",
                "name": name,
                "input": step.input,
            }
        else:
            block = {"type": "text", "text": _as_text(step.content)}
        return {
            "id": f"msg_fake_{number}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "fake"),
            "content": [block],
            "stop_reason": "tool_use" if isinstance(step, ToolCall) else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": step.tokens_in, "output_tokens": step.tokens_out},
        }

    def error(self, status: int, message: str) -> Answer:
        kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        return Answer(status, {"type": "error", "error": {"type": kind, "message": message}})


def _openai_usage(tokens_in: int, tokens_out: int) -> dict[str, int]:
    return {
        "prompt_tokens": tokens_in,
        "completion_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out,
    }


def _handler_for(server: _FakeServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `server`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            answer = server.handle(self.path, headers, raw)
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s: " + format, type(server).__name__, *args)

    return Handler


__all__ = [
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "RecordedRequest",
    "ScriptedCall",
    "ScriptedLLM",
    "Status",
    "Text",
    "ToolCall",
]
