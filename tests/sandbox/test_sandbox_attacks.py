"""Attacks from inside the sandbox (issue 3, items 1-12 and 16): each asserts what must happen.

Every test runs once in Docker and once under bwrap (the `sandbox` fixture).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import socket
import subprocess
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from aar.sandbox.base import JOB_ENV, LOG_TAIL_BYTES, Job, Sandbox, Status
from aar.sandbox.gpus import cuda_env


def report(job: Job) -> dict[str, Any]:
    return json.loads((job.out_dir / "report.json").read_text())  # type: ignore[no-any-return]


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def tagged(make_job: Any, script: str, **limits: Any) -> tuple[Job, str]:
    """A job named by a unique tag that is also the last word of its command line, so every process it
    forks or execs with `TAG` carries it: the checks below see this test's own processes and container,
    never another job running on the machine."""
    tag = f"aar-test-{uuid.uuid4().hex[:12]}"
    job = make_job("TAG = sys.argv[-1]\n" + textwrap.dedent(script), **limits)
    return dataclasses.replace(job, name=tag, command=(*job.command, tag)), tag


def sandbox_processes(tag: str) -> list[str]:
    """Host processes of the sandbox user (uid 65534) whose command line holds `tag`, other than zombies."""
    out = subprocess.run(["ps", "-u", "65534", "-o", "stat=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if tag in line and not line.strip().startswith("Z")]


def rss_kib() -> int:
    """This process's resident memory now (not `ru_maxrss`, which is the lifetime peak)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def peak_rss_growth_kib(run: Callable[[], Any]) -> tuple[Any, int]:
    """`run()`'s result and how far this process's resident memory rose above its start while it ran."""
    start = peak = rss_kib()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, rss_kib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = run()
    finally:
        done.set()
        sampler.join()
    return result, max(peak, rss_kib()) - start


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
    job, tag = tagged(
        make_job,
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
    assert sandbox_processes(tag) == []


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
        line = b"y" * ((1 << 20) - 1) + b"\\n"  # 1 MiB a line, 1 GiB in all
        for _ in range(1024):
            sys.stdout.buffer.write(line)
        sys.stdout.flush()
        """,
        timeout_s=120,
    )
    result, growth_kib = peak_rss_growth_kib(lambda: sandbox.run(job))
    assert result.status is Status.OK, result
    assert "earlier output dropped" in result.stdout and len(result.stdout) <= LOG_TAIL_BYTES + 100
    assert growth_kib < 200_000, growth_kib  # the host kept a tail, not the gigabyte


def test_sleep_forever_times_out(sandbox: Sandbox, make_job: Any) -> None:
    job, tag = tagged(make_job, "time.sleep(10_000)", timeout_s=5)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(sandbox.run, job)
        seen = _wait_for(lambda: sandbox_processes(tag) != [], timeout_s=5)
        result = running.result()
    assert seen, "the check never saw the job's own process while it ran"
    assert result.status is Status.TIMEOUT, result
    assert 5 <= result.duration_s < 5 + 10
    assert sandbox_processes(tag) == []
    assert _containers(job.name) == []


def test_background_processes_do_not_survive(sandbox: Sandbox, make_job: Any) -> None:
    job, tag = tagged(
        make_job,
        """
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", TAG], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
        time.sleep(0.5)
        cmdlines = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            attempt("read", lambda: cmdlines.append(open(f"/proc/{pid}/cmdline", "rb").read()))
        REPORT["mine"] = sum(TAG.encode() in line for line in cmdlines)
        save()
        """,
    )
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    assert report(job)["mine"] >= 3  # the runner, its daemon and the exec'd sleeper, each with the tag
    time.sleep(0.5)
    assert sandbox_processes(tag) == []


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
    allowed |= set(cuda_env([]))  # what aar itself tells a job about its GPUs (none here)
    assert set(got["env"]) <= allowed, set(got["env"]) - allowed
    assert got["sockets"] == []


def _containers(job_name: str) -> list[str]:
    """Containers (running or not) of the job named `job_name`, none of anyone else's."""
    if shutil.which("docker") is None:
        return []
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=org.aar.job={job_name}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.split()


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
