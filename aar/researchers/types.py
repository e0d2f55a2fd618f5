"""What the researchers and the study loop exchange: a hypothesis proposed, and what its experiment measured.

These live beside the researchers (layer 4) so that researchers import nothing of the graph; the graph's
state (`aar.graph.state`) holds them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aar.w2s import fidelity as _fidelity


class Fidelity(BaseModel):
    """A low-fidelity run (a rung of the multi-fidelity search, aar/w2s/fidelity.py): the first `seeds`
    of the study's seeds and a host-chosen `w2s_fraction` of w2s_train. Full fidelity is None."""

    rung: int = Field(default=0, ge=0)
    seeds: int = Field(ge=1)
    w2s_fraction: float = Field(gt=0.0, le=1.0)

    def cost(self, study_seeds: int) -> float:
        """Its charge in full-experiment units."""
        return _fidelity.cost(self.seeds, study_seeds, self.w2s_fraction)

    def describe(self) -> str:
        """`rung 0: 2 seeds, 1/3 w2s_train`."""
        return _fidelity.describe(self.seeds, self.w2s_fraction, self.rung)


class Proposal(BaseModel):
    """A hypothesis: what to change, why, and what it should do to PGR."""

    text: str
    rationale: str = ""
    expected_effect: str = ""
    base_method: str = "naive"  # the library method it starts from (builtin) or names (llm)
    hparams: dict[str, Any] = Field(default_factory=dict)
    parent_id: int | None = None
    fidelity: Fidelity | None = None  # a low-fidelity run; None: full (the study's seeds, all w2s_train)


class Outcome(BaseModel):
    """What an experiment measured. `dev_*` scores are withheld from the researcher in blind mode."""

    hypothesis_id: int | None
    experiment_id: int
    method: str
    hparams: dict[str, Any] = Field(default_factory=dict)
    status: str
    error: str = ""
    dev_pgr: float | None = None
    dev_pgr_lo: float | None = None
    dev_pgr_hi: float | None = None
    dev_pgr_by_seed: dict[int, float] = Field(default_factory=dict)
    signals: dict[str, float | None] = Field(default_factory=dict)  # label-free, always visible
    verdict_vs_naive: str = ""
    verdict_vs_best: str = ""
    code: str = ""
    # A low-fidelity run's rung; None: full fidelity. Only full-fidelity outcomes rank as the best, get
    # verdicts, reach the finalists or the findings board (aar/graph/nodes.py, finalize.py).
    fidelity: Fidelity | None = None


class Prior(BaseModel):
    """What an earlier study on the same task and pair found about one configuration (its findings
    board, aar.store.findings): Δ dev PGR against that study's naive baseline, rounded, and the gap it
    was measured on. Names and numbers only; an LLM sees them sanitized (aar.researchers.priors)."""

    method: str
    hparams: dict[str, Any] = Field(default_factory=dict)
    delta: float
    delta_lo: float | None = None
    delta_hi: float | None = None
    verdict: str = ""
    weak_acc: float | None = None
    ceiling_acc: float | None = None
    study_id: int = 0
