"""`aar report` and `aar serve` on the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aar.store import open_store
from tests.report.seed import seed_study


def _aar(*args: str, results: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "AAR_RESULTS_DIR": str(results), **env}
    environ.pop("AAR_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "aar", *args], capture_output=True, text=True,
                          env=environ, timeout=120)  # fmt: skip


def test_report_command(tmp_path: Path) -> None:
    results = tmp_path / "results"
    store = open_store(results_dir=results, url=f"sqlite:///{results / 'aar.db'}")
    seed_study(store)
    store.close()
    out = tmp_path / "r.md"
    done = _aar("report", "demo", "--format", "md", "--out", str(out), results=results)
    assert done.returncode == 0, done.stderr
    assert out.exists() and (tmp_path / "r_files" / "best_so_far.svg").exists()
    missing = _aar("report", "nope", results=results)
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1 and "no study named" in missing.stderr
    bad_format = _aar("report", "demo", "--format", "pdf", results=results)
    assert bad_format.returncode == 2 and "unknown report format" in bad_format.stderr


def test_serve_refuses_a_public_host_without_token(tmp_path: Path) -> None:
    done = _aar("serve", "--host", "0.0.0.0", results=tmp_path / "results", AAR_WEB_TOKEN="")
    assert done.returncode == 2
    assert "AAR_WEB_TOKEN" in done.stderr and len(done.stderr.strip().splitlines()) == 1
