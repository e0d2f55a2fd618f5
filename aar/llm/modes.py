"""Structured-output modes: how a client asks an endpoint for JSON, and which one an endpoint accepts.

    json_schema   `response_format: {"type": "json_schema", ...}` (OpenAI, vLLM)
    json_object   JSON mode (`response_format: {"type": "json_object"}`, Anthropic: JSON in the text), the
                  schema in the system prompt (llama.cpp, Ollama, most local servers)
    tools         a forced tool/function call whose parameters are the schema (Anthropic's default)

A client starts at its provider's first mode. The first error (any 4xx/5xx) whose message names the mode
(`response_format`, `json_schema`, `tool`, ...) moves it to the next one, for good: later calls go
straight there. A forced mode (`--llm-structured`, `AdapterSettings.structured`) never moves; its
rejection is reported. A mode rejection is never retried as a transient failure. Each move is handed
to `on_switch` as a `ModeSwitch` (a study records it in its agent log and shows it on the terminal).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple, get_args

from aar.llm.errors import LLMConfigError, StructuredModeRejected

log = logging.getLogger(__name__)

StructuredMode = Literal["json_schema", "json_object", "tools"]
STRUCTURED_MODES: tuple[StructuredMode, ...] = get_args(StructuredMode)
# What a provider tries, in order, when no mode is forced.
AUTO_ORDER: dict[str, tuple[StructuredMode, ...]] = {
    "openai": ("json_schema", "json_object", "tools"),
    "openai-compatible": ("json_schema", "json_object", "tools"),
    "anthropic": ("tools", "json_object"),
}
# Words by which an error message names a mode (lower case).
MODE_WORDS: dict[StructuredMode, tuple[str, ...]] = {
    "json_schema": ("response_format", "json_schema", "json schema", "response format"),
    "json_object": ("response_format", "json_object", "json mode", "response format"),
    "tools": ("tool", "function"),
}


class ModeSwitch(NamedTuple):
    """An endpoint rejected a structured-output mode; the client moved to the next one for good."""

    provider: str
    rejected: str
    now: StructuredMode
    status: int | None
    detail: str

    def describe(self, limit: int = 200) -> str:
        """`openai-compatible rejected json_schema structured output (HTTP 500: …); using json_object from
        now on` (the server's message cut to `limit` characters)."""
        detail = " ".join(self.detail.split())
        detail = detail if len(detail) <= limit else detail[:limit] + "…"
        return (
            f"{self.provider} rejected {self.rejected} structured output (HTTP {self.status}: {detail}); "
            f"using {self.now} from now on"
        )


SwitchSink = Callable[[ModeSwitch], None]


def names_mode(detail: str, mode: StructuredMode) -> bool:
    """Whether an error message names the structured-output mode that was asked for."""
    text = detail.lower()
    return any(word in text for word in MODE_WORDS[mode])


def parse_mode(text: str) -> StructuredMode | None:
    """`auto` (or empty) → None, else one of STRUCTURED_MODES.

    Raises:
        LLMConfigError: an unknown mode (the message lists the known ones).
    """
    if text in ("", "auto"):
        return None
    if text not in STRUCTURED_MODES:
        raise LLMConfigError(
            f"unknown structured-output mode {text!r}; use auto, {', '.join(STRUCTURED_MODES)}"
        )
    return text  # type: ignore[return-value]  # checked against the Literal's values just above


def mode_of_request(request: Mapping[str, Any]) -> StructuredMode | None:
    """The structured-output mode a stored request payload asked in (None: plain text, or unknown)."""
    if request.get("tools"):
        return "tools"
    kind = (request.get("response_format") or {}).get("type")
    return kind if kind in ("json_schema", "json_object") else None


class ModeChoice:
    """One endpoint's structured-output mode: forced, or the first of its provider's order it accepts.

    `known` is a mode this endpoint already answered in (read back from the study's calls on resume):
    without a forced mode, the client starts there instead of rediscovering it. `on_switch` hears of
    every move to the next mode.
    """

    def __init__(
        self,
        provider: str,
        forced: StructuredMode | None = None,
        known: StructuredMode | None = None,
        on_switch: SwitchSink | None = None,
    ) -> None:
        order = AUTO_ORDER[provider]
        if forced is not None and forced not in order:
            raise LLMConfigError(
                f"{provider} does not support structured-output mode {forced!r}; use {', '.join(order)}"
            )
        self.provider = provider
        self.forced = forced
        self._order = (forced,) if forced is not None else order
        self._index = self._order.index(known) if forced is None and known in self._order else 0
        self.on_switch = on_switch

    @property
    def current(self) -> StructuredMode:
        """The mode the next structured call uses."""
        return self._order[self._index]

    def step_down(self, rejection: StructuredModeRejected) -> None:
        """Move to the next mode after `rejection`; re-raise it if the mode was forced or was the last.

        Raises:
            StructuredModeRejected: no other mode to try (its message says how to force one).
        """
        if self._index + 1 >= len(self._order):
            if self.forced is None:
                raise rejection
            raise StructuredModeRejected(
                rejection.provider,
                rejection.status,
                f"{rejection.detail} (structured-output mode {self.forced!r} was forced; try another with "
                f"--llm-structured {' | '.join(m for m in AUTO_ORDER[self.provider] if m != self.forced)}, "
                "or auto)",
                rejection.mode,
            ) from rejection
        self._index += 1
        switch = ModeSwitch(self.provider, rejection.mode, self.current, rejection.status, rejection.detail)
        if self.on_switch is None:
            log.warning("%s", switch.describe())
        else:
            self.on_switch(switch)
