"""tests/conftest.py keeps a module's tests on one pytest-xdist worker when they share a module-scoped
fixture (bin/test runs `--dist loadgroup`), and leaves every other test free to go to any worker."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def built_once() -> list[int]:
    return []


def test_a_test_with_a_module_fixture_is_grouped_by_its_module(
    built_once: list[int], request: pytest.FixtureRequest
) -> None:
    mark = request.node.get_closest_marker("xdist_group")
    assert mark is not None and mark.args == ("tests/test_xdist_groups.py",)


def test_a_test_without_one_is_not_grouped(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("xdist_group") is None


@pytest.mark.xdist_group("mine")
def test_a_named_group_is_kept(built_once: list[int], request: pytest.FixtureRequest) -> None:
    assert [m.args for m in request.node.iter_markers("xdist_group")] == [("mine",)]
