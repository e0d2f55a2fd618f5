"""The findings board as the report and dashboard show it: which researcher of a team found what."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from aar.store.findings import list_findings
from aar.store.models import ResearchFinding


@dataclass(frozen=True)
class ResearcherRow:
    """One researcher's share of a study: what it tried, ran, repeated, and its best Δ vs naive."""

    researcher: str
    hypotheses: int
    runs: int
    duplicates: int
    helped: int  # findings whose paired Δ vs naive is "better"
    best_delta: float | None
    best_method: str
    found_winner: bool  # its hypothesis holds the study's winning run


@dataclass(frozen=True)
class TeamView:
    """A study's findings board (when more than one researcher posted to it), per researcher."""

    rows: list[ResearcherRow]
    board: list[ResearchFinding]

    @property
    def duplicates(self) -> int:
        """Proposals answered by an identical experiment already run (not run again)."""
        return sum(r.duplicates for r in self.rows)


def team_view(*, session: Session, study_id: int, winner_hypothesis: int | None) -> TeamView | None:
    """The study's board per researcher; None when at most one researcher posted (a single-researcher
    study's report is unchanged)."""
    board = list_findings(session=session, study_id=study_id)
    names = list(dict.fromkeys(f.researcher for f in board))
    if len(names) < 2:
        return None
    return TeamView([_row(name, board, winner_hypothesis) for name in names], board)


def _row(name: str, board: list[ResearchFinding], winner_hypothesis: int | None) -> ResearcherRow:
    mine = [f for f in board if f.researcher == name]
    measured = [f for f in mine if f.delta is not None and not f.duplicate]
    top = max(measured, key=lambda f: f.delta or 0.0, default=None)
    return ResearcherRow(
        researcher=name,
        hypotheses=len(mine),
        runs=sum(not f.duplicate for f in mine),
        duplicates=sum(f.duplicate for f in mine),
        helped=sum(f.verdict == "better" for f in measured),
        best_delta=top.delta if top else None,
        best_method=top.method if top else "",
        found_winner=winner_hypothesis is not None
        and any(f.hypothesis_id == winner_hypothesis and not f.duplicate for f in mine),
    )
