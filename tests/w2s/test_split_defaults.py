"""Default split sizes (issue 12 item 5): dev 1,500 where the data allows, shrunk to fit a small task when
the user named no sizes; sizes the user named must fit. The sizes used are the cache key's."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from aar.errors import UserError
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes, make_splits
from aar.w2s.tasks import Example, load_task
from aar.w2s.templates import get_template
from tests.conftest import TEMPLATES

SMALL_TASK = [Example(f"e{i}", f"text {i}", i % 2) for i in range(700)]


def test_the_defaults_give_dev_at_least_1500() -> None:
    sizes = SplitSizes.parse("")
    assert sizes.fit and sizes.dev >= 1500 and sizes.dev >= sizes.test
    assert not SplitSizes.parse("dev=1500").fit  # one named size makes them the user's


def test_defaults_shrink_to_fit_a_small_task(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aar.w2s.splits"):
        splits = make_splits(SMALL_TASK, SplitSizes.defaults(), 0, "mine")
    got = {name: len(splits.get(name)) for name in ("weak_train", "w2s_train", "dev", "test")}
    assert got == {"weak_train": 100, "w2s_train": 300, "dev": 150, "test": 150}  # 700/7000 of each
    lines = [r.getMessage() for r in caplog.records if "fewer than the default" in r.getMessage()]
    assert lines == ["mine: 700 examples, fewer than the default splits need (7000); using "
                     "weak_train=100, w2s_train=300, dev=150, test=150"]  # fmt: skip


def test_explicit_sizes_that_do_not_fit_still_fail() -> None:
    with pytest.raises(
        UserError, match=r"mine: 700 examples, but the splits need 7000 .*pass smaller --sizes"
    ):
        make_splits(SMALL_TASK, SplitSizes.parse("dev=1500"), 0, "mine")


def test_a_task_too_small_for_four_splits_is_one_line() -> None:
    with pytest.raises(UserError, match="mine: 3 examples are too few for four splits; pass --sizes"):
        make_splits(SMALL_TASK[:3], SplitSizes.defaults(), 0, "mine")


def test_the_cache_key_holds_the_sizes_used(tmp_path: Path) -> None:
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps({"text": e.text, "label": e.label}) + "\n" for e in SMALL_TASK))
    pair, probe = parse_pair("static64→minilm-l6"), get_template("probe", TEMPLATES)
    fitted = Setup(f"custom:{data}", pair, probe, cache_dir=tmp_path)
    assert fitted.key_parts()["sizes"] == {"weak_train": 100, "w2s_train": 300, "dev": 150, "test": 150}
    assert len(fitted.splits.dev) == 150
    small = Setup(f"custom:{data}", pair, probe, sizes=SplitSizes(100, 300, 100, 100), cache_dir=tmp_path)
    assert small.key_parts()["sizes"] != fitted.key_parts()["sizes"]


@pytest.mark.parametrize("task", ["rotten_tomatoes", "boolq", "privacy_qa"])  # 12,808, 12,697, 10,923 rows
def test_every_builtin_task_fits_the_defaults(task: str) -> None:
    examples = load_task(task)
    assert SplitSizes.defaults().fitted(len(examples), task) == SplitSizes()
    splits = make_splits(examples, SplitSizes.defaults(), 0, task)
    assert len(splits.dev) == 1500 and len(splits.test) >= 1499  # whole questions: a split may end 1 short
