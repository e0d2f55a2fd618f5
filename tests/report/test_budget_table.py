"""The report's budget table rounds as the terminal and `aar show` do (one formatter, one computation)."""

from __future__ import annotations

import re
from pathlib import Path

from aar.budget import describe_lines
from aar.report import write_report
from aar.store import Store, study_summary
from tests.report.seed import Seeded


def test_budget_table_matches_show(store: Store, seeded: Seeded, tmp_path: Path) -> None:
    html = write_report(store, seeded.study_id, out=tmp_path / "r.html").read_text()
    with store.session() as session:
        lines = study_summary(session=session, study_id=seeded.study_id).budget
    shown = {line.split(":")[0]: line for line in describe_lines(lines, now=0.0)}
    cell = r'<td class="n">([^<]*)</td>'
    usd = re.search(rf"<td>usd</td>{cell}{cell}{cell}", html)
    assert usd, html[html.find("budget") : html.find("budget") + 800]
    limit, used, left = usd.groups()
    assert (limit, used, left) == ("$5.00", "$0.01", "$4.99")
    assert shown["usd"] == f"usd: {used} used of {limit}, {left} left"  # what `aar show` prints
