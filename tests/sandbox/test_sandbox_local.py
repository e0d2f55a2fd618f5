"""LocalSandbox refuses untrusted code, and `select_sandbox` honours --sandbox and AAR_SANDBOX."""

from __future__ import annotations

from typing import Any

import pytest

from aar.errors import UserError
from aar.sandbox import select_sandbox
from aar.sandbox.base import Status
from aar.sandbox.local import LocalSandbox, UnsafeLocalRefused

SCRIPT = """
import argparse
args = argparse.ArgumentParser(); args.add_argument("--data"); args.add_argument("--out")
a = args.parse_args()
open(a.out + "/hello.txt", "w").write(open(a.data + "/config.json").read())
"""


def test_refuses_untrusted_code_and_says_why(make_job: Any) -> None:
    with pytest.raises(UnsafeLocalRefused, match="--unsafe-local"):
        LocalSandbox().run(make_job(SCRIPT))


@pytest.mark.parametrize("kwargs", [{"unsafe_local": True}, {}])
def test_runs_trusted_or_explicitly_unsafe_jobs(make_job: Any, kwargs: dict[str, Any]) -> None:
    job = make_job(SCRIPT, trusted=not kwargs)
    result = LocalSandbox(**kwargs).run(job)
    assert result.status is Status.OK, result
    assert "template" in (job.out_dir / "hello.txt").read_text()


def test_timeout_and_failure(make_job: Any) -> None:
    assert LocalSandbox().run(make_job("time.sleep(60)", trusted=True, timeout_s=1)).status is Status.TIMEOUT
    failed = LocalSandbox().run(make_job("raise SystemExit(3)", trusted=True))
    assert failed.status is Status.FAILED and failed.exit_code == 3


def test_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    assert select_sandbox("local").kind == "local"
    monkeypatch.setenv("AAR_SANDBOX", "local")
    choice = select_sandbox(None)
    assert (choice.kind, choice.why) == ("local", "AAR_SANDBOX")
    with pytest.raises(UserError, match="unknown sandbox"):
        select_sandbox("vm")
