"""The study tests' fixtures (settings, an isolated store) for the executor tests."""

from tests.graph.conftest import settings, store  # noqa: F401 - fixtures
