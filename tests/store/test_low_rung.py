"""Low-fidelity search runs in the store (issue 12.4, multi-fidelity): the rung lives in the run's config
(role `low_rung`, `fidelity`), survives export/import, is never the study's best, and its fractional
charge adds up as experiments, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

from aar.budget import describe_lines
from aar.graph.nodes import LOW_RUNG, fidelity_of
from aar.researchers.types import Fidelity
from aar.store import Store, best_result, charge_budget, open_store
from aar.store.queries import budget_lines
from aar.store.transfer import export_jsonl, import_study, read_export

from .factories import make_experiment, make_study, run_to_ok
from .test_transfer import imported_experiments

RUNG = Fidelity(rung=0, seeds=2, w2s_fraction=1 / 3)


def test_a_low_rung_run_keeps_its_fidelity_is_never_best_and_moves(store: Store, tmp_path: Path) -> None:
    with store.session() as session:
        study = make_study(session, "mf", experiments=40.0)
        assert study.id is not None
        full = run_to_ok(session, make_experiment(session, study, config={"role": "search"}), 0.4)
        rung = make_experiment(session, study, config={"role": LOW_RUNG, "fidelity": RUNG.model_dump()})
        run_to_ok(session, rung, 0.9)  # a lucky low rung: higher, and still not the best
        for i, amount in enumerate([1.0] * 12 + [RUNG.cost(3)] * 2):
            charge_budget(session=session, study_id=study.id, kind="experiments", amount=amount, key=f"e{i}")
        best = best_result(session=session, study_id=study.id)
        assert best is not None and best.experiment_id == full.id
        lines = budget_lines(session=session, study=study)
        study_id = study.id
    assert "experiments: 12.4 used of 40, 27.6 left" in describe_lines(lines, now=0.0)
    with store.session() as session:
        (again,) = [e for e in imported_experiments(session, study_id) if e.id == rung.id]
        assert fidelity_of(again) == RUNG and fidelity_of(full) is None
        out = io.StringIO()
        export_jsonl(session=session, artifacts=store.artifacts, study_id=study_id, out=out)
    path = tmp_path / "mf.jsonl"
    path.write_text(out.getvalue())
    other = open_store(url="sqlite://", results_dir=tmp_path / "other")
    with other.session() as session:
        moved = import_study(session=session, artifacts=other.artifacts, rows=read_export(path))
        fidelities = [fidelity_of(e) for e in imported_experiments(session, moved.id)]
        assert sorted(fidelities, key=str) == sorted([None, RUNG], key=str)
        moved_lines = describe_lines(budget_lines(session=session, study=moved), now=0.0)
        assert "experiments: 12.4 used of 40, 27.6 left" in moved_lines
    other.close()
