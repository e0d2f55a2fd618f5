"""The web dashboard over the results store: `create_app(store)` gives a read-only FastAPI app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aar.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """`create_app` loads FastAPI and the report stack on first use, not for every `aar` command."""
    if name == "create_app":
        from aar.web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
