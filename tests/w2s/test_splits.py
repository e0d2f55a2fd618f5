import json
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aar.errors import UserError
from aar.w2s.custom import load_custom
from aar.w2s.splits import SPLIT_NAMES, SplitSizes, make_splits
from aar.w2s.tasks import Example, task_fingerprint

EXAMPLES = [Example(f"e{i}", f"text {i}", i % 2) for i in range(100)]
SIZES = SplitSizes(weak_train=20, w2s_train=40, dev=10, test=20)


def ids(splits, name):
    return [e.id for e in splits.get(name)]


def test_sizes_disjoint_and_deterministic():
    a, b = make_splits(EXAMPLES, SIZES, 3), make_splits(list(reversed(EXAMPLES)), SIZES, 3)
    for name in SPLIT_NAMES:
        assert len(a.get(name)) == getattr(SIZES, name)
        assert ids(a, name) == ids(b, name)  # input order does not matter
    all_ids = [i for name in SPLIT_NAMES for i in ids(a, name)]
    assert len(all_ids) == len(set(all_ids)) == SIZES.total


def test_split_seed_changes_the_partition():
    assert ids(make_splits(EXAMPLES, SIZES, 0), "test") != ids(make_splits(EXAMPLES, SIZES, 1), "test")


def test_too_few_examples():
    with pytest.raises(UserError, match="100 examples, but the splits need 200"):
        make_splits(EXAMPLES, SplitSizes(100, 50, 25, 25), 0, "mytask")


def test_parse_sizes():
    assert SplitSizes.parse("dev=7, test=9") == SplitSizes(dev=7, test=9)
    assert SplitSizes.parse("") == SplitSizes()
    for bad in ("dev=x", "nope=3", "dev=0"):
        with pytest.raises(UserError):
            SplitSizes.parse(bad)


# ---- groups (issue 9 item 8): a question's true and false answer never straddle two splits ----------------


def legacy_ids(examples, sizes, seed):
    """The cut every ungrouped task had before groups existed (cached baselines are keyed on it)."""
    ordered = sorted(e.id for e in examples)
    random.Random(seed).shuffle(ordered)
    out, start = {}, 0
    for name in SPLIT_NAMES:
        out[name] = ordered[start : start + getattr(sizes, name)]
        start += getattr(sizes, name)
    return out


@pytest.mark.parametrize("seed", [0, 3, 17])
def test_ungrouped_tasks_split_exactly_as_before(seed):
    splits = make_splits(EXAMPLES, SIZES, seed)
    assert {name: ids(splits, name) for name in SPLIT_NAMES} == legacy_ids(EXAMPLES, SIZES, seed)


def test_fingerprint_of_ungrouped_examples_is_unchanged_and_groups_count():
    plain = [Example(f"e{i}", f"text {i}", i % 2) for i in range(5)]
    assert task_fingerprint(plain) == "68d5f557b5121d28"  # the value before groups existed
    grouped = [Example(e.id, e.text, e.label, group="g") for e in plain]
    assert task_fingerprint(grouped) != task_fingerprint(plain)


def split_of(splits):
    return {e.id: name for name in SPLIT_NAMES for e in splits.get(name)}


def assert_groups_whole(examples, splits):
    where = split_of(splits)
    seen: dict[str, str] = {}
    for ex in examples:
        if ex.group is not None and ex.id in where:
            assert seen.setdefault(ex.group, where[ex.id]) == where[ex.id], ex.group
    placed = {ex.group for ex in examples if ex.id in where and ex.group is not None}
    dropped = {ex.group for ex in examples if ex.id not in where and ex.group is not None}
    assert not placed & dropped  # a group is used whole or not at all


def test_pairs_stay_together_and_fill_the_sizes():
    examples = [
        Example(f"q{i}-{s}", f"q{i} {s}", int(s == "t"), group=f"q{i}") for i in range(60) for s in "tf"
    ]
    sizes = SplitSizes(weak_train=20, w2s_train=40, dev=10, test=20)
    splits = make_splits(examples, sizes, 1)
    assert_groups_whole(examples, splits)
    assert {name: len(splits.get(name)) for name in SPLIT_NAMES} == sizes.as_dict()
    assert split_of(splits) == split_of(make_splits(list(reversed(examples)), sizes, 1))


def test_running_out_of_whole_groups_is_a_user_error():
    examples = [Example(f"q{i}-{k}", f"q{i} {k}", k % 2, group=f"q{i}") for i in range(8) for k in range(3)]
    with pytest.raises(UserError, match="not enough whole groups"):  # no room for a group of 3 after weak
        make_splits(examples, SplitSizes(weak_train=10, w2s_train=2, dev=2, test=2), 0)
    pairs = [Example(f"p{i}-{k}", f"p{i} {k}", k, group=f"p{i}") for i in range(10) for k in range(2)]
    odd = make_splits(pairs, SplitSizes(weak_train=5, w2s_train=5, dev=5, test=5), 0)
    assert [len(odd.get(name)) for name in SPLIT_NAMES] == [4, 4, 4, 4]  # short by less than a pair


@st.composite
def grouped_tasks(draw):
    sizes = SplitSizes(*(draw(st.integers(1, 12)) for _ in SPLIT_NAMES))
    group_sizes = draw(st.lists(st.integers(1, 3), min_size=sizes.total, max_size=sizes.total + 20))
    examples = []
    for g, n in enumerate(group_sizes):
        named = n > 1 or draw(st.booleans())
        for k in range(n):
            examples.append(Example(f"x{g}-{k}", "t", k % 2, group=f"g{g}" if named else None))
    return examples, sizes, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=200, deadline=None)
@given(grouped_tasks())
def test_property_no_group_crosses_splits(task):
    examples, sizes, seed = task
    try:
        splits = make_splits(examples, sizes, seed)
    except UserError:
        return  # only when some split had room for a whole group and none was left
    assert_groups_whole(examples, splits)
    placed = [e.id for e in splits.all_examples()]
    assert len(placed) == len(set(placed))
    largest = max(Counter(e.group or e.id for e in examples).values())
    for name in SPLIT_NAMES:
        assert getattr(sizes, name) - largest < len(splits.get(name)) <= getattr(sizes, name)
    assert split_of(splits) == split_of(make_splits(examples[::-1], sizes, seed))


def test_custom_group_column_keeps_rows_together(tmp_path):
    rows = [
        {"id": f"r{q}-{a}", "text": f"question {q} answer {a}", "label": int(a == 0), "group": f"q{q}"}
        for q in range(40)
        for a in range(2)
    ]
    rows += [{"text": f"alone {i}", "label": i % 2, "group": ""} for i in range(6)]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples = load_custom(path)
    assert examples[0].group == "q0" and examples[-1].group is None
    splits = make_splits(examples, SplitSizes(weak_train=15, w2s_train=25, dev=11, test=21), 4)
    assert_groups_whole(examples, splits)
