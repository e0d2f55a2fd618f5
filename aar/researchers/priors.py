"""Priors from earlier studies' findings boards, for the builtin and the LLM researcher.

A finding is numbers and names (method, hyperparameters, Δ dev PGR vs naive with its CI, the weak and
ceiling accuracies of the gap it was measured on); it never holds a job's output. The hyperparameters and
the method label were still chosen by an agent, so an LLM sees them only sanitized and fenced as data
(aar.researchers.untrusted), like any other text it did not write itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aar.researchers.types import Prior, Proposal
from aar.researchers.untrusted import fence, sanitize
from aar.store import Store
from aar.store.findings import prior_findings

SHOWN_PRIORS = 12  # findings in an LLM prompt, most helpful first
NAME_CHARS = 60  # chars of a method's name in a prompt
FIELD_CHARS = 160  # chars of one finding's hyperparameters in a prompt
LINE_CHARS = 320  # one line of the block, at most
PRIOR_DIGITS = 2  # Δ is rounded like the released dev scores: priors never leak finer numbers


def prior_of(row: Any) -> Prior:
    """A findings-board row (aar.store.models.ResearchFinding) as a prior: the Δ its researcher was shown
    (released, noisy dev scores), never the exact one, nor its CI or verdict (computed from exact scores)."""

    def rounded(x: float | None) -> float | None:
        return None if x is None else round(float(x), PRIOR_DIGITS)

    return Prior(
        method=str(row.method), hparams=dict(row.hparams or {}), delta=rounded(row.shown_delta) or 0.0,
        weak_acc=rounded(row.weak_acc), ceiling_acc=rounded(row.ceiling_acc), study_id=int(row.study_id),
    )  # fmt: skip


def method_gains(priors: Iterable[Prior]) -> dict[str, float]:
    """Per library method, the best Δ dev PGR vs naive any earlier study measured for it."""
    gains: dict[str, float] = {}
    for p in priors:
        gains[p.method] = max(p.delta, gains.get(p.method, p.delta))
    return gains


def ordered_by_priors(methods: Iterable[str], priors: Iterable[Prior]) -> list[str]:
    """`methods` with those that helped before first (largest Δ first), untried ones next in their own
    order, and those that hurt last."""
    gains = method_gains(priors)
    return sorted(methods, key=lambda m: -gains.get(m, 0.0))


def _what(method: str, hparams: dict[str, Any]) -> str:
    """A method and its hyperparameters, each sanitized and capped on its own (a long one cannot push
    the other out)."""
    return f"{sanitize(method, NAME_CHARS)} {sanitize(json.dumps(hparams, sort_keys=True, default=str), FIELD_CHARS)}"


def describe_prior(p: Prior) -> str:
    """One line for a prompt: method, hyperparameters, Δ with CI and verdict, and the gap."""
    what = _what(p.method, p.hparams)
    ci = (
        f" [{p.delta_lo:+.2f}, {p.delta_hi:+.2f}]"
        if p.delta_lo is not None and p.delta_hi is not None
        else ""
    )
    verdict = f" ({sanitize(p.verdict, 40)})" if p.verdict else ""
    gap = (
        f"; gap weak {p.weak_acc:.2f} → ceiling {p.ceiling_acc:.2f}"
        if p.weak_acc is not None and p.ceiling_acc is not None
        else ""
    )
    return f"{what}: Δ PGR {p.delta:+.2f}{ci}{verdict}{gap}"


def priors_block(priors: Iterable[Prior]) -> str:
    """The priors for an LLM prompt, most helpful first, fenced as data; "" when there are none."""
    ranked = sorted(priors, key=lambda p: -p.delta)[:SHOWN_PRIORS]
    if not ranked:
        return ""
    return fence("\n".join(describe_prior(p) for p in ranked), limit=LINE_CHARS * SHOWN_PRIORS)


def claimed_block(claimed: Iterable[Proposal]) -> str:
    """What the other researchers proposed this round (method and hyperparameters), fenced; "" if none."""
    lines = [_what(p.base_method, p.hparams) for p in claimed]
    return fence("\n".join(lines), limit=LINE_CHARS * max(1, len(lines))) if lines else ""


def load_priors(
    store: Store, *, study_id: int, task_fingerprint: str, pair: str, feedback: str
) -> list[Prior]:
    """Earlier studies' findings on the same task and pair, as priors; none in blind mode (they are dev
    scores: a blind study sees no ground truth, not even an earlier study's)."""
    if feedback != "dev":
        return []
    with store.session() as session:
        rows = prior_findings(
            session=session, task_fingerprint=task_fingerprint, pair=pair, exclude_study_id=study_id
        )
        return [prior_of(r) for r in rows]
