"""Issue 9 item 9: bwrap on par with Docker (capped tmpfs, no nested user namespaces, seccomp) and jobs
that die with their host.

Every assertion is scoped to this test's own jobs (its marker, its host's owner tag, its container
label): other people run sandbox jobs on the same machine at the same time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aar.sandbox.base import Job, Sandbox, Status
from aar.sandbox.seccomp import AUDIT_ARCH, CLONE, CLONE3, DENIED, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS

EPERM, ENOSPC, ENOSYS, EROFS = 1, 28, 38, 30


def report(job: Job) -> dict[str, Any]:
    return json.loads((job.out_dir / "report.json").read_text())  # type: ignore[no-any-return]


# ---- the filter itself, run through a classic-BPF interpreter (no sandbox needed) ---------------------


def run_bpf(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """Evaluate a seccomp program on one call (only the opcodes a filter of ours may use)."""
    data = nr.to_bytes(4, "little") + arch.to_bytes(4, "little") + bytes(8) + arg0.to_bytes(8, "little")
    insns = [program[i : i + 8] for i in range(0, len(program), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = int.from_bytes(insns[pc][:2], "little"), insns[pc][2], insns[pc][3], 0
        k = int.from_bytes(insns[pc][4:], "little")
        if code == 0x20:  # ld [k]
            acc, pc = int.from_bytes(data[k : k + 4], "little"), pc + 1
        elif code == 0x06:  # ret k
            return k
        elif code in (0x15, 0x35, 0x45):  # jeq, jge, jset
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if hit else jf)
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.mark.parametrize("arch", sorted(AUDIT_ARCH))
def test_filter_decisions(arch: str) -> None:
    from aar.sandbox.seccomp import build_filter

    prog, audit, col = build_filter(arch), AUDIT_ARCH[arch], 0 if arch == "x86_64" else 1
    read, write = (0, 1) if arch == "x86_64" else (63, 64)
    for name, numbers in DENIED.items():
        if (nr := numbers[col]) is not None:
            assert run_bpf(prog, nr, audit) == RET_ERRNO | EPERM, name
    assert run_bpf(prog, CLONE3[col], audit) == RET_ERRNO | ENOSYS
    assert run_bpf(prog, CLONE[col], audit, arg0=0x10000000 | 17) == RET_ERRNO | EPERM  # CLONE_NEWUSER
    assert run_bpf(prog, CLONE[col], audit, arg0=0x40000000 | 17) == RET_ERRNO | EPERM  # CLONE_NEWNET
    thread_flags = 0x003D0F00  # what glibc passes for pthread_create
    assert run_bpf(prog, CLONE[col], audit, arg0=thread_flags) == RET_ALLOW
    assert run_bpf(prog, read, audit) == run_bpf(prog, write, audit) == RET_ALLOW
    assert run_bpf(prog, read, 0x40000003) == RET_KILL_PROCESS  # i386 or any other architecture
    if arch == "x86_64":
        assert run_bpf(prog, 0x40000000 | 1, audit) == RET_KILL_PROCESS  # x32 ABI


# ---- inside real sandboxes ----------------------------------------------------------------------------


def test_root_tmp_and_shm_are_capped(sandbox: Sandbox, make_job: Any) -> None:
    # Many 1 MB files: each stays under the per-file rlimit, so only a capped filesystem stops them.
    job = make_job(
        """
        def fill(folder):
            written = 0
            try:
                for i in range(64):
                    with open(os.path.join(folder, f"fill{i}"), "wb") as f:
                        f.write(b"x" * (1 << 20)); f.flush(); os.fsync(f.fileno())
                    written += 1
            except OSError as exc:
                return {"written": written, "errno": exc.errno}
            return {"written": written, "errno": None}
        for key, folder in (("root", "/"), ("tmp", "/tmp"), ("shm", "/dev/shm")):
            REPORT[key] = fill(folder)
        for folder in ("/tmp", "/dev/shm"):
            for name in os.listdir(folder):
                os.remove(os.path.join(folder, name))
        save()
        """,
        tmp_mb=8,
        shm_mb=4,
        memory_mb=512,
    )
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    got = report(job)
    assert got["root"]["written"] == 0 and got["root"]["errno"] in (EROFS, ENOSPC, EPERM, 13), got
    assert got["tmp"]["errno"] == ENOSPC and got["tmp"]["written"] <= 8, got  # 64 MB tried, 8 MB cap
    assert got["shm"]["errno"] == ENOSPC and got["shm"]["written"] <= 4, got
    again = make_job("save()")
    assert sandbox.run(again).status is Status.OK  # the host carries on


USERNS_PROBE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def errno_of(rc):
    return "ok" if rc == 0 else ctypes.get_errno()
REPORT["unshare_cli"] = subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode
REPORT["unshare_user"] = errno_of(libc.unshare(0x10000000))
pid = libc.syscall({clone}, 0x10000000 | 17, 0, 0, 0, 0)  # clone(CLONE_NEWUSER | SIGCHLD)
if pid == 0:
    os._exit(0)
REPORT["clone_newuser"] = ctypes.get_errno() if pid < 0 else "ok"
if pid > 0:
    os.waitpid(pid, 0)
"""


