"""4 researchers sharing findings in one study vs 4 independent studies of a quarter budget each.

    python bench/scale/researchers.py --budget 24 --researchers 4

Both sides run the builtin researcher on the same task, pair, splits and seeds (probe template,
static64→MiniLM-L6, Rotten Tomatoes), with the same total search budget. The shared side is one study
(`--researchers 4`): one hypothesis tree, one findings board, identical experiments run once. The
independent side is four one-researcher studies of budget/4 each, each in its own store (so no study sees
another's findings as priors), as four people running aar on the same question would. Reported: the best
sealed-test PGR of each side (the finalists' test scores) and the duplicate experiments (same method code
and hyperparameters run more than once, counted across the side's studies). Writes bench/scale/researchers.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from aar.config import Settings, StudyConfig
from aar.graph.nodes import experiment_key
from aar.graph.study import start_study
from aar.report.gather import gather
from aar.store import Store, list_experiments, open_store
from aar.store.findings import list_findings

HERE = Path(__file__).resolve().parent
SIZES = "weak_train=200,w2s_train=800,dev=200,test=400"


def study(name: str, budget: int, researchers: int, args: argparse.Namespace) -> StudyConfig:
    """One study of `budget` search experiments (plus the finalist checks' reserve)."""
    finalists = 1
    return StudyConfig(
        name=name, goal="raise PGR", sizes=args.sizes, seeds=args.seeds, per_round=args.per_round,
        researchers=researchers, finalists=finalists, max_experiments=budget + 2 * finalists,
        sandbox="local", unsafe_local=True, parallel=args.parallel, deadline=time.time() + args.deadline_s,
    )  # fmt: skip


def tally(store: Store, study_id: int) -> dict[str, Any]:
    """A study's search runs (their identities), its best sealed-test PGR and its board's duplicates."""
    with store.session() as session:
        rows = list_experiments(session=session, study_id=study_id)
        board = list_findings(session=session, study_id=study_id)
    tests = [t.pgr for t in gather(store, study_id).tests if not t.reference and t.pgr is not None]
    keys = [
        (e.method_sha256 or "", experiment_key("", e.config.get("hparams") or {})[1])
        for e in rows
        if e.config.get("role") == "search"
    ]
    return {
        "keys": keys,
        "best_test_pgr": max(tests, default=None),
        "shared": sum(f.duplicate for f in board),
    }


def run_side(name: str, configs: list[StudyConfig], cache: Path) -> dict[str, Any]:
    """Run `configs`, each in its own store; sum up their runs, duplicates and best sealed-test PGR."""
    keys: list[tuple[str, str]] = []
    best: list[float] = []
    shared = 0
    started = time.monotonic()
    for config in configs:
        with tempfile.TemporaryDirectory(prefix=f"aar-bench-{name}-") as tmp:
            settings = Settings(results_dir=Path(tmp), cache=cache)
            store = open_store(settings)
            try:
                outcome = start_study(config, settings, store, display=lambda node, message: None)
                got = tally(store, outcome.study_id)
            finally:
                store.close()
        keys += got["keys"]
        shared += got["shared"]
        if got["best_test_pgr"] is not None:
            best.append(got["best_test_pgr"])
    return {
        "studies": len(configs),
        "search_runs": len(keys),
        "duplicate_runs": len(keys) - len(set(keys)),  # identical experiments run more than once
        "duplicates_shared_not_run": shared,
        "best_test_pgr": round(max(best), 4) if best else None,
        "wall_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=24, help="search experiments per side")
    parser.add_argument("--researchers", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--per-round", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--sizes", default=SIZES)
    parser.add_argument("--deadline-s", type=float, default=3 * 3600)
    args = parser.parse_args()
    n = args.researchers
    cache = Path(os.environ.get("AAR_CACHE") or tempfile.mkdtemp(prefix="aar-bench-cache-"))
    shared = run_side("shared", [study("shared", args.budget, n, args)], cache)
    alone = run_side("independent", [study(f"alone{i}", args.budget // n, 1, args) for i in range(n)], cache)
    out = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "budget": args.budget, "researchers": n,
        "seeds": args.seeds, "sizes": args.sizes, "cores": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 1),
        "shared": shared, "independent": alone,
    }  # fmt: skip
    write_report(out)
    print(json.dumps(out, indent=1))


def write_report(out: dict[str, Any]) -> None:
    s, a = out["shared"], out["independent"]
    text = (
        f"# {out['researchers']} researchers sharing findings vs {out['researchers']} independent studies\n\n"
        "See the docstring of `researchers.py` for the setup. Command:\n\n"
        f"    python bench/scale/researchers.py --budget {out['budget']} --researchers {out['researchers']}\n\n"
        "Target (issue 13): best sealed-test PGR at least as high with fewer duplicate experiments.\n\n"
        f"Last run ({out['date']}): shared best test PGR {s['best_test_pgr']}, "
        f"{s['duplicate_runs']} duplicate runs ({s['duplicates_shared_not_run']} proposals answered by an earlier "
        f"identical run); independent best test PGR {a['best_test_pgr']}, {a['duplicate_runs']} duplicate runs.\n\n"
        f"```\n{json.dumps(out, indent=1)}\n```\n"
    )
    (HERE / "researchers.md").write_text(text)


if __name__ == "__main__":
    main()
