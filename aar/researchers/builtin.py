"""The builtin researcher (no LLM): walk the method library, then search the most promising methods'
hyperparameters with Optuna TPE, spending experiments where the confidence intervals still overlap.

It is the offline default and the baseline an LLM researcher must beat.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna

from aar.researchers.base import Decision, ResearchView, degenerate, score_of
from aar.researchers.types import Outcome, Proposal

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)

# The library walk, in order (methods and sources: README's method table).
LIBRARY_ORDER = (
    "aux_conf", "product", "confident_filter", "weak_ensemble", "early_stop", "bootstrap",
    "denoised_aux_conf", "knn_denoise", "self_train", "strong_ensemble",
)  # fmt: skip
SEARCHED_TEMPLATE_KEYS = ("lr", "epochs")


def distribution(spec: dict[str, Any]) -> optuna.distributions.BaseDistribution:
    """An Optuna distribution from a template/method space entry."""
    if "choices" in spec:
        return optuna.distributions.CategoricalDistribution(list(spec["choices"]))
    low, high = float(spec["low"]), float(spec["high"])
    return optuna.distributions.FloatDistribution(low, high, log=bool(spec.get("log", False)) and low > 0)


class BuiltinResearcher:
    """Library walk, then per-method TPE search; deterministic for a given history and seed."""

    name = "builtin"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    # ---- propose --------------------------------------------------------------------------------
    def propose(self, view: ResearchView) -> list[Proposal]:
        tried = {o.method for o in view.history}
        untried = [m for m in LIBRARY_ORDER if m in view.library and m not in tried]
        proposals = [self._library_proposal(m) for m in untried[: view.per_round]]
        for method in self._contenders(view):
            if len(proposals) >= view.per_round:
                break
            proposals.append(self._search_proposal(method, view, len(proposals)))
        return proposals

    def _library_proposal(self, method: str) -> Proposal:
        return Proposal(
            text=f"Library method `{method}` with its default hyperparameters beats naive weak-to-strong training.",
            rationale="Walk the known W2SG methods first: they are the literature's strongest priors.",
            expected_effect="PGR above the naive baseline's, outside the seed noise.",
            base_method=method,
        )

    def _contenders(self, view: ResearchView) -> list[str]:
        """Methods whose CI still reaches the best mean, best first (upper confidence bound order)."""
        by_method: dict[str, list[Outcome]] = {}
        for o in view.history:
            if score_of(o, view.feedback) is not None:
                by_method.setdefault(o.method, []).append(o)
        best = max((score_of(o, view.feedback) or -9.0 for o in view.history), default=None)
        ranked = []
        for method, outs in by_method.items():
            top = max(outs, key=lambda o: score_of(o, view.feedback) or -9.0)
            mean = score_of(top, view.feedback) or 0.0
            upper = top.dev_pgr_hi if view.feedback == "dev" and top.dev_pgr_hi is not None else mean
            if best is None or upper >= best:
                ranked.append((upper, method))
        return [m for _, m in sorted(ranked, reverse=True)] or list(by_method)[:1]

    def _search_proposal(self, method: str, view: ResearchView, slot: int) -> Proposal:
        space = {k: v for k, v in view.template_space.items() if k in SEARCHED_TEMPLATE_KEYS}
        space.update(view.library_spaces.get(method, {}))
        hparams = self._tpe_ask(method, space, view, slot)
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in hparams.items())
        return Proposal(
            text=f"`{method}` with {shown} improves on its best configuration so far.",
            rationale="Its confidence interval still overlaps the best result: the answer is open; TPE proposes the next point.",
            expected_effect="Higher PGR than this method's best so far.",
            base_method=method,
            hparams=hparams,
        )

    def _tpe_ask(self, method: str, space: dict[str, Any], view: ResearchView, slot: int) -> dict[str, Any]:
        dists = {k: distribution(v) for k, v in space.items()}
        sampler = optuna.samplers.TPESampler(seed=self.seed + 1000 * view.round + slot, n_startup_trials=4)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for o in view.history:
            value = score_of(o, view.feedback)
            if o.method != method or value is None:
                continue
            params = {k: o.hparams.get(k, self._default(k, view)) for k in dists}
            try:
                study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=value))
            except ValueError:  # a value outside the space (defaults can be): not a usable trial
                continue
        return study.ask(dists).params

    @staticmethod
    def _default(key: str, view: ResearchView) -> Any:
        return view.template_defaults.get(key)

    # ---- implement / analyze / decide ----------------------------------------------------------
    def implement(self, proposal: Proposal, observations: list[str], view: ResearchView) -> str:
        return view.library[proposal.base_method]

    def analyze(self, outcome: Outcome, view: ResearchView) -> str:
        if outcome.status != "ok":
            return f"{outcome.method} did not finish ({outcome.status}): {outcome.error[:200]}"
        if reason := degenerate(outcome):
            return f"{outcome.method}: not ranked: {reason}."
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
        return (
            f"{outcome.method}: dev PGR {outcome.dev_pgr:.3f} ({ci}); vs naive: {outcome.verdict_vs_naive}; "
            f"vs best so far: {outcome.verdict_vs_best}."
        )

    def decide(self, view: ResearchView) -> Decision:
        tried = {o.method for o in view.history}
        if any(m not in tried for m in LIBRARY_ORDER if m in view.library):
            return Decision("continue", "library methods left to try")
        return Decision("continue", "searching hyperparameters of the open contenders")
