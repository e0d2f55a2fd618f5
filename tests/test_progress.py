"""Progress of long phases: plain lines when piped (start, heartbeat, end), slow-only phases, the CLI's
choice between bars and lines."""

from __future__ import annotations

import io
import time

from rich.console import Console

from aar.progress import PlainProgress, Progress, Reporter, RichProgress, for_console


def test_plain_lines_start_beat_and_end() -> None:
    lines: list[str] = []
    progress = PlainProgress(lines.append, heartbeat_s=0.3)
    with progress.phase("job (search): aux_conf", eta_s=60) as phase:
        phase.update(note="seed 0")
        time.sleep(1.3)
    progress.close()
    text = "\n".join(lines)
    assert "progress  job (search): aux_conf: started (~1m 00s expected)" in lines[0]
    assert "elapsed" in text and "left" in text and "(seed 0)" in text  # heartbeats while it runs
    assert lines[-1].endswith("job (search): aux_conf: done in 1s")


def test_quiet_phases_show_only_when_slow() -> None:
    lines: list[str] = []
    progress = PlainProgress(lines.append, heartbeat_s=60)
    with progress.phase("researcher (llm): propose", quiet_s=0.8):
        pass  # a fast call: nothing shown
    assert lines == []
    with progress.phase("researcher (llm): decide", quiet_s=0.8):
        time.sleep(1.6)  # a slow one: shown once it is slow, and its end
    progress.close()
    assert any("researcher (llm): decide: started (waiting" in line for line in lines)
    assert lines[-1].endswith("decide: done in 2s")


def test_a_failing_phase_ends_as_stopped() -> None:
    lines: list[str] = []
    progress = PlainProgress(lines.append)
    try:
        with progress.phase("finalize: finalist 1 of 1"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert lines[-1].endswith("finalize: finalist 1 of 1: stopped in 0s")


def test_bars_on_a_terminal_lines_when_piped() -> None:
    piped = Console(file=io.StringIO(), force_terminal=False)
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(for_console(piped), PlainProgress)
    bars = for_console(terminal)
    assert isinstance(bars, RichProgress)
    with bars.phase("embed minilm-l6", total=100) as phase:
        phase.update(done=50)
    assert "embed minilm-l6: done in" in terminal.file.getvalue()  # type: ignore[attr-defined]


def test_the_base_progress_shows_nothing_and_the_reporter_carries_it() -> None:
    shown: list[tuple[str, str]] = []
    progress = Progress()
    reporter = Reporter(lambda n, m: shown.append((n, m)), progress)
    with progress.phase("anything") as phase:
        phase.update(done=1)
    reporter("plan", "round 1")
    assert shown == [("plan", "round 1")] and reporter.progress is progress
