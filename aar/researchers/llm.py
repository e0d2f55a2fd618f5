"""The LLM researcher: prompts (Jinja package data in ./prompts) → structured outputs validated by pydantic.

Every call goes to the store (node, model, tokens, cost, latency, prompt and response artifacts, the
validation error of an invalid reply) and is charged to the budget; the budget is checked before each
call. An invalid reply is shown on the terminal (truncated, with its validation error) and retried with
the error shown to the model (aar.llm.complete_structured); when no attempt is valid, the step raises
`StructuredOutputError` (an AgentError), and the graph records the step as failed, the same way in
every node (aar.graph.nodes.researcher_step). A model that cannot be reached raises
`aar.errors.LLMUnreachableError`: the study fails.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, Field

from aar.budget import Budget
from aar.config import StudyConfig
from aar.errors import UserError
from aar.llm import (
    AdapterSettings,
    LLMCallRecord,
    LLMClient,
    Message,
    RetryPolicy,
    complete_structured,
    default_price_table,
    make_client,
)
from aar.llm.modes import StructuredMode, mode_of_request, parse_mode
from aar.researchers.base import Decision, ResearchView
from aar.researchers.builtin import low_rung
from aar.researchers.mode_log import mode_switch_recorder
from aar.researchers.priors import claimed_block, priors_block
from aar.researchers.types import Outcome, Proposal
from aar.researchers.untrusted import FENCE_TAG, summarize_error
from aar.store import LLMCallCreate, Store, record_llm_call
from aar.store.records import last_valid_llm_call

PROMPTS = Path(__file__).resolve().parent / "prompts"
MAX_TOKENS = 4096
MAX_OBSERVATION = 2000  # chars of one observation in the implement prompt (a fenced excerpt fits)
SHOWN_REPLY = 300  # chars of an invalid reply shown on the terminal (the store keeps all of it)
SHOWN_ERROR = 500  # chars of its validation error shown on the terminal
log = logging.getLogger(__name__)
Display = Callable[[str, str], None]


class ProposalItem(BaseModel):
    text: str = Field(description="The hypothesis, one sentence.")
    rationale: str
    expected_effect: str
    base_method: str = Field(description="Library method to start from.")
    hparams: dict[str, float | int | str | bool] = Field(default_factory=dict)
    low_fidelity: bool = Field(
        default=False,
        description="A cheap first look (about half the seeds, a third of w2s_train, ~0.2 experiments); "
        "its score compares only with other low-fidelity runs: never the best, a verdict or a finalist.",
    )


class Proposals(BaseModel):
    hypotheses: list[ProposalItem]


class MethodCode(BaseModel):
    method_code: str = Field(description="The complete method.py file.")


class Finding(BaseModel):
    finding: str


class DecisionOut(BaseModel):
    action: Literal["continue", "stop"]
    reason: str


# A team's LLM researchers (`--researchers N`) each get a style: researcher i of N the i-th (wrapping).
STYLES = (
    "exploit: refine the best configuration found so far (its method, nearby hyperparameters).",
    "explore: try library methods and ideas no one has tried yet in this study.",
    "tune: search the hyperparameters (priors, alpha, thresholds) of the most promising method.",
    "combine: combine the ideas that helped into one method.",
)


class LLMResearcher:
    """A researcher that asks a language model at every step."""

    name = "llm"
    style = ""  # this team member's approach, said in the propose prompt (STYLES); "" alone

    def __init__(
        self,
        client: LLMClient,
        store: Store,
        study_id: int,
        budget: Budget,
        config: StudyConfig,
        display: Display | None = None,
    ) -> None:
        self.client, self.store, self.study_id, self.budget, self.config = (
            client,
            store,
            study_id,
            budget,
            config,
        )
        # Where invalid replies are shown (node, message): the study's terminal, else the log.
        self.display: Display = display or (lambda node, message: log.warning("%s: %s", node, message))
        self.env = Environment(
            loader=FileSystemLoader(str(PROMPTS)), undefined=StrictUndefined, autoescape=False
        )

    @classmethod
    def from_config(
        cls,
        config: StudyConfig,
        *,
        store: Store,
        study_id: int,
        budget: Budget,
        display: Display | None = None,
    ) -> LLMResearcher:
        """A client for `config.model` in the structured-output mode `config.llm_structured` (auto: detected
        per endpoint); AAR_LLM_RETRY_ATTEMPTS / AAR_LLM_RETRY_BASE_S tune transport retries."""
        retry = RetryPolicy(
            max_attempts=int(os.environ.get("AAR_LLM_RETRY_ATTEMPTS", "5")),
            base_delay_s=float(os.environ.get("AAR_LLM_RETRY_BASE_S", "1.0")),
        )
        settings = AdapterSettings(
            prices=default_price_table(),
            retry=retry,
            structured=parse_mode(config.llm_structured),
            structured_known=known_mode(store, study_id),
            on_mode_switch=mode_switch_recorder(store, study_id, display or _log_display),
        )
        client = make_client(config.model, settings=settings)
        return cls(client, store, study_id, budget, config, display)

    # ---- plumbing -----------------------------------------------------------------------------------
    def _messages(self, view: ResearchView, template: str, **context: Any) -> list[Message]:
        system = self.env.get_template("system.j2").render(
            goal=view.goal,
            task=view.task,
            pair=view.pair,
            template=view.template,
            feedback=view.feedback,
            feedback_note=view.feedback_note,
            fence_tag=FENCE_TAG,
        )
        return [
            Message(role="system", content=system),
            Message(role="user", content=self.env.get_template(template).render(**context)),
        ]

    def _record(self, record: LLMCallRecord) -> None:
        """Store one call (an invalid one with its error), charge it, and show an invalid reply."""
        if record.error is not None:
            self.display(record.node, invalid_reply(record))
        prompt = self.store.put_artifact(record.prompt.encode(), kind="prompt", media_type="application/json")
        response = (
            self.store.put_artifact(record.response.encode(), kind="response", media_type="application/json")
            if record.response
            else None
        )
        with self.store.session() as session:
            call = record_llm_call(session=session, study_id=self.study_id, call_in=LLMCallCreate(
                node=record.node, provider=record.provider, model=record.model, tokens_in=record.tokens_in,
                tokens_out=record.tokens_out, cost_usd=record.cost_usd, latency_s=record.latency_s,
                prompt_sha256=prompt, response_sha256=response, error=record.error))  # fmt: skip
            call_id = int(call.id or 0)
        self.budget.charge("usd", record.cost_usd, key=f"llm_call:{call_id}:usd", what_for=record.node)
        self.budget.charge(
            "tokens",
            record.tokens_in + record.tokens_out,
            key=f"llm_call:{call_id}:tokens",
            what_for=record.node,
        )

    def _ask(self, messages: list[Message], schema: type[Any], node: str) -> Any:
        return complete_structured(
            self.client, messages, schema, node=node, max_tokens=MAX_TOKENS, on_call=self._record,
            before_call=lambda: self.budget.check_llm(est_tokens=MAX_TOKENS),
        )  # fmt: skip

    @staticmethod
    def _brief(o: Outcome | None) -> str:
        """An outcome for the planning prompts: released scores, and of a failure only status and type."""
        if o is None:
            return "none"
        fields = {"method": o.method, "hparams": o.hparams, "status": summarize_error(o.status, o.error), "dev_pgr": o.dev_pgr,
                  "ci": [o.dev_pgr_lo, o.dev_pgr_hi], "vs_naive": o.verdict_vs_naive, "signals": o.signals,
                  "fidelity": o.fidelity.describe() if o.fidelity else None}  # fmt: skip
        return json.dumps(
            {k: v for k, v in fields.items() if v not in (None, "", {}, [None, None])}, default=str
        )

    @staticmethod
    def _observations(observations: list[str]) -> list[str]:
        """The newest audit observations, bounded (head and tail kept, so a fence's tags survive); job output
        in them is already sanitized and fenced where the observation was made (aar.graph.nodes)."""
        cut = MAX_OBSERVATION // 3
        return [
            o if len(o) <= MAX_OBSERVATION else f"{o[:cut]} … {o[-(MAX_OBSERVATION - cut) :]}"
            for o in observations[-3:]
        ]

    # ---- the researcher protocol ----------------------------------------------------------------------
    def propose(self, view: ResearchView) -> list[Proposal]:
        """Hypotheses from the model; one it marks `low_fidelity` runs on the study's low rung, if it has one."""
        rung = low_rung(view.seeds, view.w2s_train_size)  # None: the study is too small for a low rung
        messages = self._messages(
            view, "propose.j2", round=view.round, budget_left=view.budget_left, library=list(view.library),
            defaults=view.template_defaults, naive=self._brief(view.naive) if view.naive else "", best=self._brief(view.best) if view.best else "",
            history=[self._brief(o) for o in view.history[-30:]], per_round=view.per_round,
            low_fidelity=f"{rung.describe()}, {rung.cost(view.seeds):.2f} of an experiment" if rung else "",
        )  # fmt: skip
        if tail := self._team_context(view):
            messages[-1] = Message(role="user", content=f"{messages[-1].content}\n{tail}")
        out: Proposals = self._ask(messages, Proposals, "propose")
        return [
            Proposal(
                **{
                    **p.model_dump(exclude={"low_fidelity"}),
                    "base_method": p.base_method if p.base_method in view.library else "naive",
                    "fidelity": rung if p.low_fidelity else None,
                }
            )
            for p in out.hypotheses
        ]

    def _team_context(self, view: ResearchView) -> str:
        """The propose prompt's tail in a team or with priors: style, the others' claims, earlier findings
        (sanitized and fenced: aar.researchers.priors); "" alone without priors."""
        return self.env.get_template("team.j2").render(
            style=self.style, claimed=claimed_block(view.claimed), priors=priors_block(view.priors)
        )

    def implement(self, proposal: Proposal, observations: list[str], view: ResearchView) -> str:
        messages = self._messages(
            view,
            "implement.j2",
            proposal=proposal,
            base_code=view.library.get(proposal.base_method, view.library["naive"]),
            observations=self._observations(observations),
        )
        out: MethodCode = self._ask(messages, MethodCode, "implement")
        return out.method_code

    def analyze(self, outcome: Outcome, view: ResearchView) -> str:
        messages = self._messages(view, "analyze.j2", hypothesis=outcome.method, outcome=self._brief(outcome))
        out: Finding = self._ask(messages, Finding, "analyze")
        return out.finding

    def decide(self, view: ResearchView) -> Decision:
        messages = self._messages(
            view,
            "decide.j2",
            round=view.round,
            budget_left=view.budget_left,
            best=self._brief(view.best) if view.best else "",
            history=[self._brief(o) for o in view.history[-30:]],
        )
        out: DecisionOut = self._ask(messages, DecisionOut, "decide")
        return Decision(out.action, out.reason)


def known_mode(store: Store, study_id: int) -> StructuredMode | None:
    """The structured-output mode of the study's last valid call: a resumed study keeps what it detected."""
    with store.session() as session:
        call = last_valid_llm_call(session=session, study_id=study_id)
        sha = call.prompt_sha256 if call is not None else None
    if not sha:
        return None
    try:
        request = json.loads(store.get_artifact(sha))
    except (ValueError, UserError):  # not JSON, or not in the store: detect afresh
        return None
    return mode_of_request(request) if isinstance(request, dict) else None


def _log_display(node: str, message: str) -> None:
    """Where a researcher without a terminal shows a line: the Python log."""
    log.warning("%s: %s", node, message)


def invalid_reply(record: LLMCallRecord) -> str:
    """One terminal line for a call that gave no valid reply: attempt, error, and the reply's start."""
    error = _clip(" ".join((record.error or "").split()), SHOWN_ERROR)
    if not record.response:  # nothing came back (the provider failed)
        return f"call failed (attempt {record.attempt}): {error}"
    flat = " ".join(record.text.split())
    reply = _clip(flat, SHOWN_REPLY)
    whole = f" ({len(record.text)} chars in all)" if len(flat) > SHOWN_REPLY else ""
    return f"invalid reply (attempt {record.attempt}): {error}; the reply: {reply or '(empty)'}{whole}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
