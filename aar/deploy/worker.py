"""`aar worker`: take queued studies from the store, oldest first, and run each as `aar run` would.

Several workers may share one store (PostgreSQL): a study is claimed by one conditional UPDATE, so each
runs once. While idle, SIGTERM or Ctrl-C ends the worker at once (exit 0). While a study runs, the
study's own handling applies (`aar.graph.control`): Ctrl-C stops it after the running job, then the
worker exits; SIGTERM kills the running job, marks the study stopped (`aar resume` continues it) and the worker
exits 143.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from aar.config import Settings
from aar.deploy.queue import Claimed, claim
from aar.errors import AarError
from aar.graph.control import CTRL_C
from aar.graph.runtime import Display
from aar.graph.study import StudyOutcome, run_study
from aar.store import Store

log = logging.getLogger(__name__)
POLL_S = 5.0


@dataclass
class Worker:
    """Runs queued studies one after another until stopped (or, with `once`, until the queue is empty)."""

    settings: Settings
    store: Store
    display: Display
    say: Callable[[str], object]
    poll_s: float = POLL_S
    stopping: threading.Event = field(default_factory=threading.Event)
    outcomes: list[StudyOutcome] = field(default_factory=list)

    def run(self, *, once: bool = False) -> list[StudyOutcome]:
        """Claim and run studies until SIGTERM/Ctrl-C while idle, or (`once`) an empty queue."""
        with self._signals():
            while not self.stopping.is_set():
                if self.run_next():
                    continue
                if once:
                    break
                self.stopping.wait(self.poll_s)
        return self.outcomes

    def run_next(self) -> bool:
        """Run the oldest queued study, if any; False when the queue is empty."""
        claimed = claim(self.store)
        if claimed is None:
            return False
        self.say(f"worker: running study {claimed.config.name} (id {claimed.study_id})")
        outcome = self._run(claimed)
        if outcome is not None:
            self.outcomes.append(outcome)
            self.say(f"worker: study {outcome.name} {outcome.status}: {outcome.stop_reason}")
            if outcome.stop_reason == CTRL_C:  # the person at the terminal stopped it: the worker stops too
                self.stopping.set()
        return True

    def _run(self, claimed: Claimed) -> StudyOutcome | None:
        """One study; its failure (recorded on it by the study loop) does not end the worker."""
        try:
            return run_study(
                claimed.config,
                self.settings,
                self.store,
                claimed.study_id,
                display=self.display,
                announce=self.say,
            )
        except AarError as exc:
            self.say(f"worker: study {claimed.config.name} failed: {exc}")
        except Exception:  # a bug in one study must not stop the queue; the study is marked failed
            log.exception("worker: study %s failed", claimed.config.name)
        return None

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT stop an idle worker (a running study installs its own handlers meanwhile)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, frame: FrameType | None) -> None:
            self.say(f"worker: {signal.Signals(signum).name}; stopping")
            self.stopping.set()

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