def _clone_nr() -> int:
    return 56 if os.uname().machine == "x86_64" else 220


def test_no_nested_user_namespaces(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(USERNS_PROBE.format(clone=_clone_nr()) + "save()\n")
    result = sandbox.run(job)
    assert result.status is Status.OK, result
    got = report(job)
    assert got["unshare_cli"] != 0, got
    assert got["unshare_user"] == EPERM and got["clone_newuser"] == EPERM, got


@pytest.mark.bwrap
def test_bwrap_seccomp_denies_ptrace_mount_keyring_and_bpf(bwrap_sandbox: Sandbox, make_job: Any) -> None:
    job = make_job("""
        import ctypes, threading
        libc = ctypes.CDLL(None, use_errno=True)
        def errno_of(rc):
            return "ok" if rc == 0 else ctypes.get_errno()
        child = os.fork()
        if child == 0:
            time.sleep(30); os._exit(0)
        REPORT["ptrace_attach"] = errno_of(libc.ptrace(16, child, 0, 0))  # PTRACE_ATTACH own child
        os.kill(child, 9); os.waitpid(child, 0)
        os.makedirs("/tmp/m", exist_ok=True)
        REPORT["mount"] = errno_of(libc.mount(b"none", b"/tmp/m", b"tmpfs", 0, None))
        keyctl, bpf = (250, 321) if os.uname().machine == "x86_64" else (219, 280)
        REPORT["keyctl"] = errno_of(libc.syscall(keyctl, 0, 0, 0, 0, 0))
        REPORT["bpf"] = errno_of(libc.syscall(bpf, 0, 0, 0))
        box = []
        t = threading.Thread(target=lambda: box.append(1)); t.start(); t.join()  # clone3 -> clone fallback
        REPORT["thread"] = box
        REPORT["subprocess"] = subprocess.run(["true"]).returncode
        status = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)
        REPORT["seccomp"] = status["Seccomp"].strip()
        save()
    """)
    result = bwrap_sandbox.run(job)
    assert result.status is Status.OK, result
    got = report(job)
    assert {k: got[k] for k in ("ptrace_attach", "mount", "keyctl", "bpf")} == dict.fromkeys(
        ("ptrace_attach", "mount", "keyctl", "bpf"), EPERM
    ), got
    assert got["thread"] == [1] and got["subprocess"] == 0 and got["seccomp"] == "2", got


# ---- a host process SIGKILLed mid-job ------------------------------------------------------------------

BWRAP_HOST = """
import sys
from pathlib import Path
from aar.sandbox.bwrap import BwrapSandbox
from aar.sandbox.base import Job
root, staging, marker = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
command = ("python", "/code/runner.py", marker)
BwrapSandbox(staging_root=staging).run(Job(root / "code", root / "data", root / "out", command=command, timeout_s=600))
"""

SLEEPER = """
import subprocess
subprocess.Popen(["python", "-c", "import time; time.sleep(600)", sys.argv[1]])  # a grandchild too
open("/out/started", "w").close()
time.sleep(600)
"""


def marked_pids(marker: str) -> list[int]:
    """Host pids whose command line carries `marker` (this test's job processes, nobody else's)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in cmdline and state != "Z":
                pids.append(int(entry.name))
    return pids


def wait_for(condition: Callable[[], Any], timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def cgroups_of(owner_pid: int) -> list[Path]:
    roots = [Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/pids")]
    return [p for r in roots if r.is_dir() for p in r.glob(f"aar-{owner_pid}-*")]


@pytest.mark.bwrap
def test_bwrap_job_dies_with_a_sigkilled_host_and_the_next_start_cleans_up(
    bwrap_sandbox: Sandbox, make_job: Any, workdir: Path, request: pytest.FixtureRequest
) -> None:
    from aar.sandbox.bwrap import BwrapSandbox, remove_stale

    marker = f"aar-parity-{uuid.uuid4().hex}"
    job, staging = make_job(SLEEPER), workdir / "staging"
    args = [str(job.code_dir.parent), str(staging), marker]
    host = subprocess.Popen([sys.executable, "-c", textwrap.dedent(BWRAP_HOST), *args])
    request.addfinalizer(lambda: remove_stale(staging))  # even when an assertion below fails
    try:
        started = wait_for(
            lambda: list(staging.glob(f"{host.pid}-*/started")) and len(marked_pids(marker)) >= 2
        )
        assert started, "the job never started"
    finally:
        os.kill(host.pid, signal.SIGKILL)
        host.wait()
    assert wait_for(lambda: marked_pids(marker) == [], timeout_s=5), marked_pids(marker)
    left = [p for p in staging.iterdir() if p.name.startswith(f"{host.pid}-")]
    assert left, "the killed host left no staging folder behind: nothing to clean up"
    mounted = [p for p in left if os.path.ismount(p)]
    groups = cgroups_of(host.pid)
    if os.geteuid() == 0:  # root: a tmpfs /out and a cgroup per job
        assert mounted and groups, (mounted, groups)
    BwrapSandbox(staging_root=staging)
    assert [p for p in staging.iterdir() if p.name.startswith(f"{host.pid}-")] == []
    assert not any(os.path.ismount(p) for p in mounted)
    assert cgroups_of(host.pid) == []
    assert (staging / "helpers" / "seccomp.bpf").is_file()  # not mistaken for a stale folder


DOCKER_HOST = """
import sys
from pathlib import Path
from aar.sandbox.docker import DockerSandbox
from aar.sandbox.base import Job
root, staging, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
DockerSandbox(staging_root=staging).run(Job(root / "code", root / "data", root / "out", name=name, timeout_s=2))
"""


def container_state(name: str) -> list[str]:
    """`State.Status` of the containers of this test's job (its `org.aar.job` label)."""
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=org.aar.job={name}"], capture_output=True, text=True
    ).stdout.split()
    if not ids:
        return []
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Status}}", *ids], capture_output=True, text=True
    )
    return out.stdout.split()


