"""A running study's control: its heartbeat, `aar stop`, Ctrl-C and SIGTERM.

The study loop calls `check()` at safe points (between graph nodes, before each experiment launch); it
raises `StopRequested` once a stop was asked for, so the study stops after the running job and resumes
from its last checkpoint. A second Ctrl-C, or SIGTERM, stops at once: the running jobs are killed (they
are requeued by `aar resume`), the study is marked stopped and the process exits (130, or 143).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from aar.store import Store, StudyStatus
from aar.store.models import HEARTBEAT_S
from aar.store.states import beat, end_study_run

log = logging.getLogger(__name__)

CTRL_C = "stopped by the user (Ctrl-C)"
CTRL_C_TWICE = "stopped by the user (Ctrl-C twice: the running job was killed)"
SIGTERM = "stopped by SIGTERM (the running job was killed)"
ACKNOWLEDGE = "stopping after the running job; Ctrl-C again to kill it"
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
HARD_STOP_WAIT_S = 10.0


class StopRequested(Exception):
    """The study was asked to stop (Ctrl-C, `aar stop`); raised at a safe point, between jobs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StudyControl:
    """Beats the study's heartbeat in a thread and turns stop requests into `StopRequested` at safe points.

    Args:
        store: The study's store.
        study_id: The study this process runs.
        say: Shows one line to the person at the terminal.
        on_hard_stop: Runs (bounded in time) just before the process exits on a second Ctrl-C or SIGTERM,
            after the study was marked stopped: e.g. the `--notify` command.
        heartbeat_s: Seconds between heartbeats.
    """

    def __init__(
        self,
        store: Store,
        study_id: int,
        *,
        say: Callable[[str], object],
        on_hard_stop: Callable[[str], object] | None = None,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.store, self.study_id, self.say = store, study_id, say
        self.on_hard_stop = on_hard_stop
        self.heartbeat_s = heartbeat_s
        self.reason: str | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._beat_loop, name=f"heartbeat-{study_id}", daemon=True)
        self._previous: dict[int, Any] = {}
        self._sigints = 0

    def __enter__(self) -> StudyControl:
        self._thread.start()
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                signal.SIGINT: signal.signal(signal.SIGINT, self._on_sigint),
                signal.SIGTERM: signal.signal(signal.SIGTERM, self._on_sigterm),
            }
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._closed.set()
        self._thread.join(timeout=HARD_STOP_WAIT_S)

    def request(self, reason: str) -> None:
        """Stop at the next safe point (the first reason given wins)."""
        if self.reason is None:
            self.reason = reason

    def check(self) -> None:
        """A safe point: raise `StopRequested` if a stop was asked for here or by `aar stop`."""
        if self.reason is None:
            self._beat()
        if self.reason is not None:
            raise StopRequested(self.reason)

    def _beat(self) -> None:
        try:
            with self.store.session() as session:
                why = beat(session=session, study_id=self.study_id)
        except SQLAlchemyError as exc:  # a busy or unreachable database must not end the study
            log.warning("study %s: heartbeat not written: %s", self.study_id, exc)
            return
        if why is not None:
            self.request(why)

    def _beat_loop(self) -> None:
        while not self._closed.wait(self.heartbeat_s):
            self._beat()

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self._sigints += 1
        if self._sigints > 1:
            self.hard_stop(CTRL_C_TWICE, EXIT_SIGINT)
        self.request(CTRL_C)
        self.say(ACKNOWLEDGE)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.hard_stop(SIGTERM, EXIT_SIGTERM)

    def hard_stop(self, reason: str, code: int) -> None:
        """Kill the running jobs, mark the study stopped, run `on_hard_stop`, and exit with `code`."""
        kill_child_jobs()
        # In threads, bounded: the signal may have landed while this thread holds a database lock, and a
        # Docker engine may be slow to answer.
        remover = threading.Thread(target=kill_own_containers, daemon=True)
        worker = threading.Thread(target=self._record_hard_stop, args=(reason,), daemon=True)
        remover.start()
        worker.start()
        worker.join(timeout=HARD_STOP_WAIT_S)
        remover.join(timeout=HARD_STOP_WAIT_S)
        self.say(f"{reason}; resume with: aar resume {self.study_id}")
        os._exit(code)

    def _record_hard_stop(self, reason: str) -> None:
        try:
            with self.store.session() as session:
                end_study_run(
                    session=session, study_id=self.study_id, status=StudyStatus.STOPPED, stop_reason=reason
                )
        except SQLAlchemyError as exc:
            log.warning("study %s: could not record the stop: %s", self.study_id, exc)
        if self.on_hard_stop is not None:
            self.on_hard_stop(reason)


def kill_own_containers() -> int:
    """Kill and remove the sandbox containers this process started (jobs in Docker are no child processes).

    Only when this process used Docker (its sandbox module is loaded): a hard stop never imports it.
    """
    docker_sandbox: Any = sys.modules.get("aar.sandbox.docker")
    return 0 if docker_sandbox is None else int(docker_sandbox.remove_own())


def kill_child_jobs() -> list[int]:
    """SIGKILL this process's child processes and their process groups (jobs run in their own session)."""
    me, killed = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) != me:  # fields: state, ppid, pgrp, …
                continue
            pid, pgrp = int(stat.parent.name), int(fields[2])
            if pgrp == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed
