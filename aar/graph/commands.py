"""CLI of the research agent: `aar run`, `aar resume`, `aar stop`, `aar rm`, `aar log`.

Exit codes of `run` and `resume`: 0 a study that finished with research done (at least one hypothesis
experiment ran to a result); 1 one that finished without; 130 stopped by the user (Ctrl-C, `aar stop`);
143 SIGTERM; 2 a user error; 3 an infrastructure fault or an unexpected error (the study is failed).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from rich.console import Console

from aar.budget import check_minimum
from aar.config import ExecutorChoice, Settings, StudyConfig
from aar.errors import AarError, UserError
from aar.progress import Progress, Reporter, fmt_hparams, for_console

if TYPE_CHECKING:
    from aar.graph.study import StudyOutcome

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
NOTIFY_TIMEOUT_S = 60.0
ExecutorOption = Annotated[
    str, typer.Option("--executor", help="local (this machine) | ray (a Ray cluster: AAR_RAY_ADDRESS)")
]
NotifyOption = Annotated[
    str,
    typer.Option(
        "--notify",
        help="Shell command run when the study ends (finished, stopped or failed); its summary arrives as"
        " JSON on stdin: id, name, status, stop_reason, best, budget_used, research_experiments.",
    ),
]
NODE_COLORS = {
    "plan": "cyan",
    "propose": "magenta",
    "implement": "blue",
    "audit": "yellow",
    "run": "green",
    "evaluate": "green",
    "analyze": "white",
    "decide": "bold",
    "finalize": "bold cyan",
    "report": "bold green",
}


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `1h30m` → seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip().lower())
    if not parts or "".join(a + b for a, b in parts) != re.sub(r"\s+", "", text.strip().lower()):
        raise UserError(f"bad duration {text!r}; use e.g. 90s, 15m, 2h, 1h30m")
    return sum(float(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)


def deadline_at(text: str) -> float:
    """`--deadline 30m` → the Unix time 30 minutes from now; a zero duration is refused (no time to run)."""
    seconds = parse_duration(text)
    if seconds <= 0:
        raise UserError(f"--deadline {text} leaves no time; give e.g. 30m or 2h")
    return time.time() + seconds


def display(node: str, message: str) -> None:
    color = NODE_COLORS.get(node, "white")
    console.print(
        f"[dim]{time.strftime('%H:%M:%S')}[/dim] [{color}]{node:>9}[/{color}]  {message}", highlight=False
    )


def run_cmd(
    goal: Annotated[
        str, typer.Option("--goal", help="What the study should achieve, in words.")
    ] = "Raise PGR over the naive weak-to-strong baseline",
    task: Annotated[str, typer.Option("--task")] = "rotten_tomatoes",
    pair: Annotated[str, typer.Option("--pair", help="WEAK→STRONG")] = "static64→minilm-l6",
    template: Annotated[str, typer.Option("--template", help="probe | finetune")] = "probe",
    policy: Annotated[str, typer.Option("--policy", help="builtin | llm")] = "builtin",
    model: Annotated[
        str, typer.Option("--model", help="provider/model for --policy llm, e.g. openai/gpt-4o-mini")
    ] = "",
    llm_structured: Annotated[
        str,
        typer.Option(
            "--llm-structured",
            help="How the LLM is asked for JSON: auto (detected per endpoint) | json_schema | json_object | tools",
        ),
    ] = "auto",
    feedback: Annotated[
        str, typer.Option("--feedback", help="dev (agent sees dev PGR) | blind (no ground truth)")
    ] = "dev",
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=50)] = 5,
    sizes: Annotated[
        str, typer.Option("--sizes", help="Split sizes, e.g. weak_train=500,w2s_train=2000")
    ] = "",
    max_usd: Annotated[float | None, typer.Option("--max-usd", min=0)] = None,
    max_tokens: Annotated[float | None, typer.Option("--max-tokens", min=0)] = None,
    max_device_hours: Annotated[float | None, typer.Option("--max-device-hours", min=0)] = None,
    max_experiments: Annotated[int | None, typer.Option("--max-experiments", min=1)] = 16,
    deadline: Annotated[str, typer.Option("--deadline", help="Wall-clock limit, e.g. 30m, 2h")] = "20m",
    parallel: Annotated[int, typer.Option("--parallel", min=1)] = 1,
    per_round: Annotated[int, typer.Option("--per-round", min=1)] = 3,
    researchers: Annotated[
        int,
        typer.Option(
            "--researchers",
            min=1,
            max=16,
            help="Researcher loops on this study (own seeds/styles, shared hypotheses, findings, results)",
        ),
    ] = 1,
    target_pgr: Annotated[
        float | None,
        typer.Option("--target-pgr", help="Stop once the best dev PGR's CI lower bound reaches this."),
    ] = None,
    sandbox: Annotated[str, typer.Option("--sandbox", help="docker | bwrap | local ('' = auto)")] = "",
    executor: ExecutorOption = "local",
    unsafe_local: Annotated[bool, typer.Option("--unsafe-local")] = False,
    name: Annotated[str, typer.Option("--name", help="Study name (default: study-<date>-<time>)")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    notify: NotifyOption = "",
    enqueue: Annotated[
        bool,
        typer.Option(
            "--enqueue",
            help="Queue the study in the store for a worker (aar worker) instead of running it here.",
        ),
    ] = False,
) -> None:
    """Start a study: propose, implement, audit, run, evaluate, analyze, decide, until done; then report."""
    # Every check before the heavy imports (store, LangGraph, the science stack): a user error is one
    # line within a second (bench/cli_startup measures it).
    finalists = StudyConfig.model_fields["finalists"].default
    check_minimum(max_experiments, per_round=per_round, finalists=finalists)
    from aar.llm.modes import parse_mode  # light: no SDK, no science stack

    parse_mode(llm_structured)  # an unknown mode: one line, exit 2
    if policy not in ("builtin", "llm"):
        raise UserError(f"unknown policy {policy!r}; use builtin or llm")
    if feedback not in ("dev", "blind"):
        raise UserError(f"unknown feedback mode {feedback!r}; use dev or blind")
    if policy == "llm" and not model:
        raise UserError("--policy llm needs --model PROVIDER/MODEL (e.g. openai/gpt-4o-mini)")
    config = StudyConfig.model_validate(dict(
        name=name or time.strftime("study-%Y%m%d-%H%M%S"), goal=goal, task=task, pair=pair, template=template, policy=policy, model=model,
        llm_structured=llm_structured,
        feedback=feedback, seeds=seeds, sizes=sizes, parallel=parallel, per_round=per_round, researchers=researchers, sandbox=sandbox,
        executor=executor, unsafe_local=unsafe_local, target_pgr=target_pgr, max_usd=max_usd, max_tokens=max_tokens,
        max_device_seconds=None if max_device_hours is None else max_device_hours * 3600, max_experiments=max_experiments,
        deadline=deadline_at(deadline) if deadline else None,
    ))  # fmt: skip
    if enqueue:  # the deadline starts when a worker takes it
        _enqueue(config, parse_duration(deadline) if deadline else None, as_json)
        return
    from aar.graph.study import start_study

    _run(
        lambda settings, store, show: start_study(
            config, settings, store, display=show, announce=show_line(as_json), notify=notifier(notify)
        ),
        config.name,
        as_json,
    )


def _enqueue(config: StudyConfig, deadline_s: float | None, as_json: bool) -> None:
    """`aar run --enqueue`: check the study as `aar run` would and queue it; a worker runs it."""
    from aar.deploy.queue import enqueue
    from aar.store import open_store

    settings = Settings()
    store = open_store(settings)
    try:
        study_id = enqueue(config, settings, store, deadline_s=deadline_s)
    finally:
        store.close()
    if as_json:
        console.print_json(json.dumps({"id": study_id, "name": config.name, "status": "queued"}))
    else:
        console.print(
            f"queued study {config.name} (id {study_id}); a worker runs it (aar worker)", highlight=False
        )


def show_line(as_json: bool):  # type: ignore[no-untyped-def]
    """Lines for the person at the terminal: on stdout, or a JSON line on stderr when stdout carries JSON."""
    if as_json:
        return lambda m: json_event("aar", m)
    return lambda m: console.print(m, highlight=False)


def json_event(node: str, message: str) -> None:
    """One step of a `--json` run as a JSON line on stderr: `{"time", "node", "message"}` (stdout keeps the
    study's summary, one JSON document). Every step the terminal shows is here too: invalid LLM replies
    with their validation error, structured-output mode switches, failed steps."""
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "node": node, "message": message}
    sys.stderr.write(json.dumps(line) + "\n")
    sys.stderr.flush()


def notifier(command: str) -> Any:
    """The `--notify` hook: run `command` in a shell with the outcome as JSON on stdin; None without one.

    A failing, missing or slow command is a warning on stderr, never an error of the study.
    """
    if not command:
        return None

    def notify(outcome: StudyOutcome) -> None:
        payload = json.dumps(outcome_json(outcome), default=str)
        try:
            done = subprocess.run(
                command, shell=True, input=payload, text=True, capture_output=True, timeout=NOTIFY_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            err_console.print(f"[yellow]warning:[/yellow] --notify command failed: {exc}", highlight=False)
            return
        if done.returncode != 0:
            tail = " ".join(done.stderr.split())[-300:]
            err_console.print(
                f"[yellow]warning:[/yellow] --notify command exited {done.returncode}: {tail}",
                highlight=False,
            )

    return notify


def outcome_json(outcome: StudyOutcome) -> dict[str, Any]:
    """The study's summary as `--json` prints it and `--notify` receives it."""
    return {
        "id": outcome.study_id,
        "name": outcome.name,
        "status": outcome.status,
        "stop_reason": outcome.stop_reason,
        "best": outcome.best,
        "budget_used": outcome.budget_used,
        "research_experiments": outcome.research_experiments,
        "report_path": outcome.report_path,
    }


def exit_code(outcome: StudyOutcome) -> tuple[int, str | None]:
    """The exit code of a study that ended without an exception, and the line that explains a non-zero one."""
    if outcome.status == "stopped":
        return 130, f"study {outcome.name} {outcome.stop_reason}; resume with: aar resume {outcome.name}"
    if outcome.status != "finished":
        return 3, f"study {outcome.name} is {outcome.status}: {outcome.stop_reason}"
    if outcome.research_experiments == 0:
        return (
            1,
            f"no research done: study {outcome.name} ended ({outcome.stop_reason}) before any hypothesis experiment ran to a result",
        )
    return 0, None


def _run(fn, name: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    from aar.store import open_store

    settings = Settings()
    store = open_store(settings)
    try:
        shown = Reporter(json_event, Progress()) if as_json else Reporter(display, for_console(console))
        outcome = fn(settings, store, shown)
    except KeyboardInterrupt:
        err_console.print(f"\n[yellow]stopped.[/yellow] Resume with: aar resume {name}")
        raise typer.Exit(130) from None
    except AarError as exc:  # `aar.cli.main` prints its line; its notes say what became of the study
        for note in getattr(exc, "__notes__", ()):
            err_console.print(note, highlight=False)
        raise exc from None
    except Exception as exc:  # a bug or an unexpected fault: the study is marked failed, the traceback kept
        from aar.graph.study import failure_reason

        where = _keep_traceback(settings, name)
        err_console.print(
            f"[red]error:[/red] study {name} failed: {failure_reason(exc)} (traceback: {where})",
            highlight=False,
        )
        raise typer.Exit(3) from None
    finally:
        store.close()
    code, why = exit_code(outcome)
    if as_json:
        console.print_json(json.dumps(outcome_json(outcome), default=str))
    else:
        _print_outcome(outcome)
    if why:
        err_console.print(why, highlight=False)
    if code:
        raise typer.Exit(code)


def _keep_traceback(settings: Settings, name: str) -> Path:
    path = settings.results_dir / "logs" / f"{name}-failure.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(traceback.format_exc())
    return path


def _print_outcome(outcome: StudyOutcome) -> None:
    console.print(
        f"\n[bold]study {outcome.name}[/bold] (id {outcome.study_id}) {outcome.status}: {outcome.stop_reason}"
    )
    if outcome.best:
        b = outcome.best
        hp = fmt_hparams(b["hparams"])
        pgr = "n/a" if b.get("dev_pgr") is None else f"{b['dev_pgr']:.3f}"
        ci = "" if b.get("dev_pgr_lo") is None else f" [{b['dev_pgr_lo']:.3f}, {b['dev_pgr_hi']:.3f}]"
        console.print(f"best: {b['method']} ({hp}): dev PGR {pgr}{ci}", highlight=False)
    if outcome.report_path:
        console.print(f"report: {outcome.report_path}")


def resume_cmd(
    study: Annotated[str, typer.Argument(help="Study name or id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    notify: NotifyOption = "",
    executor: Annotated[str, typer.Option("--executor", help="local | ray (default: the study's own)")] = "",
    deadline: Annotated[
        str,
        typer.Option(
            "--deadline", help="A new wall-clock limit from now, e.g. 30m, 2h (default: the study's)"
        ),
    ] = "",
    max_experiments: Annotated[int | None, typer.Option("--max-experiments", min=1)] = None,
    max_usd: Annotated[float | None, typer.Option("--max-usd", min=0)] = None,
    max_tokens: Annotated[float | None, typer.Option("--max-tokens", min=0)] = None,
    max_device_hours: Annotated[float | None, typer.Option("--max-device-hours", min=0)] = None,
) -> None:
    """Continue a stopped, failed or interrupted study from its last checkpoint.

    A budget option replaces that limit of the study's budget for good (the rest stay as they were); it
    must leave room to go on (an experiment budget: one more search round plus the finalist checks).
    """
    if executor not in ("", *get_args(ExecutorChoice)):
        raise UserError(f"unknown executor {executor!r}; use local or ray")
    limits = new_limits(deadline, max_experiments, max_usd, max_tokens, max_device_hours)
    from aar.graph.study import resume_study

    _run(
        lambda settings, store, show: resume_study(
            study,
            settings,
            store,
            display=show,
            announce=show_line(as_json),
            notify=notifier(notify),
            executor=executor or None,  # type: ignore[arg-type]
            limits=limits,
        ),
        study,
        as_json,
    )


def new_limits(
    deadline: str,
    max_experiments: int | None,
    max_usd: float | None,
    max_tokens: float | None,
    max_device_hours: float | None,
) -> dict[str, float]:
    """`aar resume`'s budget options as budget kind → new limit (only those given)."""
    given = {
        "deadline": deadline_at(deadline) if deadline else None,
        "experiments": max_experiments,
        "usd": max_usd,
        "tokens": max_tokens,
        "device_seconds": None if max_device_hours is None else max_device_hours * 3600,
    }
    return {kind: float(v) for kind, v in given.items() if v is not None}


def stop_cmd(study: Annotated[str, typer.Argument(help="Study name or id")]) -> None:
    """Ask a running study to stop after its running job (one whose host died is marked interrupted; a
    queued one is cancelled)."""
    from aar.store import find_study, open_store
    from aar.store.states import request_stop

    store = open_store(Settings())
    try:
        with store.session() as session:
            found = find_study(session=session, ref=study)
            state = request_stop(session=session, study_id=int(found.id or 0))
            name, heartbeat = found.name, found.heartbeat_at
    finally:
        store.close()
    if state == "interrupted":
        when = "never" if heartbeat is None else f"{heartbeat:%Y-%m-%d %H:%M:%S} UTC"
        console.print(f"study {name} had no heartbeat since {when}: its process is gone; marked interrupted")
    elif state == "cancelled":
        console.print(f"study {name} was queued: cancelled, no worker will run it (aar rm {name} deletes it)")
    else:
        console.print(f"study {name}: stop requested; it stops after its running job")


def rm_cmd(
    study: Annotated[str, typer.Argument(help="Study name or id")],
    force: Annotated[bool, typer.Option("--force", help="Delete it even while it runs.")] = False,
) -> None:
    """Delete a study: its rows, checkpoints and report file (shared artifacts stay). Asks nothing."""
    from aar.graph.checkpoints import delete_checkpoints
    from aar.store import StudyPublic, find_study, open_store
    from aar.store.crud import delete_study

    settings = Settings()
    store = open_store(settings)
    try:
        with store.session() as session:
            found = StudyPublic.model_validate(find_study(session=session, ref=study))
            if found.status == "running" and not force:
                raise UserError(
                    f"study {found.name!r} is running; stop it first (aar stop {found.name}) or pass --force"
                )
            counts = delete_study(session=session, study_id=found.id)
        had_checkpoints = delete_checkpoints(settings, store, found.id)
    finally:
        store.close()
    report = settings.results_dir / "reports" / f"study-{found.id}.html"
    deleted = [f"{n} {table} row(s)" for table, n in counts.items() if n]
    if had_checkpoints:
        deleted.append("its checkpoints")
    if report.is_file():
        report.unlink()
        deleted.append(f"report {report}")
    console.print(f"deleted study {found.name} (id {found.id}): {', '.join(deleted)}", highlight=False)


def log_cmd(
    study: Annotated[str, typer.Argument(help="Study name or id")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new steps until the study ends.")
    ] = False,
) -> None:
    """The agent's steps: node, hypothesis, decision, cost."""
    from aar.store import find_study, get_study, list_events, open_store
    from aar.store.states import shown_status

    store = open_store(Settings())
    try:
        last = 0
        while True:
            with store.session() as session:
                sid = int(find_study(session=session, ref=study).id or 0)
                events = list_events(session=session, study_id=sid, after_id=last)
                status = shown_status(get_study(session=session, study_id=sid))  # stale: interrupted
            for e in events:
                extra = f" [dim](${e.cost_usd:.4f})[/dim]" if e.cost_usd else ""
                hyp = f" [dim]h{e.hypothesis_id}[/dim]" if e.hypothesis_id else ""
                console.print(
                    f"[dim]{e.created_at:%H:%M:%S}[/dim] [{NODE_COLORS.get(e.node, 'white')}]{e.node:>9}[/]{hyp}  {e.message}{extra}",
                    highlight=False,
                )
                last = max(last, int(e.id or 0))
            if not follow or status != "running":
                break
            time.sleep(1.0)
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.command("resume")(resume_cmd)
    app.command("stop")(stop_cmd)
    app.command("rm")(rm_cmd)
    app.command("log")(log_cmd)