@pytest.mark.docker
def test_docker_job_of_a_dead_host_stops_by_its_inner_timeout(
    docker_sandbox: Sandbox, make_job: Any, workdir: Path, request: pytest.FixtureRequest
) -> None:
    from aar.sandbox.docker import INNER_GRACE_S, DockerSandbox
    from aar.sandbox.finish import remove_stale_staging

    name = f"parity-{uuid.uuid4().hex[:10]}"
    job = make_job("time.sleep(600)")
    args = [str(job.code_dir.parent), str(workdir / "staging"), name]
    host = subprocess.Popen([sys.executable, "-c", textwrap.dedent(DOCKER_HOST), *args])
    request.addfinalizer(lambda: remove_stale_staging(workdir / "staging"))
    request.addfinalizer(lambda: _remove_job_containers(name))  # finalizers run last-in first-out
    try:
        assert wait_for(lambda: container_state(name) == ["running"]), "the job container never started"
    finally:
        os.kill(host.pid, signal.SIGKILL)
        host.wait()
    started = time.monotonic()
    # Stopped: exited by its inner timeout, or already removed as a dead host's leftover by a sandbox that
    # another test (a parallel xdist worker, a CLI study) started meanwhile. Alone, only the timeout
    # stops it: with no inner timeout it would run 600 s and this wait would fail.
    stopped = wait_for(lambda: container_state(name) in (["exited"], []), timeout_s=2 + INNER_GRACE_S + 20)
    assert stopped, f"still {container_state(name)} {time.monotonic() - started:.0f} s after its host died"
    DockerSandbox(staging_root=workdir / "staging")
    assert container_state(name) == []  # the next start removed it


def _remove_job_containers(name: str) -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=org.aar.job={name}"], capture_output=True, text=True
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


def test_stale_staging_only_touches_folders_of_dead_owners(tmp_path: Path) -> None:
    from aar.sandbox.finish import owner_tag, remove_stale_staging

    dead = tmp_path / "4194999-123-0123456789ab"  # above any pid_max: that host process is gone
    live = tmp_path / f"{owner_tag()}-0123456789ab"
    others = [tmp_path / "helpers", tmp_path / "4194999-123-notahexuuid!", tmp_path / "4194999-0123456789ab"]
    for path in [dead, live, *others]:
        (path / "sub").mkdir(parents=True)
    assert remove_stale_staging(tmp_path) == 1
    assert not dead.exists() and live.exists() and all(p.exists() for p in others)
