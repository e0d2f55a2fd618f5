"""In dev mode the researcher sees released dev scores only: noisy, on the 0.01 grid, no per-seed values,
verdicts recomputed from released numbers; the store (the host's record) keeps the exact values."""

from __future__ import annotations

import pytest
from sqlmodel import select

from aar.researchers.feedback import GRID
from aar.store import Score
from tests.graph.conftest import SharedStudy


def _on_grid(v: float | None) -> bool:
    return v is None or abs(v / GRID - round(v / GRID)) < 1e-6


@pytest.mark.slow
def test_dev_mode_researcher_sees_only_released_scores(dev_study: SharedStudy):
    seen, analyzed, result, store = dev_study.seen, dev_study.analyzed, dev_study.outcome, dev_study.store
    assert dev_study.config.feedback == "dev"
    with store.session() as session:
        exact = {s.experiment_id: s.value for s in session.exec(select(Score).where(Score.split == "dev", Score.metric == "pgr"))}  # fmt: skip
    assert seen and analyzed and "dev answers are left" in seen[-1].feedback_note
    shown = [o for view in seen for o in [*view.history, view.naive, view.best] if o is not None] + analyzed
    scored = [o for o in shown if o.dev_pgr is not None]
    assert scored and len(scored) == len([o for o in shown if o.status == "ok"])
    for o in shown:
        assert (
            _on_grid(o.dev_pgr)
            and _on_grid(o.dev_pgr_lo)
            and _on_grid(o.dev_pgr_hi)
            and not o.dev_pgr_by_seed
        )
        assert o.verdict_vs_naive == "" or (
            o.verdict_vs_naive.startswith("Δ") and "released scores" in o.verdict_vs_naive
        )
    assert all(o.dev_pgr != exact[o.experiment_id] for o in scored)  # never the host's exact number
    assert result.report_path
