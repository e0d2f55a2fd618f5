"""Offline tasks read from files that PyPI packages ship (aar/w2s/offline_tasks.py)."""

from collections import Counter

from aar.w2s.splits import SPLIT_NAMES, SplitSizes, make_splits
from aar.w2s.tasks import REGISTRY, load_task


def test_privacy_qa_loads_offline_balanced_and_grouped_by_question():
    assert REGISTRY["privacy_qa"].offline
    examples = load_task("privacy_qa")
    assert len(examples) == 10_923 and sum(e.label for e in examples) == 5_449
    assert len({e.id for e in examples}) == len(examples)
    assert all(e.text.startswith("Question: ") and "\nClause: " in e.text for e in examples)
    by_group = Counter(e.group for e in examples)
    assert len(by_group) == 389 and max(by_group.values()) == 118  # one group per question
    question = {e.group: e.text.split("\nClause: ")[0] for e in examples}
    assert all(e.text.split("\nClause: ")[0] == question[e.group] for e in examples)


def test_privacy_qa_keeps_each_question_in_one_split():
    sizes = SplitSizes(weak_train=400, w2s_train=800, dev=300, test=300)
    splits = make_splits(load_task("privacy_qa"), sizes, split_seed=0, task="privacy_qa")
    groups = [{e.group for e in splits.get(name)} for name in SPLIT_NAMES]
    assert all(not (a & b) for i, a in enumerate(groups) for b in groups[i + 1 :])
    for name in SPLIT_NAMES:
        assert 0 < sizes.as_dict()[name] - len(splits.get(name)) + 1 <= 118
