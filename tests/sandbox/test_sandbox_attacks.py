"""Attacks from inside the sandbox (issue 3, items 1-12 and 16): each asserts what must happen.

Every test runs once in Docker and once under bwrap (the `sandbox` fixture).
"""

from __future__ import annotations

import hashlib
import json
import resource
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from aar.sandbox.base import JOB_ENV, LOG_TAIL_BYTES, Job, Sandbox, Status


def report(job: Job) -> dict[str, Any]:
    return json.loads((job.out_dir / "report.json").read_text())  # type: ignore[no-any-return]


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def sandbox_processes() -> list[str]:
    """Host processes of the sandbox user (uid 65534), other than zombies."""
    out = subprocess.run(["ps", "-u", "65534", "-o", "stat=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip() and not line.strip().startswith("Z")]


def test_network_is_unreachable(sandbox: Sandbox, make_job: Any) -> None:
    # Targets stay on this machine even if isolation failed: a listener on the host's loopback, the
    # Docker bridge (the host's own address) and a name under .invalid (never resolvable). The real proof
    # is the last check: the sandbox has no interface but its own loopback, so nothing has a route out.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    job = make_job(f"""
        def connect(host, port):
            s = socket.socket(); s.settimeout(3); s.connect((host, port))
        attempt("outside", lambda: connect("127.0.0.1", {port}))
        attempt("bridge", lambda: connect("172.17.0.1", {port}))
        attempt("resolve", lambda: socket.getaddrinfo("aar-sandbox-check.invalid", 443))
        lines = open("/proc/net/dev").read().splitlines()[2:]
        REPORT["interfaces"] = sorted(line.split(":")[0].strip() for line in lines)
        save()
    """)
    result = sandbox.run(job)
    listener.close()
    assert result.status is Status.OK, result
    got = report(job)
    for name in ("outside", "bridge", "resolve"):
        assert got[name] != "ok", name
    assert got["interfaces"] == ["lo"]


def test_no_label_files_and_only_allowed_data(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job("""
        found, seen = [], 0
        for top in ("/",):
            for dirpath, dirnames, filenames in os.walk(top):
                if dirpath in ("/proc", "/sys", "/dev"):
                    dirnames[:] = []
                    continue
                seen += len(filenames)
                found += [os.path.join(dirpath, f) for f in filenames if "label" in f.lower()]
        REPORT["found"] = [f for f in found if "heldout" in f or f.startswith(("/data", "/tmp", "/out"))]
        REPORT["seen"] = seen
        walk = os.walk("/data")
        REPORT["data"] = sorted(os.path.relpath(os.path.join(d, f), "/data") for d, _, fs in walk for f in fs)
        REPORT["dev_keys"] = sorted(json.loads(open("/data/seed_0/dev.jsonl").readline()))
        save()
    """)
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    got = report(job)
    assert got["seen"] > 100  # the walk did run
    assert got["found"] == []
    assert got["data"] == ["config.json", "seed_0/dev.jsonl", "seed_0/eval.jsonl"]
    assert got["dev_keys"] == ["id", "text", "weak_p"]


def test_inputs_are_read_only(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job("""
        attempt("data", lambda: open("/data/config.json", "a").write("x"))
        attempt("data_new", lambda: open("/data/new.txt", "w").write("x"))
        attempt("code", lambda: open("/code/runner.py", "a").write("x"))
        attempt("data_rm", lambda: os.remove("/data/seed_0/dev.jsonl"))
        save()
    """)
    before = (tree_hash(job.code_dir), tree_hash(job.data_dir))
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    assert all(v != "ok" for v in report(job).values()), report(job)
    assert (tree_hash(job.code_dir), tree_hash(job.data_dir)) == before


def test_system_folders_are_read_only(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job("""
        for path in ("/evil", "/etc/evil", "/usr/evil", "/usr/bin/evil", "/etc/passwd", "/etc/hosts"):
            attempt(path, lambda: open(path, "a").write("x"))
        save()
    """)
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    assert all(v != "ok" for v in report(job).values()), report(job)
    assert not Path("/evil").exists() and not Path("/usr/evil").exists()


def test_fork_bomb_is_contained(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(
        """
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
        """,
        timeout_s=6,
        pids=64,
    )
    result = sandbox.run(job)
    assert result.status in (Status.TIMEOUT, Status.KILLED), result
    assert result.duration_s < 6 + 10
    started = time.monotonic()
    subprocess.run(["true"], check=True)  # the host still forks promptly
    assert time.monotonic() - started < 2
    assert sandbox_processes() == []


def test_memory_past_the_limit_is_oom(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(
        """
        chunks = []
        for _ in range(2048):
            chunks.append(bytearray(1 << 20))
            chunks[-1][::4096] = b"x" * len(chunks[-1][::4096])
        save()
        """,
        memory_mb=128,
    )
    result = sandbox.run(job)
    assert result.status is Status.OOM, result


def test_tmp_and_out_stop_at_their_caps(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(
        """
        def fill(path):
            written = 0
            try:
                with open(path, "wb") as f:
                    while written < (200 << 20):
                        f.write(b"x" * (1 << 20)); f.flush(); written += 1 << 20
            except OSError as exc:
                return {"written": written, "error": exc.errno}
            return {"written": written, "error": None}
        REPORT["tmp"] = fill("/tmp/fill")
        REPORT["out"] = fill("/out/fill")
        os.remove("/out/fill")
        save()
        """,
        tmp_mb=8,
        out_mb=8,
        memory_mb=256,
    )
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    got = report(job)
    for key in ("tmp", "out"):
        assert got[key]["error"] is not None, got
        assert got[key]["written"] <= 8 << 20, got
    assert sum(p.stat().st_size for p in job.out_dir.rglob("*")) < 8 << 20


def test_a_gigabyte_of_stdout_is_capped(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(
        """
        line = b"y" * (1 << 20 - 1) + b"\\n"
        for _ in range(1024):
            sys.stdout.buffer.write(line)
        sys.stdout.flush()
        """,
        timeout_s=120,
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    assert len(result.stdout) <= LOG_TAIL_BYTES + 100
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200_000  # KiB


def test_sleep_forever_times_out(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job("time.sleep(10_000)", timeout_s=3)
    result = sandbox.run(job)
    assert result.status is Status.TIMEOUT, result
    assert 3 <= result.duration_s < 3 + 10
    assert sandbox_processes() == []
    _assert_no_containers()


def test_background_processes_do_not_survive(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job("""
        subprocess.Popen(["sleep", "1000"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
        save()
    """)
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    time.sleep(0.5)
    assert sandbox_processes() == []


def test_no_privileges(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job("""
        import ctypes
        lines = open("/proc/self/status").read().splitlines()
        status = dict(line.split(":\\t", 1) for line in lines if ":\\t" in line)
        REPORT["cap_eff"] = status["CapEff"].strip()
        REPORT["no_new_privs"] = status["NoNewPrivs"].strip()
        REPORT["uid"] = os.getuid()
        os.makedirs("/tmp/mnt", exist_ok=True)
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.mount(b"none", b"/tmp/mnt", b"tmpfs", 0, None)
        REPORT["mount"] = "ok" if rc == 0 else ctypes.get_errno()
        attempt("setuid", lambda: os.setuid(0))
        save()
    """)
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    got = report(job)
    assert int(got["cap_eff"], 16) == 0
    assert got["no_new_privs"] == "1"
    assert got["uid"] != 0
    assert got["mount"] != "ok"
    assert got["setuid"] != "ok"  # EPERM in Docker; EINVAL under bwrap (uid 0 is not mapped)


def test_no_secrets_and_no_docker_socket(
    sandbox: Sandbox, make_job: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    job = make_job("""
        REPORT["env"] = dict(os.environ)
        try:
            REPORT["pid1_env"] = open("/proc/1/environ", "rb").read().decode(errors="replace")
        except OSError as exc:
            REPORT["pid1_env"] = str(exc)
        REPORT["sockets"] = [p for p in ("/var/run/docker.sock", "/run/docker.sock") if os.path.exists(p)]
        save()
    """)
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    got = report(job)
    assert "sk-test-secret" not in json.dumps(got)
    allowed = set(JOB_ENV) | {"PATH", "HOSTNAME", "PYTHONNOUSERSITE", "PYTHONPATH", "USER", "PWD", "LC_CTYPE"}
    assert set(got["env"]) <= allowed, set(got["env"]) - allowed
    assert got["sockets"] == []


def _assert_no_containers() -> None:
    from aar.sandbox.docker import LABEL

    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={LABEL}"], capture_output=True, text=True, check=False
    )
    assert out.stdout.strip() == ""
