"""bin/test runs pytest-xdist with `--dist loadfile` and tests/conftest.py's scheduler: one worker takes a
whole module (its module-scoped fixtures are built once, its tests keep their order), and modules that
read one session-scoped study go to the same worker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import SAME_WORKER, xdist_scope


def test_a_module_is_one_unit_and_modules_are_different_units() -> None:
    a, b = "tests/w2s/test_jobs.py::test_one", "tests/w2s/test_jobs.py::test_two[docker]"
    assert xdist_scope(a) == xdist_scope(b) == "tests/w2s/test_jobs.py"
    assert xdist_scope("tests/w2s/test_embed.py::test_one") != xdist_scope(a)


def test_modules_sharing_a_study_are_one_unit() -> None:
    assert SAME_WORKER
    for module, host in SAME_WORKER.items():
        assert Path(module).is_file() and Path(host).is_file()
        assert xdist_scope(f"{module}::test_x") == xdist_scope(f"{host}::test_y")


@pytest.mark.slow
def test_a_real_xdist_run_keeps_modules_and_shared_study_modules_on_one_worker(tmp_path: Path) -> None:
    """Two workers and four modules laid out like the real ones: every module on one worker, and the three
    that share a study (`SAME_WORKER`) on the same one."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_xdist_make_scheduler  # noqa\n")
    shared = {*SAME_WORKER, *SAME_WORKER.values()}
    for module in [*sorted(shared), "tests/w2s/test_other.py"]:
        path = tmp_path / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(f"""
            import os, time
            import pytest
            @pytest.mark.parametrize("i", range(3))
            def test_it(i):
                time.sleep(0.3)
                with open({str(tmp_path / "seen.txt")!r}, "a") as fh:
                    fh.write("{module} " + os.environ["PYTEST_XDIST_WORKER"] + "\\n")
        """))  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile", "-q",
         "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1],
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    workers: dict[str, set[str]] = {}
    for line in (tmp_path / "seen.txt").read_text().splitlines():
        module, worker = line.split()
        workers.setdefault(module, set()).add(worker)
    assert len(workers) == 4 and all(len(w) == 1 for w in workers.values()), workers
    assert len({w for m in shared for w in workers[m]}) == 1, workers
