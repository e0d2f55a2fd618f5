"""The agent graph's nodes: one function per node; each reads the state and returns an update.

plan → propose → implement → audit → run → evaluate → analyze → decide → (plan | finalize → report)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from aar.budget import BudgetExceeded
from aar.errors import AgentError
from aar.graph.audit import audit_source
from aar.graph.finalize import finalize  # noqa: F401 - a node, assembled by the builder
from aar.graph.runtime import Runtime
from aar.graph.state import Candidate, Outcome, StudyState
from aar.progress import fmt_seconds
from aar.recording import finish_record, method_label, record_result, start_record
from aar.researchers.base import (
    Decision,
    ResearchView,
    degenerate,
    full_score,
    prediction_signals,
    score_of,
)
from aar.researchers.feedback import Released, dev_feedback
from aar.researchers.types import Fidelity, Proposal
from aar.researchers.untrusted import fence, summarize_error
from aar.store import (
    AuditFindingCreate,
    AuditStage,
    Experiment,
    ExperimentStatus,
    HypothesisCreate,
    HypothesisStatus,
    create_hypothesis,
    find_experiment,
    list_audit_findings,
    list_experiments,
    record_audit_finding,
    update_hypothesis,
)
from aar.store.findings import record_finding
from aar.store.models import ResearchFindingCreate
from aar.w2s.experiment import ExperimentResult, ExperimentSpec
from aar.w2s.stats import MIN_SEEDS, Comparison, paired_comparison

log = logging.getLogger(__name__)
Update = dict[str, Any]
STEP_ERROR = 500  # chars of a failed researcher step's error kept in its event and reason


# ---- helpers ------------------------------------------------------------------------------------------


GROUND_TRUTH_FIELDS = (
    "dev_pgr",
    "dev_pgr_lo",
    "dev_pgr_hi",
    "dev_pgr_by_seed",
    "verdict_vs_naive",
    "verdict_vs_best",
)


def visible(
    o: Outcome | None, feedback: str, released: Mapping[int, Released] | None = None
) -> Outcome | None:
    """An outcome as the researcher may see it; never its exact dev scores or its job's raw output.

    Blind mode blanks every ground-truth score. Dev mode shows only the released (noisy, rounded,
    rationed) scores of `released` (aar/researchers/feedback.py); without an entry there, none at all.
    A failure shows as status and builtin exception type only (aar/researchers/untrusted.py).
    """
    if o is None:
        return None
    rel = released.get(o.experiment_id) if released is not None and feedback != "blind" else None
    blank = {"dev_pgr_by_seed": {}, "verdict_vs_naive": "", "verdict_vs_best": ""}
    update: dict[str, Any] = {f: blank.get(f) for f in GROUND_TRUTH_FIELDS}
    if rel is not None:
        update |= {
            "dev_pgr": rel.pgr,
            "dev_pgr_lo": rel.lo,
            "dev_pgr_hi": rel.hi,
            "verdict_vs_naive": (rel.vs_naive if o.fidelity is None else "") or rel.note,
        }
    return o.model_copy(update={**update, "error": summarize_error(o.status, o.error) if o.error else ""})


def shown(o: Outcome, seen: ResearchView) -> Outcome:
    """`o` as the view `seen` shows it (the view is built after evaluate, so it holds every outcome)."""
    for x in (*seen.history, seen.naive, seen.best):
        if x is not None and x.experiment_id == o.experiment_id:
            return x
    return visible(o, "blind") or o  # not in the view: no ground truth at all


def _released(state: StudyState, rt: Runtime) -> tuple[dict[int, Released], str]:
    """The study's released dev scores and the line that tells the researcher how to read them."""
    if state.config.feedback == "blind":
        return {}, ""
    mechanism = dev_feedback(rt.setup, list(range(state.config.seeds)), rt.study_id)
    return mechanism.release(state.outcomes, state.naive), mechanism.describe(state.outcomes)


def view(
    state: StudyState, rt: Runtime, researcher: int = 0, claimed: list[Proposal] | None = None
) -> ResearchView:
    """What the researcher may see (see `visible`); `researcher` of the team, with what the others
    `claimed` this round, and the earlier studies' priors (dev mode only)."""
    fb = state.config.feedback
    t = rt.setup.template
    released, note = _released(state, rt)
    return ResearchView(
        goal=state.config.goal, task=state.config.task, pair=state.config.pair, template=t.name,
        feedback=state.config.feedback, round=state.round, per_round=state.config.per_round,
        template_defaults=t.defaults, template_space=t.space, library=rt.library, library_spaces=rt.library_spaces,
        history=[o for o in (visible(x, fb, released) for x in state.outcomes) if o is not None],
        naive=visible(state.naive, fb, released), best=visible(state.best, fb, released),
        budget_left=rt.budget.remaining(), feedback_note=note, researcher=researcher, team=len(rt.team),
        claimed=tuple(claimed or ()), priors=tuple(rt.priors) if fb == "dev" else (),
        seeds=state.config.seeds, w2s_train_size=len(rt.setup.splits.w2s_train),
    )  # fmt: skip


