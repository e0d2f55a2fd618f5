"""The builtin researcher (no LLM): walk the method library, then search the most promising methods'
hyperparameters with Optuna TPE, spending experiments where the confidence intervals still overlap.

The search is multi-fidelity (asynchronous successive halving, ASHA: Li et al., "A System for Massively
Parallel Hyperparameter Tuning", MLSys 2020): a new TPE point first runs on a low rung (fewer seeds, a
third of w2s_train, a fraction of an experiment's cost); the top 1/ETA of a rung's completed points are
rerun at full fidelity. Only full-fidelity results are method comparisons (best, verdicts, finalists).

It is the offline default and the baseline an LLM researcher must beat.
"""

from __future__ import annotations

import json
import logging
import zlib
from typing import Any

import optuna

from aar.progress import fmt_hparams
from aar.researchers.base import Decision, ResearchView, degenerate, full_score, score_of
from aar.researchers.priors import ordered_by_priors
from aar.researchers.types import Fidelity, Outcome, Proposal

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)

# The library walk, in order (methods and sources: README's method table).
LIBRARY_ORDER = (
    "aux_conf", "product", "confident_filter", "weak_ensemble", "early_stop", "bootstrap",
    "denoised_aux_conf", "knn_denoise", "self_train", "strong_ensemble", "low_rank",
)  # fmt: skip
SEARCHED_TEMPLATE_KEYS = ("lr", "epochs")

# Multi-fidelity. One low rung under full fidelity, a third of its w2s_train rows (η = 3: each rung
# gets η times the data of the one below, as in successive halving) on max(2, seeds // 2) of its seeds:
# two are the fewest a mean with a spread can rest on, and half the seeds (not a third) because seed
# noise, not data, dominates PGR here (issue 12: seed SD 0.14-0.18). With 3 seeds a low-rung point costs
# 2/3 × 1/3 = 0.22 of an experiment. Below 3 seeds, or when a third of w2s_train is under MIN_LOW_ROWS
# rows, a low rung would measure noise: every point runs at full fidelity.
ETA = 3
LOW_W2S_FRACTION = 1 / ETA
MIN_LOW_SEEDS = 2
MIN_FULL_SEEDS = 3
MIN_LOW_ROWS = 100


