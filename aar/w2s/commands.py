"""CLI commands of the science core: `aar tasks`, `aar pairs`, `aar baseline`, `aar exp run`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aar.config import Settings
from aar.w2s.custom import load_custom
from aar.w2s.ladder import LADDER, parse_pair
from aar.w2s.overrides import parse_sets
from aar.w2s.splits import SplitSizes
from aar.w2s.tasks import REGISTRY
from aar.w2s.templates import LIBRARY_METHODS, get_template, method_name, resolve_method

if TYPE_CHECKING:  # the science stack (numpy, scipy) loads only once inputs are checked
    from aar.scheduler import Placement
    from aar.w2s.experiment import ExperimentResult, JobRunner
    from aar.w2s.setup import Setup

# What a command's baseline jobs cost: (device-seconds, what the job was), charged to its manual study.
Charges = list[tuple[float, str]]

console = Console()
exp_app = typer.Typer(help="Run experiments.", no_args_is_help=True)

TaskOpt = Annotated[str, typer.Option("--task", help="Task name, hub:NAME[=local file], or custom:PATH.")]
PairOpt = Annotated[str, typer.Option("--pair", help="WEAK→STRONG (or WEAK->STRONG); 3+ names = a chain.")]
TemplateOpt = Annotated[str, typer.Option("--template", help="Experiment template: probe | finetune.")]
SeedsOpt = Annotated[int, typer.Option("--seeds", min=1, max=100, help="Number of seeds (0..N-1).")]
SizesOpt = Annotated[str, typer.Option("--sizes", help="Split sizes, e.g. weak_train=500,w2s_train=2000.")]
SplitSeedOpt = Annotated[int, typer.Option("--split-seed", help="Seed of the (fixed) data splits.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
SandboxOpt = Annotated[
    str, typer.Option("--sandbox", help="docker | bwrap | local ('' = auto, or AAR_SANDBOX).")
]


def check_inputs(
    task: str, template: str, method: str, sets: list[str], settings: Settings
) -> dict[str, Any]:
    """Refuse bad inputs in under a second, before any model library is imported or a job started.

    Returns the typed `--set` overrides. Raises UserError (one line) for an unknown template or method,
    an unknown or mistyped `--set` key, or custom data that is missing, binary or malformed.
    """
    overrides = parse_sets(
        sets,
        template=get_template(template, settings.templates_dir),
        method_path=resolve_method(method, settings.templates_dir),
    )
    if task.startswith("custom:"):
        load_custom(Path(task.removeprefix("custom:")))  # parsed again by the setup; small files, cheap
    return overrides


@contextmanager
def progress_reporter(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar for long steps (embedding), on stderr so --json output stays clean."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def report(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield report


def make_setup(task: str, pair: str, template: str, sizes: str, split_seed: int, settings: Settings) -> Setup:
    from aar.w2s.models import check_rungs
    from aar.w2s.setup import Setup

    rungs = parse_pair(pair)
    check_rungs(rungs.chain)  # a model missing on this host stops here, before any job
    return Setup(
        task=task, pair=rungs, template=get_template(template, settings.templates_dir),
        sizes=SplitSizes.parse(sizes), split_seed=split_seed, cache_dir=settings.cache_dir,
    )  # fmt: skip


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def print_result(result: ExperimentResult) -> None:
    data = result.to_json()
    if result.status != "ok":  # the error may quote the job's output: never markup, never wrapped
        console.print(f"[red]experiment {result.status}[/red]: {escape(result.error)}", soft_wrap=True)
        return
    table = Table(
        title=f"{data['method']} on {data['task']}, {data['pair']} ({data['template']}), seeds {data['seeds']}"
    )
    for col in (
        "split",
        "weak acc",
        "ceiling acc",
        "w2s acc",
        "PGR mean [95% CI]",
        "std",
        "degenerate seeds",
    ):
        table.add_column(col)
    for split, s in data["splits"].items():
        ci = f"{_fmt(s['pgr'])} [{_fmt(s['pgr_ci'][0])}, {_fmt(s['pgr_ci'][1])}]"
        table.add_row(
            split,
            _fmt(s["weak_acc"]),
            _fmt(s["ceiling_acc"]),
            _fmt(s["w2s_acc"]),
            ci,
            _fmt(s["pgr_std"]),
            str(s["degenerate_seeds"] or "-"),
        )
    console.print(table)
    curve = data["splits"][data["split"]]["curve"]
    if curve:
        points = "  ".join(f"{int(p['step'])}:{_fmt(p['pgr'])}" for p in curve[:: max(1, len(curve) // 10)])
        console.print(f"PGR curve ({data['split']}, step:PGR): {points}")
    console.print(f"{result.seconds:.1f} s")


def tasks_cmd(as_json: JsonOpt = False) -> None:
    """List the registered tasks."""
    rows = [
        {"name": t.name, "description": t.description, "source": t.source, "offline": t.offline}
        for t in REGISTRY.values()
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("name", "offline", "source", "description")
    for r in rows:
        table.add_row(
            str(r["name"]), "yes" if r["offline"] else "no (hub)", str(r["source"]), str(r["description"])
        )
    console.print(table)
    console.print("Also: custom:PATH (JSONL/CSV with text,label[,id]) and hub:NAME=LOCAL_FILE.")


def pairs_cmd(as_json: JsonOpt = False) -> None:
    """List the model ladder; any two rungs make a pair (weak→strong), three or more a chain."""
    rows = [
        {
            "name": r.name,
            "kind": r.kind,
            "source": r.source,
            "params_m": r.params_m,
            "offline": r.offline,
            "description": r.description,
        }
        for r in sorted(LADDER.values(), key=lambda r: r.order)
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("rung", "kind", "params (M)", "offline", "source")
    for r in rows:
        table.add_row(
            str(r["name"]),
            str(r["kind"]),
            f"{r['params_m']:g}",
            "yes" if r["offline"] else "no (GPU/hub)",
            str(r["source"]),
        )
    console.print(table)
    console.print("Pairs: WEAK→STRONG, e.g. static64→minilm-l6; chains: static64→minilm-l3→minilm-l6.")


def baseline_cmd(
    task: TaskOpt = "rotten_tomatoes",
    pair: PairOpt = "static64→minilm-l6",
    template: TemplateOpt = "probe",
    seeds: SeedsOpt = 3,
    sizes: SizesOpt = "",
    split_seed: SplitSeedOpt = 0,
    sandbox: SandboxOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Weak supervisor, strong ceiling and naive weak→strong for a task and pair (cached); computed ones
    run as jobs on a device slot in the sandbox, charged to the manual study's ledger."""
    settings = Settings()
    check_inputs(task, template, "naive", [], settings)
    from aar.w2s.experiment import naive_baseline

    with progress_reporter(not as_json) as report:
        setup = make_setup(task, pair, template, sizes, split_seed, settings)
        setup.progress = report
        with placed(setup, job_placement("naive", sandbox, False, settings, quiet=as_json)) as (_, charges):
            result = naive_baseline(setup, list(range(seeds)))
    record_manual(settings, result, None, charges)
    if as_json:
        console.print_json(json.dumps(result.to_json()))
    else:
        print_result(result)


