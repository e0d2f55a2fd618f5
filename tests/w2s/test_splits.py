import pytest

from aar.errors import UserError
from aar.w2s.splits import SPLIT_NAMES, SplitSizes, make_splits
from aar.w2s.tasks import Example

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
