"""The report flags a winner whose comparisons rest on fewer than 3 seeds (issue 9: verdicts need 3; issue 12: 5)."""

from __future__ import annotations

from aar.report.gather import gather
from aar.store import Store
from tests.report.seed import Seeded


def test_a_two_seed_winner_is_flagged_inconclusive(store: Store, seeded: Seeded) -> None:
    data = gather(store, seeded.name)
    assert data.winner is not None and data.winner.method == "aux_conf_tuned" and data.winner.pgr.n == 2
    messages = [f.message for f in data.flags if f.subject == "method aux_conf_tuned"]
    assert "the best method's comparisons are inconclusive (2 seeds; ≥ 5 needed)" in messages
