"""Summarise measure.py's JSON lines: test PGR [CI] per row and task, and dev-CI coverage of test PGR.

python bench/methods/table.py bench/methods/rotten_tomatoes-5seeds.jsonl bench/methods/privacy_qa-5seeds.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any


def cell(value: float, lo: float, hi: float) -> str:
    if any(math.isnan(v) for v in (value, lo, hi)):
        return "n/a"
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


def key(row: dict[str, Any]) -> str:
    extra = " ".join(f"{k}={v}" for k, v in sorted(row["overrides"].items()))
    return f"`{row['method']}`{' ' + extra if extra else ''} ({row['calibration']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    tasks: dict[str, dict[str, dict[str, Any]]] = {}
    for path in args.files:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            tasks.setdefault(row["task"], {})[key(row)] = row
    names = list(tasks)
    print("| row | " + " | ".join(f"{t} test PGR [95% CI] | Δ vs naive | dev PGR [CI]" for t in names) + " |")
    print("| --- |" + " --- | --- | --- |" * len(names))
    labels = list(dict.fromkeys(k for t in names for k in tasks[t]))
    for label in labels:
        cells = []
        for t in names:
            r = tasks[t].get(label)
            if r is None:
                cells += ["—", "—", "—"]
                continue
            delta = r.get("vs_naive_test")
            cells += [
                cell(r["test_pgr"], *r["ci"]),
                cell(*delta) if delta else "",
                cell(r["dev_pgr"], *r["dev_ci"]) if "dev_ci" in r else f"{r['dev_pgr']:.2f}",
            ]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for t in names:
        rows = [r for r in tasks[t].values() if r.get("test_outside_dev_ci_by") is not None]
        inside = [r for r in rows if r["test_outside_dev_ci_by"] == 0]
        misses = sorted(r["test_outside_dev_ci_by"] for r in rows if r["test_outside_dev_ci_by"] > 0)
        accs = next(iter(tasks[t].values()))
        print(
            f"\n{t}: test PGR inside its dev CI on {len(inside)}/{len(rows)} rows; misses by {misses}; "
            f"weak {accs['weak_acc']:.3f}, ceiling {accs['ceiling_acc']:.3f} (test, first row); "
            f"{sum(r['seconds'] for r in tasks[t].values())} s in all"
        )


if __name__ == "__main__":
    main()
