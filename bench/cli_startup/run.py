"""Benchmark how fast `aar` refuses a user error: wall and CPU time, and what it imported.

Each case runs the real `aar` entry point in a fresh interpreter (median of several runs) and checks it
exits 2; the import count and any heavy package (torch, transformers, LangGraph, SQLAlchemy, ...) come
from `sys.modules` at exit. Target (issue 11): every user error refused in < 1 s, nothing heavy imported.
Prints a Markdown table.

    python bench/cli_startup/run.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.0
HEAVY = (
    "torch",
    "transformers",
    "langgraph",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "numpy",
    "scipy",
    "sklearn",
)
# Runs `aar` as its console script does, then reports what was imported (an atexit hook: main() exits).
PROBE = """
import atexit, json, sys
heavy = {heavy!r}
def _report():
    names = {{m.split(".")[0] for m in sys.modules}}
    print(json.dumps({{"modules": len(sys.modules), "heavy": sorted(names & set(heavy))}}), file=sys.stderr)
atexit.register(_report)
sys.argv = ["aar", *{args!r}]
from aar.cli import main
main()
"""


def cases(folder: Path) -> dict[str, list[str]]:
    """The user errors timed: a negative budget, an unknown --set key, a binary data file, and more."""
    binary = folder / "binary.csv"
    binary.write_bytes(b"text,label\nok,1\n\xff\xfe\x00bad,0\n")
    return {
        "aar run --max-experiments -3": ["run", "--max-experiments", "-3"],
        "aar run --max-experiments 3 (too small)": ["run", "--max-experiments", "3"],
        "aar run --sandbox dockr": ["run", "--sandbox", "dockr"],
        "aar exp run --set nosuchkey=1": ["exp", "run", "--method", "naive", "--set", "nosuchkey=1"],
        "aar exp run --task custom:binary.csv": [
            "exp",
            "run",
            "--method",
            "naive",
            "--task",
            f"custom:{binary}",
        ],
        "aar resume x --deadline 0s": ["resume", "x", "--deadline", "0s"],
    }


def measure(args: list[str], folder: Path) -> tuple[float, float, dict]:
    """One run: wall seconds, CPU seconds (user + system of the child), and the probe's import report."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY, args=args)],
        capture_output=True, text=True, timeout=120, cwd=folder,
        env={"AAR_RESULTS_DIR": str(folder / "results"), "PATH": "/usr/bin:/bin", "HOME": str(folder)},
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 2:
        raise SystemExit(f"aar {' '.join(args)} exited {out.returncode}, not 2:\n{out.stderr[-2000:]}")
    return wall, cpu, json.loads(out.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    print("| user error | wall (median) | CPU (median) | modules | heavy imported | < 1 s |")
    print("| --- | ---: | ---: | ---: | --- | :---: |")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, args in cases(folder).items():
            runs = [measure(args, folder) for _ in range(repeat)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            report = runs[-1][2]
            heavy = ", ".join(report["heavy"]) or "none"
            ok = "yes" if wall < TARGET_S else "no"
            print(f"| `{name}` | {wall:.2f} s | {cpu:.2f} s | {report['modules']} | {heavy} | {ok} |")


if __name__ == "__main__":
    main()
