"""Progress of the long phases (baselines, embedding, each job, finalize, slow LLM calls).

Library code never prints: it opens a phase on the `Progress` it was handed, and the CLI decides how it
shows: rich progress bars on a terminal (`RichProgress`), plain timestamped lines when the output is
piped or logged (`PlainProgress`), nothing at all in tests and `--json` runs (`Progress`, the base).

    with progress.phase("job 3: aux_conf (search)", eta_s=40) as phase:
        ...                      # a ticker shows elapsed time and what is left of the ETA
    with progress.phase("embed minilm-l6", total=5000) as phase:
        phase.update(done=1200)  # a bar over a known amount of work
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Plain mode: a phase is announced when it starts and ends, and every HEARTBEAT_S while it runs.
HEARTBEAT_S = 30.0
TICK_S = 0.5


def fmt_seconds(seconds: float) -> str:
    """`42` → `42s`, `150` → `2m 30s`, `7260` → `2h 01m`."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def fmt_hparams(hparams: dict[str, Any]) -> str:
    """`lr=0.003, epochs=10`: hyperparameters as the terminal, agent log, findings and report show them."""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in hparams.items())


@dataclass
class Phase:
    """One running phase: what it is, how far it got, and when it started."""

    label: str
    total: float | None = None  # units of work (texts, seeds, jobs), when known
    eta_s: float | None = None  # expected duration, when similar work was timed before
    quiet_s: float = 0.0  # shown only once it has run this long (LLM calls: only the slow ones)
    started: float = field(default_factory=time.monotonic)
    done: float = 0.0
    note: str = ""
    shown: bool = False
    last_beat: float = 0.0
    _owner: Progress | None = None

    def update(self, *, done: float | None = None, note: str | None = None) -> None:
        """Record how far the phase got (`done` of `total`), and an optional short note."""
        if done is not None:
            self.done = done
        if note is not None:
            self.note = note
        if self._owner is not None:
            self._owner._updated(self)

    def elapsed(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started

    def describe(self, now: float | None = None) -> str:
        """`label: 1m 05s elapsed, ~40s left` (or `120/500`), for the plain lines."""
        elapsed = self.elapsed(now)
        parts = [f"{fmt_seconds(elapsed)} elapsed"]
        if self.total:
            parts.append(f"{self.done:g}/{self.total:g}")
        if self.eta_s is not None:
            left = self.eta_s - elapsed
            parts.append(f"~{fmt_seconds(left)} left" if left > 0 else "past its estimate")
        note = f" ({self.note})" if self.note else ""
        return f"{self.label}: {', '.join(parts)}{note}"


class Progress:
    """Shows nothing: the default for library code and tests. Subclasses draw the phases."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._phases: list[Phase] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @contextlib.contextmanager
    def phase(
        self, label: str, *, total: float | None = None, eta_s: float | None = None, quiet_s: float = 0.0
    ) -> Iterator[Phase]:
        """Open a phase for the duration of the block; it is closed (and shown as ended) on exit."""
        p = Phase(label, total, eta_s, quiet_s, started=self.clock(), _owner=self)
        p.last_beat = p.started
        with self._lock:
            self._phases.append(p)
            self._ensure_ticker()
        if quiet_s <= 0:
            self._show(p)
        ok = False
        try:
            yield p
            ok = True
        finally:
            with self._lock:
                self._phases.remove(p)
            if p.shown:
                self._ended(p, ok)

    def _ensure_ticker(self) -> None:
        if self._ticker is None and type(self) is not Progress:
            self._ticker = threading.Thread(target=self._tick_loop, name="aar-progress", daemon=True)
            self._ticker.start()

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            now = self.clock()
            with self._lock:
                phases = list(self._phases)
            for p in phases:
                if not p.shown and p.elapsed(now) >= p.quiet_s:
                    self._show(p)
                elif p.shown:
                    self._tick(p, now)

    def _show(self, p: Phase) -> None:
        p.shown = True
        self._started(p)

    def close(self) -> None:
        """Stop the ticker (phases still open are left as they are)."""
        self._stop.set()

    # What subclasses draw: a phase appears, moves on, ends.
    def _started(self, p: Phase) -> None:
        pass

    def _updated(self, p: Phase) -> None:
        pass

    def _tick(self, p: Phase, now: float) -> None:
        pass

    def _ended(self, p: Phase, ok: bool) -> None:
        pass


class PlainProgress(Progress):
    """Plain lines for pipes and logs: `12:03:04  progress  baselines: started`, a heartbeat every
    `heartbeat_s` while a phase runs, and `... done in 42s` at its end."""

    def __init__(
        self,
        write: Callable[[str], Any],
        *,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self.write = write
        self.heartbeat_s = heartbeat_s

    def _line(self, text: str) -> None:
        self.write(f"{time.strftime('%H:%M:%S')}  progress  {text}")

    def _started(self, p: Phase) -> None:
        expect = f" (~{fmt_seconds(p.eta_s)} expected)" if p.eta_s is not None else ""
        waited = f" (waiting {fmt_seconds(p.elapsed(self.clock()))})" if p.quiet_s > 0 else ""
        self._line(f"{p.label}: started{expect}{waited}")

    def _tick(self, p: Phase, now: float) -> None:
        if now - p.last_beat >= self.heartbeat_s:
            p.last_beat = now
            self._line(p.describe(now))

    def _ended(self, p: Phase, ok: bool) -> None:
        how = "done" if ok else "stopped"
        self._line(f"{p.label}: {how} in {fmt_seconds(p.elapsed(self.clock()))}")


class RichProgress(Progress):
    """Rich progress bars on a terminal: a bar over the work or the ETA, elapsed and left."""

    def __init__(self, console: Any, clock: Callable[[], float] = time.monotonic) -> None:
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        super().__init__(clock)
        self._bars = Bars(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[left]}"),
            console=console,
            transient=True,
        )
        self._ids: dict[int, Any] = {}

    def _started(self, p: Phase) -> None:
        total = p.total or p.eta_s
        with self._lock:
            if not self._ids:
                self._bars.start()
            self._ids[id(p)] = self._bars.add_task(p.label, total=total, left="")
        self._tick(p, self.clock())

    def _updated(self, p: Phase) -> None:
        if id(p) in self._ids:
            self._tick(p, self.clock())

    def _tick(self, p: Phase, now: float) -> None:
        task = self._ids.get(id(p))
        if task is None:
            return
        label = f"{p.label} ({p.note})" if p.note else p.label
        if p.total:
            self._bars.update(task, completed=p.done, description=label)
        elif p.eta_s:
            left = p.eta_s - p.elapsed(now)
            shown = f"~{fmt_seconds(left)} left" if left > 0 else "past its estimate"
            self._bars.update(
                task, completed=min(p.elapsed(now), 0.99 * p.eta_s), left=shown, description=label
            )

    def _ended(self, p: Phase, ok: bool) -> None:
        with self._lock:
            task = self._ids.pop(id(p), None)
            if task is not None:
                self._bars.remove_task(task)
            if not self._ids:
                self._bars.stop()
        if ok:
            self._bars.console.print(
                f"[dim]{time.strftime('%H:%M:%S')}  {p.label}: done in {fmt_seconds(p.elapsed(self.clock()))}[/dim]",
                highlight=False,
            )


def for_console(console: Any) -> Progress:
    """Bars on a terminal, plain lines when the output is piped."""
    if getattr(console, "is_terminal", False):
        return RichProgress(console)
    return PlainProgress(lambda line: console.print(line, highlight=False, soft_wrap=True))


class Reporter:
    """What the CLI hands a study as its `display`: the step lines (called as `display(node, message)`)
    and the `progress` its long phases report to."""

    def __init__(self, show: Callable[[str, str], Any], progress: Progress) -> None:
        self.show = show
        self.progress = progress

    def __call__(self, node: str, message: str) -> None:
        self.show(node, message)
