"""The provider-neutral LLM interface: messages, responses, the client protocol and model specs.

A model spec names a provider and a model, optionally with a base URL:

    openai/gpt-4o-mini
    anthropic/claude-sonnet-4-5
    openai-compatible/qwen2.5-7b-instruct@http://127.0.0.1:8000/v1

`openai-compatible` is any server speaking the OpenAI chat API (vLLM, llama.cpp, Ollama); its base URL
comes from the spec or `AAR_LLM_BASE_URL`, its key (often unneeded) from `AAR_LLM_API_KEY`. A base URL
given with `@` on `openai/` or `anthropic/` overrides the vendor's endpoint (proxies, gateways, tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict

from aar.llm.errors import LLMConfigError

Provider = Literal["openai", "anthropic", "openai-compatible"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic", "openai-compatible")

# Which environment variable holds each provider's API key, and its base URL override.
KEY_ENV: dict[Provider, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openai-compatible": "AAR_LLM_API_KEY",
}
BASE_URL_ENV = "AAR_LLM_BASE_URL"
# Local OpenAI-compatible servers usually ignore the key, but the SDK wants a non-empty one.
PLACEHOLDER_KEY = "not-needed"


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class LLMResponse:
    """One completed model call, with what the store keeps about it."""

    text: str
    # The reply validated against the requested schema, or None (no schema, or it did not validate).
    parsed: BaseModel | None
    # Why the reply did not validate (JSON error or pydantic errors), None when it did or no schema.
    parse_error: str | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    # Wall time of the call, transport retries included.
    latency_s: float
    model: str
    provider: str
    # The request payload and the provider's response, as JSON strings (kept as store artifacts).
    request_json: str
    response_json: str


class LLMClient(Protocol):
    """Anything that completes a chat: a provider adapter or a scripted fake."""

    provider: str
    model: str

    def complete(
        self,
        messages: list[Message],
        *,
        schema: type[BaseModel] | None = None,
        node: str = "",
        max_tokens: int = 4096,
    ) -> LLMResponse:
        """Send `messages`; with a `schema`, ask for a JSON reply and validate it into `parsed`."""
        ...


class ModelSpec(NamedTuple):
    """A parsed `provider/model[@base_url]`."""

    provider: Provider
    model: str
    base_url: str | None


def parse_model_spec(spec: str, env: Mapping[str, str] | None = None) -> ModelSpec:
    """Parse `provider/model[@base_url]`; `openai-compatible` falls back to `AAR_LLM_BASE_URL`.

    Raises:
        LLMConfigError: unknown provider, empty model, or an openai-compatible spec with no base URL.
    """
    provider, sep, rest = spec.strip().partition("/")
    if not sep or provider not in PROVIDERS:
        raise LLMConfigError(
            f"bad model spec {spec!r}: expected provider/model with provider one of {', '.join(PROVIDERS)}"
            " (e.g. openai/gpt-4o-mini, openai-compatible/my-model@http://127.0.0.1:8000/v1)"
        )
    model, _, base_url = rest.partition("@")
    if not model:
        raise LLMConfigError(f"bad model spec {spec!r}: the model name is empty")
    if provider == "openai-compatible" and not base_url:
        base_url = (os.environ if env is None else env).get(BASE_URL_ENV, "")
        if not base_url:
            raise LLMConfigError(
                f"model spec {spec!r} needs a base URL: write openai-compatible/{model}@http://HOST:PORT/v1"
                f" or set {BASE_URL_ENV}"
            )
    if base_url and not base_url.startswith(("http://", "https://")):
        raise LLMConfigError(f"bad base URL {base_url!r} in model spec {spec!r}: expected http(s)://…")
    return ModelSpec(provider, model, base_url or None)


def resolve_api_key(provider: Provider, env: Mapping[str, str] | None = None) -> str:
    """The API key for `provider` from its environment variable.

    Raises:
        LLMConfigError: the key is missing for openai or anthropic (the message names the variable).
    """
    var = KEY_ENV[provider]
    key = (os.environ if env is None else env).get(var, "")
    if key:
        return key
    if provider == "openai-compatible":
        return PLACEHOLDER_KEY
    raise LLMConfigError(f"{provider} models need an API key: set {var}")
