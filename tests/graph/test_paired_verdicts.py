"""analyze's verdicts come from the stored results, paired over seeds and examples (issue 12)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from aar.config import REPO_ROOT
from aar.graph import nodes
from aar.recording import ensure_study, record_result
from aar.store import Store
from aar.w2s.stats import paired_comparison
from tests.w2s.simulate import as_result, simulate

NAIVE = REPO_ROOT / "experiment_templates" / "methods" / "naive.py"


def test_verdict_vs_naive_is_the_paired_seeds_by_examples_comparison(store: Store) -> None:
    a, b = simulate(np.random.default_rng(21), 300, 5)
    ra, rb = as_result(a, method="aux_conf"), as_result(b, method="naive")
    study = ensure_study(store, name="paired", goal="g", task="t", pair="a→b")
    ids = [record_result(store, study_id=study, result=r, method_path=NAIVE) for r in (ra, rb)]
    oa, ob = (nodes.outcome_from(r, i, None, "") for r, i in zip((ra, rb), ids, strict=True))
    rt = SimpleNamespace(store=store)
    verdict = nodes._paired(rt, oa, ob)  # type: ignore[arg-type]
    assert verdict == ra.compare(rb).describe()
    seeds_only = paired_comparison(oa.dev_pgr_by_seed, ob.dev_pgr_by_seed).describe()
    assert verdict != seeds_only  # same Δ, another interval: the examples' noise is in it
    assert "5 wins" in verdict or "4 wins" in verdict
