"""Building a client from a model spec such as `openai/gpt-4o-mini`."""

from __future__ import annotations

from collections.abc import Mapping

from aar.llm.adapter import AdapterSettings
from aar.llm.base import LLMClient, parse_model_spec, resolve_api_key
from aar.llm.pricing import default_price_table


def make_client(
    spec: str, *, env: Mapping[str, str] | None = None, settings: AdapterSettings | None = None
) -> LLMClient:
    """An `LLMClient` for `provider/model[@base_url]`, with keys and prices from `env` (default: os.environ).

    Raises:
        LLMConfigError: a bad spec, a missing API key or base URL, or a bad `$AAR_PRICES` file.
    """
    provider, model, base_url = parse_model_spec(spec, env)
    api_key = resolve_api_key(provider, env)
    settings = settings or AdapterSettings(prices=default_price_table(env))
    # Each SDK is imported only when its provider is used, so `import aar.llm` stays light.
    if provider == "anthropic":
        from aar.llm.anthropic_provider import AnthropicClient

        return AnthropicClient(model, api_key=api_key, base_url=base_url, settings=settings)
    from aar.llm.openai_provider import OpenAIClient

    return OpenAIClient(model, api_key=api_key, base_url=base_url, provider=provider, settings=settings)
