"""The LLM layer: provider adapters over the official SDKs, structured outputs, cost accounting.

    client = make_client("openai/gpt-4o-mini")          # or anthropic/..., openai-compatible/m@url
    plan = complete_structured(client, messages, Plan, node="plan", on_call=store_call)

The SDKs are imported only when a client for their provider is built.
"""

from aar.llm.adapter import AdapterSettings
from aar.llm.base import LLMClient, LLMResponse, Message, ModelSpec, parse_model_spec, resolve_api_key
from aar.llm.errors import (
    LLMAuthError,
    LLMConfigError,
    LLMRequestError,
    LLMUnavailableError,
    StructuredOutputError,
)
from aar.llm.factory import make_client
from aar.llm.pricing import Price, PriceTable, default_price_table
from aar.llm.retry import RetryPolicy
from aar.llm.structured import CallSink, LLMCallRecord, complete_structured

__all__ = [
    "AdapterSettings",
    "CallSink",
    "LLMAuthError",
    "LLMCallRecord",
    "LLMClient",
    "LLMConfigError",
    "LLMRequestError",
    "LLMResponse",
    "LLMUnavailableError",
    "Message",
    "ModelSpec",
    "Price",
    "PriceTable",
    "RetryPolicy",
    "StructuredOutputError",
    "complete_structured",
    "default_price_table",
    "make_client",
    "parse_model_spec",
    "resolve_api_key",
]