def outcome_from(
    result: ExperimentResult, experiment_id: int, hypothesis_id: int | None, code: str
) -> Outcome:
    data = result.to_json()
    dev = data["splits"].get("dev", {})
    return Outcome(
        hypothesis_id=hypothesis_id, experiment_id=experiment_id, method=result.method, hparams=result.hparams,
        status=result.status, error=result.error[:2000], dev_pgr=dev.get("pgr"),
        dev_pgr_lo=(dev.get("pgr_ci") or [None, None])[0], dev_pgr_hi=(dev.get("pgr_ci") or [None, None])[1],
        dev_pgr_by_seed={k: v for k, v in result.pgr_by_seed("dev").items() if not math.isnan(v)} if result.seed_results else {},
        signals={"weak_agreement": dev.get("weak_agreement"), "confidence": dev.get("confidence"), **prediction_signals(result)},
        code=code,
    )  # fmt: skip


def _est_device_seconds(state: StudyState) -> float:
    """Median device time of the study's finished full-fidelity jobs (an estimate for the next full
    launch; a low rung's is scaled by its cost)."""
    times = sorted(
        o.signals.get("job_seconds") or 0.0
        for o in state.outcomes
        if o.signals.get("job_seconds") and o.fidelity is None
    )
    return times[len(times) // 2] if times else 30.0


# ---- nodes --------------------------------------------------------------------------------------------


def step_failed(
    rt: Runtime, node: str, exc: AgentError, hypothesis_id: int | None = None, *, member: int | None = None
) -> str:
    """The one policy for a researcher step that failed, in every node (propose, implement, analyze, decide).

    The model already had its retries, each invalid reply shown and stored with its validation error
    (aar.llm.complete_structured); what is left is recorded here as the step's failure (an event flagged
    `failed`, shown on the terminal), and the node goes on without the step's output. Returns the reason.
    In a team, `member` names the researcher whose step failed.
    """
    reason = f"{node} failed: {' '.join(str(exc).split())[:STEP_ERROR]}"
    tag = _tag(rt, member) if member is not None else {}
    rt.event(node, reason, hypothesis_id=hypothesis_id, failed=True, **tag)
    return reason


def plan(state: StudyState, rt: Runtime) -> Update:
    """Start a round: baselines on the first, and stop early if a budget limit is reached."""
    update: Update = {"round": state.round + 1, "candidates": [], "proposals": []}
    if state.naive is None:
        rt.event(
            "plan",
            f"baselines: weak {state.config.pair.split('→')[0]}, ceiling and naive on {state.config.task}",
        )
        try:
            naive = rt.naive_baseline(list(range(state.config.seeds)))  # shown as progress, timed
        except BudgetExceeded as exc:  # the deadline passed during the baselines: no research, a report
            rt.event("plan", f"baselines stopped: {exc}")
            return update | {"stop_reason": f"budget: {exc.limit}"}
        nexp = record_result(
            rt.store,
            study_id=rt.study_id,
            result=naive,
            method_path=rt.setup.template.dir.parent / "methods" / "naive.py",
            extra_config={"role": "baseline"},
        )
        update["naive"] = outcome_from(naive, nexp, None, rt.library["naive"])
        update["best"] = update["naive"]  # the study's best is never worse than the baseline it started from
        rt.event("plan", f"naive PGR on dev: {_num(update['naive'].dev_pgr)}", experiment_id=nexp)
    reserve, reserve_s = 2 * state.config.finalists, rt.reserve_finalize()
    left = rt.budget.remaining()
    if (exhausted := rt.budget.exhausted()) or (
        left["experiments"] is not None and left["experiments"] <= reserve
    ):
        update["stop_reason"] = (
            f"budget: {exhausted or 'experiments (the rest is reserved for finalist checks)'}"
        )
        if exhausted == "deadline" and (left_s := rt.budget.seconds_left()):
            rt.event("plan", f"search time is up: the last {fmt_seconds(left_s)} are kept for finalize")
    elif state.round >= state.config.max_rounds:
        update["stop_reason"] = f"reached {state.config.max_rounds} rounds"
    else:
        kept = f"; {fmt_seconds(reserve_s)} kept for finalize" if rt.budget.limits.deadline else ""
        rt.event("plan", f"round {state.round + 1}: budget {rt.budget.describe()}{kept}")
    return update


def _num(value: float | None) -> str:
    """A score rounded for people (the store keeps full precision)."""
    return "n/a" if value is None else f"{value:.2f}"


def route_after_plan(state: StudyState) -> Literal["propose", "finalize"]:
    return "finalize" if state.stop_reason else "propose"


def propose(state: StudyState, rt: Runtime) -> Update:
    """The researchers propose hypotheses (each up to `per_round`, seeing what the others claimed this
    round); each becomes a Hypothesis row of the study's one tree."""
    proposals: list[Proposal] = []
    candidates: list[Candidate] = []
    failed = ""
    for i, researcher in enumerate(rt.team):
        try:
            mine = researcher.propose(view(state, rt, i, proposals))[: state.config.per_round]
        except BudgetExceeded as exc:
            return {"stop_reason": f"budget: {exc.limit}"}
        except AgentError as exc:  # no valid proposals from this researcher
            failed = step_failed(rt, "propose", exc, member=i)
            continue
        candidates += [_hypothesis(rt, p, i) for p in mine]
        proposals += mine
    if not candidates:  # the round, and so the study, has nothing to run
        return {"stop_reason": failed or "the researcher proposed nothing"}
    return {"proposals": proposals, "candidates": candidates}


def _tag(rt: Runtime, index: int) -> dict[str, str]:
    """A team member's label for an event's data; nothing when the study has one researcher."""
    return {"researcher": rt.who(index)} if rt.helpers else {}


def _said(rt: Runtime, index: int, message: str) -> str:
    """An event message, prefixed with the team member's label in a team."""
    return f"[{rt.who(index)}] {message}" if rt.helpers else message


def _hypothesis(rt: Runtime, p: Proposal, researcher: int) -> Candidate:
    """A proposal as a Hypothesis row and a pending candidate."""
    with rt.store.session() as session:
        h = create_hypothesis(session=session, study_id=rt.study_id, hypothesis_in=HypothesisCreate(
            text=p.text, rationale=p.rationale, expected_effect=p.expected_effect, parent_id=p.parent_id))  # fmt: skip
        hid = int(h.id or 0)
    rt.event("propose", _said(rt, researcher, p.text), hypothesis_id=hid, method=p.base_method, hparams=p.hparams, **_tag(rt, researcher))  # fmt: skip
    return Candidate(hypothesis_id=hid, proposal=p, researcher=researcher)


def route_after_propose(state: StudyState) -> Literal["implement", "finalize"]:
    return "finalize" if state.stop_reason else "implement"


def implement(state: StudyState, rt: Runtime) -> Update:
    """The researcher writes method.py for every candidate still pending."""
    out, seen = [], view(state, rt)  # one view for the node: building it reads the budget ledger
    for c in state.candidates:
        if c.status != "pending":
            out.append(c)
            continue
        try:
            code = rt.team[c.researcher].implement(c.proposal, c.observations, seen)
        except BudgetExceeded as exc:
            return {"stop_reason": f"budget: {exc.limit}"}
        except AgentError as exc:  # no valid code: the hypothesis fails (audit marks it abandoned)
            failure = step_failed(rt, "implement", exc, c.hypothesis_id)
            out.append(c.model_copy(update={"status": "failed", "observations": [*c.observations, failure]}))
            continue
        rt.event(
            "implement",
            f"method.py for hypothesis {c.hypothesis_id} ({len(code.splitlines())} lines)",
            hypothesis_id=c.hypothesis_id,
        )
        out.append(c.model_copy(update={"code": code, "attempts": c.attempts + 1, "status": "implemented"}))
    return {"candidates": out}


def audit(state: StudyState, rt: Runtime) -> Update:
    """Static rules, then a smoke run on tiny data in the sandbox; failures go back to implement.

    Every rejection is recorded in the store (`audit_finding`); a hypothesis given up after
    rejections is marked "rejected by audit: <first problem>"."""
    if limit := rt.budget.exhausted():  # past the search deadline: no smoke runs, on to finalize
        return {"stop_reason": f"budget: {limit}"}
    out, rejected = [], set[int]()
    for c in state.candidates:
        if c.status != "implemented":
            out.append(c)
            continue
        problem = _audit_one(c, rt)
        if problem is None:
            rt.event("audit", f"hypothesis {c.hypothesis_id}: passed", hypothesis_id=c.hypothesis_id)
            out.append(c.model_copy(update={"status": "audited"}))
            continue
        retry = c.attempts <= state.config.audit_retries
        rt.event(
            "audit",
            f"hypothesis {c.hypothesis_id}: {problem}"
            + (" (back to implement)" if retry else " (giving up)"),
            hypothesis_id=c.hypothesis_id,
        )
        if not retry:
            rejected.add(c.hypothesis_id)
        out.append(
            c.model_copy(
                update={
                    "status": "pending" if retry else "failed",
                    "observations": [*c.observations, problem],
                }
            )
        )
    for c in out:
        if c.status == "failed":
            with rt.store.session() as session:
                update_hypothesis(
                    session=session,
                    hypothesis_id=c.hypothesis_id,
                    status=HypothesisStatus.ABANDONED,
                    finding=_rejection(rt, c.hypothesis_id)
                    if c.hypothesis_id in rejected
                    else "; ".join(c.observations)[-2000:],
                )
    return {"candidates": out}


def _record_rejection(rt: Runtime, c: Candidate, stage: AuditStage, problems: list[str]) -> None:
    """Keep one audit rejection (with the rejected code) in the store: report and dashboard flag it."""
    sha = rt.store.put_artifact(
        c.code.encode("utf-8", errors="replace"), kind="code", media_type="text/x-python"
    )
    finding = AuditFindingCreate(
        hypothesis_id=c.hypothesis_id, attempt=c.attempts, stage=stage, problems=[p[:500] for p in problems], code_sha256=sha
    )  # fmt: skip
    with rt.store.session() as session:
        record_audit_finding(session=session, study_id=rt.study_id, finding_in=finding)


def _rejection(rt: Runtime, hypothesis_id: int) -> str:
    """A given-up hypothesis's finding: the first problem of its last audit rejection."""
    with rt.store.session() as session:
        found = list_audit_findings(session=session, study_id=rt.study_id, hypothesis_id=hypothesis_id)
    problems = found[-1].problems if found else []
    return f"rejected by audit: {problems[0] if problems else 'no problem recorded'}"[:2000]


def _audit_one(c: Candidate, rt: Runtime) -> str | None:
    static = audit_source(c.code)
    if not static.ok:
        _record_rejection(rt, c, AuditStage.STATIC, static.problems)
        return f"static audit: {static.describe()}"
    with tempfile.TemporaryDirectory(prefix="aar-smoke-") as tmp:
        method = Path(tmp) / "method.py"
        method.write_text(c.code)
        spec = ExperimentSpec(
            rt.smoke_setup,
            method,
            c.proposal.base_method,
            [0],
            {**c.proposal.hparams, "epochs": 1},
            eval_splits=("dev",),
            threads=1,
        )
        result = rt.run(spec)
    if result.status == "ok":
        return None
    problem = f"smoke run {summarize_error(result.status, result.error)}"
    _record_rejection(rt, c, AuditStage.SMOKE, [problem])
    return f"{problem}; its output, as untrusted data:\n{fence(result.error)}"


def route_after_audit(state: StudyState) -> Literal["implement", "run", "finalize"]:
    if state.stop_reason:
        return "finalize"
    return "implement" if any(c.status == "pending" for c in state.candidates) else "run"


def run(state: StudyState, rt: Runtime) -> Update:
    """Launch every audited candidate (budget-checked, in parallel over the free slots); record results.

    In a team an identical experiment (same method code, same hyperparameters) runs once: a candidate
    that repeats one already run, or one run this round, shares its result (`duplicate_of`)."""
    todo = [c for c in state.candidates if c.status == "audited"]
    shared: dict[int, int] = {}  # hypothesis id -> experiment id it shares
    twins: dict[int, int] = {}  # hypothesis id -> hypothesis id of the identical candidate that runs
    if rt.helpers:
        todo, shared, twins = _deduplicate(todo, rt)
    est = _est_device_seconds(state)
    with ThreadPoolExecutor(max_workers=rt.slots) as pool:
        finished = list(pool.map(lambda c: _run_one(c, state, rt, est), todo))
    stop = next((r for r in finished if isinstance(r, str)), None)
    ran = {c.hypothesis_id: r for c, r in zip(todo, finished, strict=True) if not isinstance(r, str)}
    shared |= {h: ran[t] for h, t in twins.items() if t in ran}
    cands = [_after_run(c, ran, shared, rt) for c in state.candidates]
    return {"candidates": cands, **({"stop_reason": stop} if stop else {})}


def _after_run(c: Candidate, ran: dict[int, int], shared: dict[int, int], rt: Runtime) -> Candidate:
    if c.hypothesis_id in ran:
        return c.model_copy(update={"status": "done"})
    if (exp := shared.get(c.hypothesis_id)) is None:
        return c
    rt.event(
        "run",
        _said(rt, c.researcher, f"hypothesis {c.hypothesis_id}: the same code and hyperparameters already "
              "ran: not run again, its result is shared"),
        hypothesis_id=c.hypothesis_id, experiment_id=exp, duplicate=True, **_tag(rt, c.researcher),
    )  # fmt: skip
    return c.model_copy(update={"status": "done", "duplicate_of": exp})


SHAREABLE = {"ok", "failed", "invalid_output"}  # results an identical job would repeat (not infra ends)


def experiment_key(
    code: str, hparams: Mapping[str, Any], fidelity: Fidelity | None = None
) -> tuple[str, str]:
    """What makes two search experiments identical: the method code's hash, the hyperparameters
    (resolved over the template's defaults, as `ExperimentSpec.hparams` records them) and the fidelity
    (a promoted point reruns a low rung's hyperparameters at full fidelity: not a repeat)."""
    shown = dict(hparams) | ({"__fidelity__": fidelity.model_dump()} if fidelity else {})
    return hashlib.sha256(code.encode()).hexdigest(), json.dumps(shown, sort_keys=True, default=str)


def _deduplicate(
    todo: list[Candidate], rt: Runtime
) -> tuple[list[Candidate], dict[int, int], dict[int, int]]:
    """Split `todo` into the candidates to run, those an earlier experiment answers (hypothesis id ->
    experiment id) and those identical to one run this round (hypothesis id -> its hypothesis id)."""
    with rt.store.session() as session:
        rows = list_experiments(session=session, study_id=rt.study_id)
    earlier: dict[tuple[str, str], Experiment] = {}
    for r in rows:
        if r.config.get("role") in SEARCH_RUNS and r.status in SHAREABLE and r.method_sha256:
            hparams = r.config.get("hparams") or {}
            earlier.setdefault((r.method_sha256, experiment_key("", hparams, fidelity_of(r))[1]), r)
    first: dict[tuple[str, str], int] = {}
    keep, shared, twins = [], {}, {}
    for c in todo:
        key = experiment_key(
            c.code, {**rt.setup.template.defaults, **c.proposal.hparams}, c.proposal.fidelity
        )
        if (row := earlier.get(key)) is not None and row.hypothesis_id != c.hypothesis_id:
            shared[c.hypothesis_id] = int(row.id or 0)
        elif key in first:
            twins[c.hypothesis_id] = first[key]
        else:
            first[key] = c.hypothesis_id
            keep.append(c)
    return keep, shared, twins


FINISHED = {s.value for s in ExperimentStatus} - {"queued", "running", "interrupted"}
# A low-fidelity search run's role: the store's "best run" queries (roles search and ""), the report's
# method table and the finalists never count it (aar/store/queries.py SEARCH_ROLES, aar/report/data.py).
LOW_RUNG = "low_rung"
SEARCH_RUNS = ("search", LOW_RUNG)


def _search_rows(rt: Runtime, hypothesis_id: int) -> list[Experiment]:
    with rt.store.session() as session:
        rows = list_experiments(session=session, study_id=rt.study_id, hypothesis_id=hypothesis_id)
    return [r for r in rows if r.config.get("role") in SEARCH_RUNS]


def _existing(rt: Runtime, hypothesis_id: int) -> Experiment | None:
    """The hypothesis's finished search experiment, if any."""
    return next((r for r in _search_rows(rt, hypothesis_id) if r.status in FINISHED), None)


def job_threads(slots: int) -> int:
    """Torch threads per search job: one when jobs run side by side (default torch threads per job
    oversubscribe the cores: 1.3-16 min per job against 8-30 s, issue 12), else every core."""
    return 1 if slots > 1 else max(1, os.cpu_count() or 1)


def _run_one(c: Candidate, state: StudyState, rt: Runtime, est: float) -> int | str:
    """The experiment id, or a stop reason when the budget refuses the launch."""
    rows = _search_rows(rt, c.hypothesis_id)
    if (done := next((r for r in rows if r.status in FINISHED), None)) is not None:
        return int(done.id or 0)  # finished before a crash: never rerun
    requeued = next((int(r.id or 0) for r in rows if r.status == ExperimentStatus.QUEUED), None)
    rt.check_stop()  # `aar stop`, Ctrl-C: stop here, after the running job, before the next launch
    fid, seeds = c.proposal.fidelity, state.config.seeds
    units = fid.cost(seeds) if fid else 1.0  # a low-fidelity run costs its share of a full experiment
    try:
        rt.budget.reserve_launch(est * units, experiments=units)
    except BudgetExceeded as exc:
        return f"budget: {exc.limit}"
    try:
        with tempfile.TemporaryDirectory(prefix="aar-method-") as tmp:
            method = Path(tmp) / "method.py"
            method.write_text(c.code)
            threads = job_threads(rt.slots)
            # Recorded under the code's own name (hypothesis + hash) unless it is the library's, verbatim.
            base = c.proposal.base_method
            name = method_label(
                base,
                method.read_bytes(),
                library_dir=rt.setup.template.dir.parent / "methods",
                hypothesis_id=c.hypothesis_id,
            )
            spec = ExperimentSpec(
                rt.setup,
                method,
                name,
                list(range(min(fid.seeds, seeds) if fid else seeds)),
                c.proposal.hparams,
                eval_splits=("dev",),
                threads=threads,
                w2s_fraction=fid.w2s_fraction if fid else 1.0,
            )
            extra = {"role": LOW_RUNG if fid else "search", "round": state.round, "base_method": base} | (
                {"fidelity": fid.model_dump()} if fid else {}
            )
            exp_id = start_record(rt.store, study_id=rt.study_id, spec=spec, hypothesis_id=c.hypothesis_id, sandbox_kind=rt.sandbox_kind,
                                  extra_config=extra, experiment_id=requeued)  # fmt: skip
            rt.event(
                "run",
                f"hypothesis {c.hypothesis_id}: {name} (from {base}) {json.dumps(c.proposal.hparams)} on {rt.sandbox_kind}"
                + (f" ({fid.describe()}, {units:.2g} experiment)" if fid else ""),
                hypothesis_id=c.hypothesis_id,
                experiment_id=exp_id,
            )
            result = rt.run(spec, role=LOW_RUNG if fid else "search")  # a low rung's time: its own ETA
            finish_record(rt.store, experiment_id=exp_id, result=result)
        rt.budget.charge(
            "experiments",
            units,
            key=f"experiment:{exp_id}",
            what_for=name + (f" ({fid.describe()})" if fid else ""),
            experiment_id=exp_id,
        )
        return exp_id
    finally:
        rt.budget.release(est * units, experiments=units)


def evaluate(state: StudyState, rt: Runtime) -> Update:
    """Read this round's results back from the store (host-scored) into outcomes."""
    outcomes = []
    for c in state.candidates:
        prior = _existing(rt, c.hypothesis_id) if c.status == "done" else None
        if prior is None or prior.id is None:
            continue
        result = _load_result(rt, prior)
        o = outcome_from(result, prior.id, c.hypothesis_id, c.code)
        o.signals["job_seconds"] = prior.device_seconds
        o.fidelity = fidelity_of(prior)
        outcomes.append(o)
        rt.event(
            "evaluate",
            f"experiment {prior.number}: {o.status}"
            + (
                f", dev PGR {o.dev_pgr:.3f}"
                if o.dev_pgr is not None and state.config.feedback == "dev"
                else ""
            )
            + (f" ({o.fidelity.describe()})" if o.fidelity else ""),
            hypothesis_id=c.hypothesis_id,
            experiment_id=prior.id,
        )
    return {"outcomes": outcomes}


def fidelity_of(exp: Experiment) -> Fidelity | None:
    """A search experiment's rung as its row records it (`config["fidelity"]`); None: full fidelity."""
    found = exp.config.get("fidelity")
    return Fidelity.model_validate(found) if isinstance(found, dict) else None


def _load_result(rt: Runtime, exp: Experiment) -> ExperimentResult:
    from aar.w2s.experiment import result_from_json

    data = json.loads(rt.store.get_artifact(exp.output_sha256)) if exp.output_sha256 else {}
    return result_from_json(data, status=exp.status, error=exp.error or "")


def analyze(state: StudyState, rt: Runtime) -> Update:
    """Paired comparisons with naive and the best so far; a finding per hypothesis; update the best."""
    done = {c.hypothesis_id for c in state.candidates if c.status == "done"}
    new = list({o.hypothesis_id: o for o in state.outcomes if o.hypothesis_id in done}.values())
    best, improved, stop = state.best, False, None
    seen = view(state, rt)
    judged: list[Outcome] = []
    by_hypothesis = {c.hypothesis_id: c for c in state.candidates}
    for o in new:
        if state.naive and o.status == "ok" and o.fidelity is None:  # a low rung is no method comparison
            o = o.model_copy(update=_verdicts(rt, o, state.naive, best))
        judged.append(o)
        c = by_hypothesis[o.hypothesis_id or 0]
        if o.fidelity is None:  # the findings board (next studies' priors) holds full-fidelity results only
            _post(rt, state, o, c, seen)
        try:
            finding = rt.team[c.researcher].analyze(shown(o, seen), seen)
        except BudgetExceeded as exc:
            finding, stop = f"(no analysis: budget limit {exc.limit} reached)", f"budget: {exc.limit}"
        except AgentError as exc:  # no valid finding: the verdicts still stand
            finding = f"({step_failed(rt, 'analyze', exc, o.hypothesis_id)})"
        if (reason := degenerate(o)) and reason not in finding:
            finding = f"not ranked: {reason}. {finding}"
        if o.fidelity is not None and o.fidelity.describe() not in finding:
            finding = f"({o.fidelity.describe()}) {finding}"
        status = _hypothesis_status(o)
        with rt.store.session() as session:
            update_hypothesis(
                session=session, hypothesis_id=o.hypothesis_id or 0, status=status, finding=finding
            )
        rt.event("analyze", finding, hypothesis_id=o.hypothesis_id, experiment_id=o.experiment_id)
        feedback = state.config.feedback
        if full_score(o, feedback) is not None and (
            best is None or (full_score(o, feedback) or 0) > (score_of(best, feedback) or 0)
        ):
            best, improved = o, True
    for c in state.candidates:
        if c.status == "done" and c.duplicate_of is not None:
            _share(rt, state, c, {o.experiment_id: o for o in [*state.outcomes, *judged]}, seen)
    update: Update = {
        "outcomes": judged,
        "best": best,
        "stalled_rounds": 0 if improved else state.stalled_rounds + 1,
    }
    return update | ({"stop_reason": stop} if stop else {})


def _share(
    rt: Runtime, state: StudyState, c: Candidate, outcomes: dict[int, Outcome], seen: ResearchView
) -> None:
    """A duplicate's hypothesis takes the result of the experiment it repeats: status, finding, board row."""
    twin = outcomes.get(c.duplicate_of or 0)
    status = _hypothesis_status(twin) if twin is not None else HypothesisStatus.ABANDONED
    finding = (
        f"same code and hyperparameters as hypothesis {twin.hypothesis_id}'s experiment: its result is shared"
        if twin is not None else "same code and hyperparameters as an earlier experiment, which left no result"
    )  # fmt: skip
    with rt.store.session() as session:
        update_hypothesis(session=session, hypothesis_id=c.hypothesis_id, status=status, finding=finding)
    if twin is not None and twin.fidelity is None:
        _post(rt, state, twin, c, seen, duplicate=True)


def _post(
    rt: Runtime, state: StudyState, o: Outcome, c: Candidate, seen: ResearchView, *, duplicate: bool = False
) -> None:
    """Post candidate `c`'s result `o` to the study's findings board: the hyperparameters it set, Δ dev
    PGR vs naive with its CI, and the gap (weak and ceiling dev accuracy) it was measured on. Numbers and
    names only (never a job's output); `duplicate`: `o` is the identical experiment it shares."""
    delta, gap = _vs_naive(rt, o, state.naive)
    est = delta.diff if delta is not None else None
    row = ResearchFindingCreate(
        hypothesis_id=c.hypothesis_id, experiment_id=o.experiment_id, researcher=rt.who(c.researcher),
        task_fingerprint=rt.setup.fingerprint, pair=state.config.pair, feedback=state.config.feedback,
        method=o.method[:200], code_sha256=experiment_key(o.code, {})[0], hparams=c.proposal.hparams, status=o.status[:20],
        delta=_finite(est.mean if est else None), delta_lo=_finite(est.lo if est else None),
        delta_hi=_finite(est.hi if est else None), verdict=(delta.verdict if delta else "")[:60],
        weak_acc=gap.get("weak_acc"), ceiling_acc=gap.get("ceiling_acc"), duplicate=duplicate,
        shown_delta=_shown_delta(o, seen),
    )  # fmt: skip
    with rt.store.session() as session:
        record_finding(session=session, study_id=rt.study_id, finding_in=row)


def _shown_delta(o: Outcome, seen: ResearchView) -> float | None:
    """Δ dev PGR vs naive as the researcher was shown it (released scores); None when it saw none."""
    mine, naive = shown(o, seen).dev_pgr, seen.naive.dev_pgr if seen.naive else None
    return None if mine is None or naive is None else mine - naive


def _vs_naive(rt: Runtime, o: Outcome, naive: Outcome | None) -> tuple[Comparison | None, dict[str, float]]:
    """The outcome's paired Δ against naive on dev (None unless both ran) and its dev weak/ceiling accuracy."""
    with rt.store.session() as session:
        rows = [find_experiment(session=session, experiment_id=x.experiment_id) for x in (o, naive) if x]
    if not rows or rows[0] is None:
        return None, {}
    mine = _load_result(rt, rows[0])
    dev = mine.to_json()["splits"].get("dev", {}) if mine.seed_results else {}
    gap = {k: float(v) for k in ("weak_acc", "ceiling_acc") if (v := _finite(dev.get(k))) is not None}
    if o.status != "ok" or len(rows) < 2 or rows[1] is None:
        return None, gap
    return mine.compare(_load_result(rt, rows[1]), "dev"), gap


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _verdicts(rt: Runtime, o: Outcome, naive: Outcome, best: Outcome | None) -> dict[str, str]:
    """Paired verdicts of an outcome against naive and against the best so far (dev)."""
    vs_best = _paired(rt, o, best) if best else "first result"
    return {"verdict_vs_naive": _paired(rt, o, naive), "verdict_vs_best": vs_best}


def _paired(rt: Runtime, a: Outcome, b: Outcome) -> str:
    """a − b on dev, paired over seeds and examples from the stored results (aar/w2s/stats.py); over
    seeds only when either result kept no per-example scores."""
    with rt.store.session() as session:
        rows = [find_experiment(session=session, experiment_id=o.experiment_id) for o in (a, b)]
    if rows[0] is None or rows[1] is None:
        return paired_comparison(a.dev_pgr_by_seed, b.dev_pgr_by_seed).describe()
    return _load_result(rt, rows[0]).compare(_load_result(rt, rows[1]), "dev").describe()


def _hypothesis_status(o: Outcome) -> HypothesisStatus:
    """Supported / refuted only on a paired verdict over at least MIN_SEEDS seeds; else inconclusive.
    Degenerate (one-class, constant) predictions refute the hypothesis whatever they score."""
    if o.status != "ok":
        return HypothesisStatus.ABANDONED
    if o.fidelity is not None:  # a low rung: too few seeds and rows to support or refute anything
        return HypothesisStatus.INCONCLUSIVE
    if degenerate(o):  # one-class or constant predictions: a label-free trick, not a method
        return HypothesisStatus.REFUTED
    if len(o.dev_pgr_by_seed) < MIN_SEEDS:
        return HypothesisStatus.INCONCLUSIVE
    verdict = o.verdict_vs_naive.rpartition(": ")[2]  # describe() ends with ": <verdict>"
    if verdict == "better":
        return HypothesisStatus.SUPPORTED
    if verdict == "worse":
        return HypothesisStatus.REFUTED
    return HypothesisStatus.INCONCLUSIVE


def decide(state: StudyState, rt: Runtime) -> Update:
    """Continue or stop: budget, goal reached, or the researcher's own call (the builtin researcher's
    is a stated convergence test; a stalled round count alone no longer ends a study with budget left)."""
    if state.stop_reason:
        return {}
    cfg = state.config
    best = state.best
    if (
        cfg.target_pgr is not None
        and best
        and best.dev_pgr_lo is not None
        and best.dev_pgr_lo >= cfg.target_pgr
    ):
        reason = f"goal met: best dev PGR CI lower bound {best.dev_pgr_lo:.3f} ≥ target {cfg.target_pgr}"
    else:
        try:
            decision = _team_decision(state, rt) if rt.helpers else rt.researcher.decide(view(state, rt))
        except BudgetExceeded as exc:
            decision_reason = f"budget: {exc.limit}"
            rt.event("decide", f"stop: {decision_reason}")
            return {"stop_reason": decision_reason}
        except AgentError as exc:  # no valid decision: go on; budget and rounds still end the study
            step_failed(rt, "decide", exc)
            return {}
        if decision.action != "stop":
            rt.event("decide", f"continue: {decision.reason}")
            return {}
        reason = f"researcher: {decision.reason}"
    rt.event("decide", f"stop: {reason}")
    return {"stop_reason": reason}


def _team_decision(state: StudyState, rt: Runtime) -> Decision:
    """A team stops only when every researcher would stop; one whose step fails counts as going on."""
    reasons = []
    for i, researcher in enumerate(rt.team):
        try:
            decision = researcher.decide(view(state, rt, i))
        except AgentError as exc:
            step_failed(rt, "decide", exc, member=i)
            return Decision("continue", f"{rt.who(i)} gave no decision")
        if decision.action != "stop":
            return Decision("continue", f"{rt.who(i)}: {decision.reason}")
        reasons.append(f"{rt.who(i)}: {decision.reason}")
    return Decision("stop", "; ".join(reasons))


def route_after_decide(state: StudyState) -> Literal["plan", "finalize"]:
    return "finalize" if state.stop_reason else "plan"


def report(state: StudyState, rt: Runtime) -> Update:
    """Write the study report and mark the study finished."""
    from aar.graph.finish import finish_study

    path = finish_study(rt, state)
    rt.event("report", f"report written to {path}")
    return {"report_path": str(path)}