def low_rung(seeds: int, w2s_train_size: int) -> Fidelity | None:
    """The low rung new search points start on, or None when the study is too small for one."""
    if seeds < MIN_FULL_SEEDS or w2s_train_size * LOW_W2S_FRACTION < MIN_LOW_ROWS:
        return None
    return Fidelity(rung=0, seeds=max(MIN_LOW_SEEDS, seeds // 2), w2s_fraction=LOW_W2S_FRACTION)


def distribution(spec: dict[str, Any]) -> optuna.distributions.BaseDistribution:
    """An Optuna distribution from a template/method space entry."""
    if "choices" in spec:
        return optuna.distributions.CategoricalDistribution(list(spec["choices"]))
    low, high = float(spec["low"]), float(spec["high"])
    return optuna.distributions.FloatDistribution(low, high, log=bool(spec.get("log", False)) and low > 0)


def inside(dist: optuna.distributions.BaseDistribution, value: Any) -> bool:
    """Whether `value` is a point of `dist` (a default can lie outside a method's search space)."""
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


class BuiltinResearcher:
    """Library walk, then per-method TPE search; deterministic for a given history and seed.

    In a team (`--researchers N`) each member has its own seed and starts its walk at its own place in
    the library (researcher i of N at i/N of the way), skips what the others claimed this round, and
    searches the contenders in its own order. Priors (earlier studies on the same task and pair) put the
    methods that helped there first and warm-start the search with their measured points.
    """

    name = "builtin"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    # ---- propose --------------------------------------------------------------------------------
    def propose(self, view: ResearchView) -> list[Proposal]:
        """Untried library methods first (full fidelity: they are the report's method comparison), then
        promotions of the low rung's best to full fidelity, then new TPE points for the open contenders
        (on the low rung when the study has one): every slot filled."""
        tried = {o.method for o in view.history} | {p.base_method for p in view.claimed if not p.hparams}
        untried = [m for m in self.library_order(view) if m in view.library and m not in tried]
        proposals = [self._library_proposal(m) for m in untried[: view.per_round]]
        proposals += promotions(view)[: view.per_round - len(proposals)]
        contenders = _rotated(self._contenders(view), view.researcher)
        slots = view.per_round - len(proposals)
        if not contenders or slots <= 0:
            return proposals
        share = {
            m: slots // len(contenders) + (i < slots % len(contenders)) for i, m in enumerate(contenders)
        }
        rung = low_rung(view.seeds, view.w2s_train_size)
        for method, n in share.items():
            proposals += [self._search_proposal(method, h, rung) for h in self._tpe_asks(method, view, n)]
        return proposals

    @staticmethod
    def library_order(view: ResearchView) -> list[str]:
        """The walk's order: this team member's rotation of LIBRARY_ORDER, then what helped before first."""
        walk = _rotated(list(LIBRARY_ORDER), view.researcher * len(LIBRARY_ORDER) // max(1, view.team))
        return ordered_by_priors(walk, view.priors) if view.priors else walk

    def _library_proposal(self, method: str) -> Proposal:
        return Proposal(
            text=f"Library method `{method}` with its default hyperparameters beats naive weak-to-strong training.",
            rationale="Walk the known W2SG methods first: they are the literature's strongest priors.",
            expected_effect="PGR above the naive baseline's, outside the seed noise.",
            base_method=method,
        )

    def _contenders(self, view: ResearchView) -> list[str]:
        """Methods whose CI still reaches the best mean, best first (upper confidence bound order); by
        full-fidelity results only (a low rung's fewer seeds and rows are no method comparison)."""
        by_method: dict[str, list[Outcome]] = {}
        for o in view.history:
            if full_score(o, view.feedback) is not None:
                by_method.setdefault(o.method, []).append(o)
        best = max((full_score(o, view.feedback) or -9.0 for o in view.history), default=None)
        ranked = []
        for method, outs in by_method.items():
            top = max(outs, key=lambda o: score_of(o, view.feedback) or -9.0)
            mean = score_of(top, view.feedback) or 0.0
            upper = top.dev_pgr_hi if view.feedback == "dev" and top.dev_pgr_hi is not None else mean
            if best is None or upper >= best:
                ranked.append((upper, method))
        return [m for _, m in sorted(ranked, reverse=True)] or list(by_method)[:1]

    def _search_proposal(self, method: str, hparams: dict[str, Any], rung: Fidelity | None) -> Proposal:
        low = (
            f" A first look on the low rung ({rung.describe()}); the top 1/{ETA} go on to full fidelity."
            if rung
            else ""
        )
        return Proposal(
            text=f"`{method}` with {fmt_hparams(hparams)} improves on its best configuration so far.",
            rationale="Its confidence interval still overlaps the best result: the answer is open; TPE proposes the next point." + low,
            expected_effect="Higher PGR than this method's best so far.",
            base_method=method,
            hparams=hparams,
            fidelity=rung,
        )  # fmt: skip

    def _tpe_asks(self, method: str, view: ResearchView, n: int) -> list[dict[str, Any]]:
        """`n` distinct TPE points for `method`, the study warm-started with every completed trial of it
        (its library default included: a key the run did not set counts at the template's default, a key
        with no known value is left out of that trial). A constant liar keeps one batch's points apart."""
        space = {k: v for k, v in view.template_space.items() if k in SEARCHED_TEMPLATE_KEYS}
        space.update(view.library_spaces.get(method, {}))
        dists = {k: distribution(v) for k, v in space.items()}
        seed = self.seed + 1000 * view.round + zlib.crc32(method.encode()) % 1000
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4, constant_liar=True)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for trial in self._trials(method, dists, view):
            study.add_trial(trial)
        return [study.ask(dists).params for _ in range(n)]

    @staticmethod
    def _trials(
        method: str, dists: dict[str, optuna.distributions.BaseDistribution], view: ResearchView
    ) -> list[optuna.trial.FrozenTrial]:
        """Every ranked point of `method` as a completed trial, over the parameters whose value is known:
        its full-fidelity score, or its low rung's while it has no full one. Low-rung scores sit lower
        (less data), which shifts them together; TPE splits points by rank, so they still inform it."""
        trials = []
        for o in _highest_rung(view.history, method):
            value = score_of(o, view.feedback)
            if value is None:
                continue
            params = {k: o.hparams.get(k, view.template_defaults.get(k)) for k in dists}
            known = {k: v for k, v in params.items() if v is not None and inside(dists[k], v)}
            trials.append(optuna.trial.create_trial(
                params=known, distributions={k: dists[k] for k in known}, value=value))  # fmt: skip
        return trials + BuiltinResearcher._prior_trials(method, dists, view)

    @staticmethod
    def _prior_trials(
        method: str, dists: dict[str, optuna.distributions.BaseDistribution], view: ResearchView
    ) -> list[optuna.trial.FrozenTrial]:
        """Earlier studies' points of `method` as completed trials (warm start): this study's naive dev
        PGR as released plus the Δ measured there. Dev mode only (blind mode has neither)."""
        naive = view.naive.dev_pgr if view.naive is not None and view.feedback == "dev" else None
        if naive is None:
            return []
        trials = []
        for p in view.priors:
            params = (
                {k: p.hparams.get(k, view.template_defaults.get(k)) for k in dists}
                if p.method == method
                else {}
            )
            known = {k: v for k, v in params.items() if v is not None and inside(dists[k], v)}
            if known:
                trials.append(optuna.trial.create_trial(
                    params=known, distributions={k: dists[k] for k in known}, value=naive + p.delta))  # fmt: skip
        return trials

    # ---- implement / analyze / decide ----------------------------------------------------------
    def implement(self, proposal: Proposal, observations: list[str], view: ResearchView) -> str:
        return view.library[proposal.base_method]

    def analyze(self, outcome: Outcome, view: ResearchView) -> str:
        if outcome.status != "ok":
            return f"{outcome.method} did not finish ({outcome.status}): {outcome.error[:200]}"
        if reason := degenerate(outcome):
            return f"{outcome.method}: not ranked: {reason}."
        if outcome.fidelity is not None:
            return _low_rung_finding(outcome, view)
        if view.feedback == "blind":
            conf, agree = (
                outcome.signals.get("confidence") or 0.0,
                outcome.signals.get("weak_agreement") or 0.0,
            )
            return (
                f"{outcome.method}: label-free confidence {conf:.3f}, agreement with weak labels {agree:.3f}."
            )
        ci = (
            "no CI"
            if outcome.dev_pgr_lo is None
            else f"CI [{outcome.dev_pgr_lo:.3f}, {outcome.dev_pgr_hi or 0:.3f}]"
        )
        pgr = "n/a (no weak-to-ceiling gap)" if outcome.dev_pgr is None else f"{outcome.dev_pgr:.3f}"
        return (
            f"{outcome.method}: dev PGR {pgr} ({ci}); vs naive: {outcome.verdict_vs_naive}; "
            f"vs best so far: {outcome.verdict_vs_best}."
        )

    def decide(self, view: ResearchView) -> Decision:
        """Continue until the budget ends it, unless the search has converged (`converged`)."""
        tried = {o.method for o in view.history}
        if any(m not in tried for m in LIBRARY_ORDER if m in view.library):
            return Decision("continue", "library methods left to try")
        if reason := converged(view):
            return Decision("stop", reason)
        return Decision("continue", "searching hyperparameters of the open contenders")


def _low_rung_finding(o: Outcome, view: ResearchView) -> str:
    """A low-rung outcome's finding: its score, ranked only against its rung."""
    score = score_of(o, view.feedback)
    what = "label-free confidence" if view.feedback == "blind" else "dev PGR"
    value = "n/a" if score is None else f"{score:.3f}"
    return (
        f"{o.method} ({o.fidelity.describe() if o.fidelity else ''}): {what} {value}; a low-fidelity "
        f"look, ranked only against its rung (the top 1/{ETA} are rerun at full fidelity)."
    )


def _config_key(method: str, hparams: dict[str, Any], defaults: dict[str, Any]) -> str:
    """One search point: the method and its hyperparameters resolved over the template's defaults."""
    return json.dumps([method, {**defaults, **hparams}], sort_keys=True, default=str)


def _highest_rung(history: list[Outcome], method: str) -> list[Outcome]:
    """`method`'s outcomes, one per point: the full-fidelity one where it ran at full fidelity."""
    by_point: dict[str, Outcome] = {}
    for o in history:
        if o.method == method:
            key = _config_key(o.method, o.hparams, {})
            if key not in by_point or by_point[key].fidelity is not None:
                by_point[key] = o
    return list(by_point.values())


def promotions(view: ResearchView) -> list[Proposal]:
    """ASHA's rule: the low-rung points in the top 1/ETA of their rung's completed points (every method
    together, best first), not yet run or claimed at full fidelity, as full-fidelity proposals.

    Across methods, not per method: rung scores share their seeds, w2s_train rows and dev examples, so
    they compare, and the search's question is the study's best configuration, not each method's; per
    method, the best point of a method far behind would take a full run.
    """
    rung = [o for o in view.history if o.fidelity is not None and score_of(o, view.feedback) is not None]
    top = sorted(rung, key=lambda o: -(score_of(o, view.feedback) or 0.0))[: len(rung) // ETA]
    full = {
        _config_key(o.method, o.hparams, view.template_defaults) for o in view.history if o.fidelity is None
    }
    full |= {
        _config_key(p.base_method, p.hparams, view.template_defaults)
        for p in view.claimed
        if p.fidelity is None
    }
    out = []
    for o in top:
        if _config_key(o.method, o.hparams, view.template_defaults) in full:
            continue
        hparams = {k: v for k, v in o.hparams.items() if view.template_defaults.get(k, object()) != v}
        out.append(Proposal(
            text=f"`{o.method}` with {fmt_hparams(hparams) or 'its defaults'} holds its low-rung lead at full fidelity.",
            rationale=f"Promoted: its {o.fidelity.describe() if o.fidelity else 'low-rung'} score is in the top 1/{ETA} of the rung's {len(rung)} completed points.",
            expected_effect="A full-fidelity PGR at the top of the search.",
            base_method=o.method, hparams=hparams,
        ))  # fmt: skip
    return out


def _rotated(items: list[str], by: int) -> list[str]:
    """`items` starting at position `by` (wrapping): a team member's own order."""
    k = by % len(items) if items else 0
    return items[k:] + items[:k]


# The convergence test: the last CONVERGENCE_ROUNDS full rounds of experiments (after the library walk)
# did not lift the best score by more than the best's own noise (half its CI; in blind mode, which has
# no CI, by more than CONVERGENCE_MIN_GAIN). Full-fidelity results only: a low rung's scores are not
# the study's best, so they neither lift it nor count toward the window.
CONVERGENCE_ROUNDS = 4
CONVERGENCE_MIN_GAIN = 0.01


def converged(view: ResearchView) -> str:
    """Why the search has converged, or "" while it has not (see CONVERGENCE_ROUNDS)."""
    ranked = [o for o in view.history if full_score(o, view.feedback) is not None]
    window = CONVERGENCE_ROUNDS * max(1, view.per_round)
    if len(ranked) <= window:
        return ""
    before, recent = ranked[:-window], ranked[-window:]
    best = max(before, key=lambda o: score_of(o, view.feedback) or -9.0)
    best_score = score_of(best, view.feedback) or 0.0
    noise = CONVERGENCE_MIN_GAIN
    if view.feedback == "dev" and best.dev_pgr_lo is not None and best.dev_pgr_hi is not None:
        noise = max(noise, (best.dev_pgr_hi - best.dev_pgr_lo) / 2)
    gain = max(score_of(o, view.feedback) or -9.0 for o in recent) - best_score
    if gain > noise:
        return ""
    return (
        f"converged: the last {window} experiments ({CONVERGENCE_ROUNDS} full rounds) lifted the best "
        f"score by {gain:+.3f}, within its noise ({noise:.3f})"
    )
