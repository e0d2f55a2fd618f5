import itertools
import json
from pathlib import Path

import pytest

from aar.errors import UserError
from aar.w2s.splits import SPLIT_NAMES, SplitSizes, make_splits
from aar.w2s.tasks import HUB_TASKS, load_task, task_fingerprint


def test_rotten_tomatoes_offline():
    examples = load_task("rotten_tomatoes")
    assert len(examples) == 12_808
    assert {e.label for e in examples} == {0, 1}
    assert len({e.id for e in examples}) == len(examples)
    assert all(e.text for e in examples)


def test_boolq_offline_drops_unlabelled_rows():
    examples = load_task("boolq")
    assert len(examples) == 12_697
    assert sum(e.label for e in examples) == 7_907
    assert "Question:" in examples[0].text and "Passage:" in examples[0].text


def test_fingerprint_is_stable_and_content_sensitive():
    a = load_task("rotten_tomatoes")[:50]
    assert task_fingerprint(a) == task_fingerprint(list(a))
    assert task_fingerprint(a) != task_fingerprint(a[:49])


HUB_ROWS = {
    "sciq": {"question": "What gas do plants absorb?", "support": "Plants use CO2.", "correct_answer": "carbon dioxide",
             "distractor1": "oxygen", "distractor2": "helium", "distractor3": "neon"},
    "boolq_hub": {"question": "is the sky blue", "passage": "The sky is blue.", "answer": True},
    "anthropic_hh": {"chosen": "Human: hi Assistant: hello!", "rejected": "Human: hi Assistant: go away"},
    "cosmos_qa": {"context": "Sam ate.", "question": "Why?", "answer0": "hungry", "answer1": "bored",
                  "answer2": "tired", "answer3": "sad", "label": 0},
    "amazon_polarity": {"title": "Great", "content": "Loved it", "label": 1},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HUB_TASKS))
def test_hub_loaders_on_local_files(tmp_path: Path, name: str):
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(HUB_ROWS[name]) for _ in range(3)) + "\n")
    examples = load_task(f"hub:{name}={path}")
    assert examples and all(e.label in (0, 1) for e in examples)
    assert len({e.id for e in examples}) == len(examples)
    if name in ("sciq", "cosmos_qa"):  # one true and one false answer per question
        assert [e.label for e in examples[:2]] == [1, 0]
        assert examples[0].text.split("\nA: ")[0] == examples[1].text.split("\nA: ")[0]


def test_unknown_task_is_a_user_error():
    with pytest.raises(UserError, match="unknown task 'nope'"):
        load_task("nope")
    with pytest.raises(UserError, match="unknown hub task"):
        load_task("hub:nope")


@pytest.mark.parametrize("name", ["sciq", "cosmos_qa"])
def test_two_answer_tasks_never_split_a_question(tmp_path: Path, name: str):
    rows = []
    for i in range(40):
        row = dict(HUB_ROWS[name])
        row["question"] = f"{row['question']} (variant {i})"
        rows.append(row)
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples = load_task(f"hub:{name}={path}")
    assert len({e.group for e in examples}) == 40 and all(e.group for e in examples)
    sizes = SplitSizes(weak_train=16, w2s_train=32, dev=12, test=16)
    for seed in range(5):
        splits = make_splits(examples, sizes, seed)
        stems = {n: {e.text.split("\nA: ")[0] for e in splits.get(n)} for n in SPLIT_NAMES}
        for a, b in itertools.combinations(SPLIT_NAMES, 2):
            assert not stems[a] & stems[b], (seed, a, b)  # a question's twin sits in no other split
        assert [len(splits.get(n)) for n in SPLIT_NAMES] == [16, 32, 12, 16]