def exp_run_cmd(
    method: Annotated[
        str, typer.Option("--method", help=f"Library method ({', '.join(LIBRARY_METHODS)}) or a method.py.")
    ],
    task: TaskOpt = "rotten_tomatoes",
    pair: PairOpt = "static64→minilm-l6",
    template: TemplateOpt = "probe",
    seeds: SeedsOpt = 3,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Hyperparameter override KEY=VALUE (repeatable).")
    ] = None,
    sizes: SizesOpt = "",
    split_seed: SplitSeedOpt = 0,
    sandbox: SandboxOpt = "",
    unsafe_local: Annotated[
        bool, typer.Option("--unsafe-local", help="Allow untrusted code in a plain subprocess.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run one experiment now and print weak / ceiling / w2s accuracy, PGR with CI, and the PGR curve."""
    settings = Settings()
    overrides = check_inputs(task, template, method, sets or [], settings)
    from aar.w2s.experiment import ExperimentSpec, run_experiment

    with progress_reporter(not as_json) as report:
        setup = make_setup(task, pair, template, sizes, split_seed, settings)
        setup.progress = report
        spec = ExperimentSpec(
            setup,
            resolve_method(method, settings.templates_dir),
            method_name(method),
            list(range(seeds)),
            overrides,
        )
        place = job_placement(method, sandbox, unsafe_local, settings, quiet=as_json)
        with placed(setup, place) as (runner, charges):
            result = run_experiment(spec, runner)
    record_manual(settings, result, spec.method_path, charges)
    if as_json:
        console.print_json(json.dumps(result.to_json()))
    else:
        print_result(result)
    if result.status != "ok":
        raise typer.Exit(1)


def record_manual(
    settings: Settings, result: ExperimentResult, method_path: Path | None, charges: Charges
) -> None:
    """Keep a manual experiment (`method_path`; None: baselines only) in the store, under the study
    `manual:<task>:<pair>:<template>`, and charge its baseline jobs' device-seconds to that study."""
    from aar.recording import ensure_study, record_result
    from aar.store import charge_baseline, open_store

    store = open_store(settings)
    try:
        name = f"manual:{result.task}:{result.pair}:{result.template}"
        goal = f"Manual experiments (aar exp run) on {result.task}, {result.pair}"
        study_id = ensure_study(store, name=name, goal=goal, task=result.task, pair=result.pair)
        with store.session() as session:
            for seconds, what in charges:
                charge_baseline(session=session, study_id=study_id, device_seconds=seconds, what_for=what)
        if method_path is not None:
            record_result(store, study_id=study_id, result=result, method_path=method_path)
    finally:
        store.close()


@contextmanager
def placed(setup: Setup, place: Placement | None) -> Iterator[tuple[JobRunner | None, Charges]]:
    """Hold a device-pool slot for the command's jobs: the method job's runner on it, and `setup`'s
    baseline jobs placed on it too (same sandbox, trusted), their device-seconds collected. No placement
    (no sandbox, library code): everything in this process, nothing charged."""
    charges: Charges = []
    if place is None:
        yield None, charges
        return
    from aar.scheduler import trusted_runner

    setup.trusted = trusted_runner(
        place.pool, place.trusted_for, charge=lambda seconds, what: charges.append((seconds, what))
    )
    with place.pool.slot() as devices:
        yield place.runner_for(devices), charges


def job_placement(
    method: str, sandbox: str, unsafe_local: bool, settings: Settings, quiet: bool
) -> Placement | None:
    """Everything goes through a sandbox on a device slot when one is available. Library methods are
    our own (trusted) code, so on a machine with no Docker engine and no bwrap they run in-process
    instead (None); anything else needs a sandbox (or --unsafe-local for a plain subprocess)."""
    from aar.errors import InfraError
    from aar.scheduler import placement

    announce = None if quiet else console.print
    try:
        return placement(sandbox or settings.sandbox or None, unsafe_local=unsafe_local, announce=announce)
    except InfraError:
        if method not in LIBRARY_METHODS or sandbox or settings.sandbox:
            raise
        if announce:
            announce("sandbox: none available; the library method runs in-process (trusted code)")
        return None


def register(app: typer.Typer) -> None:
    app.command("tasks")(tasks_cmd)
    app.command("pairs")(pairs_cmd)
    app.command("baseline")(baseline_cmd)
    exp_app.command("run")(exp_run_cmd)
    app.add_typer(exp_app, name="exp")
