"""The web dashboard over the results store: `create_app(store)` gives a read-only FastAPI app."""

from aar.web.app import create_app

__all__ = ["create_app"]
