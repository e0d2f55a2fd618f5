"""Fixed runner code shared by every template: job I/O, the method hooks and the training loop.

Runs inside the sandbox. It reads only `/data`, writes only `/out`, and never sees ground truth: no file
in `/data` carries a label. `weak_train` is absent (an empty split here) unless the method declares
`REQUIRES = {"weak_train_inputs": True}`, and then holds inputs only (id, text). See CONTRACT.md.
Copied next to `runner.py` in `/code`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

SPLITS = ("weak_train", "w2s_train", "dev", "eval")
# Splits a job may lack: weak_train is only there when the method asks for its inputs (REQUIRES).
OPTIONAL_SPLITS = ("weak_train",)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_split(seed_dir: Path, split: str) -> list[dict[str, Any]]:
    """Rows of `seed_dir/<split>.jsonl`; [] for an optional split the host did not write."""
    path = seed_dir / f"{split}.jsonl"
    if split in OPTIONAL_SPLITS and not path.exists():
        return []
    return read_jsonl(path)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    tmp.replace(path)


def load_method(path: Path) -> ModuleType:
    """Import the agent's method.py as a module named `method`."""
    spec = importlib.util.spec_from_file_location("method", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load method from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["method"] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "loss") and not hasattr(module, "train"):
        raise AttributeError("method.py must define loss(logits, weak_p, progress, ctx) or train(ctx)")
    return module


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Backend(Protocol):
    """What a template provides to the shared loop: models and a forward pass over a split."""

    def new_model(self, role: str, seed: int) -> nn.Module: ...

    def logits(self, model: nn.Module, role: str, split: str, idx: np.ndarray) -> torch.Tensor: ...

    def parameters(self, model: nn.Module) -> list[nn.Parameter]: ...


# A backend may also define `lengths(role, split) -> np.ndarray` (tokens per example): the loop then
# buckets batches by length so padding stays small. Backends without it (probe) get plain shuffled batches.


@dataclass
class FitResult:
    """One training run: the model, and per eval step the eval-split and dev predictions."""

    model: nn.Module
    history: list[dict[str, Any]]
    eval_preds: dict[int, np.ndarray]
    dev_preds: dict[int, np.ndarray]


@dataclass
class Context:
    """Everything a method may use. Built by the runner for one seed."""

    hparams: dict[str, Any]
    seed: int
    data: dict[str, list[dict[str, Any]]]
    out_dir: Path
    backend: Backend
    roles: list[str]
    method: ModuleType | None = None
    log_rows: list[dict[str, Any]] = field(default_factory=list)

    def weak_p(self, split: str = "w2s_train") -> np.ndarray:
        """Weak soft labels P(label=1) for `w2s_train` or `dev`."""
        return np.array([row["weak_p"] for row in self.data[split]], dtype=np.float32)

    def weak_members(self) -> np.ndarray:
        """Soft labels from each member of the weak ensemble on `w2s_train`, shape [n, members]."""
        return np.array([row["weak_members"] for row in self.data["w2s_train"]], dtype=np.float32)

    def class_prior(self) -> float:
        """The share of positives a method's hardened labels keep, from the weak labels on w2s_train (no
        truth), as hyperparameter `prior` says: `weak_rate` (share of weak labels above 0.5; the default),
        `calibrated_mean` (mean weak soft label; the host calibrates them) or `fixed` (`prior_value`)."""
        kind = str(self.hparams.get("prior", "weak_rate"))
        if kind == "fixed":
            return float(self.hparams.get("prior_value", 0.5))
        weak = self.weak_p()
        return float(weak.mean()) if kind == "calibrated_mean" else float((weak > 0.5).mean())

    def n(self, split: str) -> int:
        return len(self.data[split])

    def log(self, **fields: Any) -> None:
        """Free-form training log (shown to the agent, never trusted)."""
        self.log_rows.append({"seed": self.seed, "time": round(time.time(), 3), **fields})

    def fit(
        self,
        labels: np.ndarray | None = None,
        *,
        role: str = "strong",
        split: str = "w2s_train",
        loss_fn: Callable[..., torch.Tensor] | None = None,
        weights: np.ndarray | None = None,
        record: bool = True,
    ) -> FitResult:
        """Train a fresh model of `role` on `split` with soft `labels` (default: the weak labels)."""
        labels = self.weak_p(split) if labels is None else np.asarray(labels, dtype=np.float32)
        if loss_fn is None:
            loss_fn = getattr(self.method, "loss", None) or soft_ce
        return fit(
            self, role=role, split=split, labels=labels, loss_fn=loss_fn, weights=weights, record=record
        )

    def predict(self, model: nn.Module, split: str, role: str = "strong") -> np.ndarray:
        """P(label=1) of `model` on every example of `split`."""
        return predict(self, model, role, split)

    def embeddings(self, split: str, role: str = "strong") -> np.ndarray:
        """The frozen backbone's features of `role` on `split`, [n, dim] (templates with features only)."""
        embed = getattr(self.backend, "embeddings", None)
        if embed is None:
            raise NotImplementedError("this template has no frozen embeddings: use the probe template")
        return np.asarray(embed(role, split), dtype=np.float32)

    def neighbour_mean(
        self, labels: np.ndarray, k: int, split: str = "w2s_train", role: str = "strong"
    ) -> np.ndarray:
        """Mean of `labels` over each example's `k` nearest other examples of `split`, by cosine similarity
        of the frozen `role` features (templates with features only)."""
        return neighbour_mean(self.embeddings(split, role), labels, k)

    def write_predictions(self, step: int | str, p: np.ndarray) -> None:
        """Write predictions on the eval split; `final` is the one the host scores as the result."""
        rows = [{"id": row["id"], "p": float(v)} for row, v in zip(self.data["eval"], p, strict=True)]
        write_jsonl(
            self.out_dir / "predictions" / f"{step if step == 'final' else f'step_{step}'}.jsonl", rows
        )


def soft_ce(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx: Context) -> torch.Tensor:
    """Cross-entropy against soft binary labels, per example."""
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)


def neighbour_mean(emb: np.ndarray, labels: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Mean of `labels` over each row's `k` nearest other rows by cosine similarity of `emb`."""
    x = torch.nn.functional.normalize(torch.as_tensor(emb, dtype=torch.float32), dim=1)
    y = torch.as_tensor(labels, dtype=torch.float32)
    k = max(1, min(k, len(x) - 1))
    out = []
    for start in range(0, len(x), chunk):
        sim = x[start : start + chunk] @ x.T
        rows = torch.arange(start, min(start + chunk, len(x)))
        sim[rows - start, rows] = -2.0  # never your own neighbour
        out.append(y[sim.topk(k, dim=1).indices].mean(dim=1))
    return torch.cat(out).numpy()


def predict(ctx: Context, model: nn.Module, role: str, split: str) -> np.ndarray:
    """P(label=1) of `model` on every example of `split`."""
    return predict_rows(ctx, model, role, split, np.arange(ctx.n(split)))


@torch.no_grad()
def predict_rows(ctx: Context, model: nn.Module, role: str, split: str, rows: np.ndarray) -> np.ndarray:
    """P(label=1) on `rows` of `split`, in `eval_batch_size` batches of similar length when lengths are known."""
    lengths_of = getattr(ctx.backend, "lengths", None)
    perm = np.arange(len(rows))
    if lengths_of is not None:
        perm = np.argsort(np.asarray(lengths_of(role, split))[rows], kind="stable")
    batch = int(ctx.hparams.get("eval_batch_size", 256))
    out = np.zeros(len(rows), dtype=np.float32)
    model.eval()
    for start in range(0, len(rows), batch):
        pos = perm[start : start + batch]
        logits = ctx.backend.logits(model, role, split, rows[pos]).float()
        out[pos] = torch.softmax(logits, dim=1)[:, 1].cpu().numpy()
    model.train()
    return out


def predict_eval(ctx: Context, model: nn.Module, role: str, dev_p: np.ndarray) -> np.ndarray:
    """P(label=1) on the eval split, reusing `dev_p` for eval rows that are dev examples (same id).

    The host's eval split usually holds dev and test together: dev is then predicted once, not twice.
    """
    dev_row = {row["id"]: i for i, row in enumerate(ctx.data["dev"])}
    src = np.array([dev_row.get(row["id"], -1) for row in ctx.data["eval"]], dtype=int)
    out = np.zeros(len(src), dtype=np.float32)
    out[src >= 0] = dev_p[src[src >= 0]]
    rest = np.flatnonzero(src < 0)
    out[rest] = predict_rows(ctx, model, role, "eval", rest)
    return out


def cosine_lr(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _batch_loss(loss: torch.Tensor, w: torch.Tensor | None, share: float, w_total: float) -> torch.Tensor:
    """This micro-batch's part of the optimizer batch's loss (the parts sum to the batch's mean loss).

    `share` is the micro-batch's fraction of the batch's examples, `w_total` the batch's summed weight.
    A method returning a scalar gets it scaled by `share` (exact when its scalar is a mean).
    """
    if loss.dim() == 0:
        return loss * share
    if w is None:
        return loss.sum() * (share / len(loss))
    return (loss * w).sum() / max(w_total, 1e-8)


def epoch_batches(
    keep: np.ndarray,
    batch: int,
    rng: np.random.Generator,
    lengths: np.ndarray | None = None,
    window: int = 50,
) -> list[np.ndarray]:
    """One epoch's batches: every index of `keep` exactly once (the last batch may be smaller).

    The order is shuffled by `rng`. With `lengths`, examples are sorted by length inside windows of
    `window` batches, so each batch holds texts of similar length (little padding); the batches' order is
    shuffled again, so a short batch is as likely early as late.
    """
    order = rng.permutation(keep)
    if lengths is not None:
        span = batch * window
        order = np.concatenate(
            [c[np.argsort(lengths[c], kind="stable")] for c in np.split(order, range(span, len(order), span))]
        )
    batches = [order[i : i + batch] for i in range(0, len(order), batch)]
    return [batches[i] for i in rng.permutation(len(batches))]


def micro_batches(idx: np.ndarray, micro: int, lengths: np.ndarray | None) -> list[np.ndarray]:
    """`idx` in chunks of at most `micro` examples (sorted by length first, when known)."""
    if lengths is not None:
        idx = idx[np.argsort(lengths[idx], kind="stable")]
    return [idx[i : i + micro] for i in range(0, len(idx), micro)]


def make_optimizer(params: list[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW; the fused CUDA kernel when every parameter is on a GPU (one launch per step, not per tensor)."""
    fused = bool(params) and all(p.is_cuda for p in params)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


@dataclass
class TrainData:
    """What every step of one fit reads: soft labels, optional weights and lengths of the split's examples."""

    labels: np.ndarray
    weights: np.ndarray | None
    lengths: np.ndarray | None
    micro: int


def backward_batch(
    ctx: Context, model: nn.Module, role: str, split: str, idx: np.ndarray, data: TrainData, progress: float,
    loss_fn: Callable[..., torch.Tensor],
) -> torch.Tensor:  # fmt: skip
    """Forward and backward over `idx` in micro-batches; gradients accumulate to the whole batch's."""
    w_total = 0.0 if data.weights is None else float(data.weights[idx].sum())
    total = torch.zeros(())
    for mb in micro_batches(idx, data.micro, data.lengths):
        logits = ctx.backend.logits(model, role, split, mb).float()
        target = torch.as_tensor(data.labels[mb], device=logits.device)
        w = None if data.weights is None else torch.as_tensor(data.weights[mb], device=logits.device)
        loss = _batch_loss(loss_fn(logits, target, progress, ctx), w, len(mb) / len(idx), w_total)
        loss.backward()
        total = total.to(loss.device) + loss.detach()
    return total


def fit(
    ctx: Context,
    *,
    role: str,
    split: str,
    labels: np.ndarray,
    loss_fn: Callable[..., torch.Tensor],
    weights: np.ndarray | None,
    record: bool,
) -> FitResult:
    """The shared loop: length-bucketed batches, micro-batches, AdamW, cosine schedule, periodic evals.

    `batch_size` is the optimizer's batch; `micro_batch_size` (0: the whole batch) how many examples go
    through the model at once, their gradients accumulated.
    """
    hp = ctx.hparams
    weights = None if weights is None else np.asarray(weights, dtype=np.float32)
    keep = np.arange(len(labels)) if weights is None else np.flatnonzero(weights > 0)
    if len(keep) == 0:
        raise ValueError("weights dropped every training example")
    model = ctx.backend.new_model(role, ctx.seed)
    opt = make_optimizer(ctx.backend.parameters(model), float(hp["lr"]), float(hp.get("weight_decay", 0.0)))
    batch = int(hp.get("batch_size", 32))
    total = max(1, int(hp.get("epochs", 1) * math.ceil(len(keep) / batch)))
    warmup = int(total * float(hp.get("warmup_frac", 0.0)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, total, warmup))
    eval_every = max(1, int(hp.get("eval_every", total)))
    lengths_of = getattr(ctx.backend, "lengths", None)
    lengths = None if lengths_of is None else np.asarray(lengths_of(role, split))
    data = TrainData(labels, weights, lengths, int(hp.get("micro_batch_size", 0)) or batch)
    rng = np.random.default_rng(ctx.seed)
    result = FitResult(model, [], {}, {})
    queue: list[np.ndarray] = []
    for step in range(1, total + 1):
        if not queue:
            queue = epoch_batches(keep, batch, rng, lengths)
        opt.zero_grad(set_to_none=True)
        loss = backward_batch(ctx, model, role, split, queue.pop(0), data, (step - 1) / total, loss_fn)
        opt.step()
        sched.step()
        if record and (step % eval_every == 0 or step == total):
            _evaluate(ctx, result, role, step, float(loss))
    return result


def _evaluate(ctx: Context, result: FitResult, role: str, step: int, loss: float) -> None:
    dev_p = predict(ctx, result.model, role, "dev")
    eval_p = predict_eval(ctx, result.model, role, dev_p)
    dev_weak = ctx.weak_p("dev")
    entry = {
        "step": step,
        "train_loss": loss,
        # Label-free signals: agreement with the weak labels on dev, and mean confidence.
        "dev_weak_agreement": float(np.mean((dev_p > 0.5) == (dev_weak > 0.5))) if len(dev_p) else 0.0,
        "dev_confidence": float(np.mean(np.abs(dev_p - 0.5) * 2)) if len(dev_p) else 0.0,
    }
    result.history.append(entry)
    result.eval_preds[step] = eval_p
    result.dev_preds[step] = dev_p
    ctx.write_predictions(step, eval_p)
    ctx.log(event="eval", **entry)


def run_seed(ctx: Context) -> None:
    """Run the method for one seed: its own `train`, or the default loop with its hooks."""
    method = ctx.method
    seed_everything(ctx.seed)
    if method is not None and hasattr(method, "train"):
        method.train(ctx)
        if not (ctx.out_dir / "predictions" / "final.jsonl").exists():
            raise RuntimeError("method.train(ctx) must call ctx.write_predictions('final', p)")
        return
    weights = None
    if method is not None and hasattr(method, "weights"):
        raw = method.weights(ctx.data["w2s_train"], ctx.weak_p(), ctx)
        weights = None if raw is None else np.asarray(raw, dtype=np.float32)
    result = ctx.fit(weights=weights)
    chosen = result.history[-1]["step"]
    if method is not None and hasattr(method, "select_step"):
        picked = method.select_step(result.history, ctx)
        chosen = chosen if picked is None else int(picked)
    if chosen not in result.eval_preds:
        raise ValueError(f"select_step returned {chosen}, not an eval step")
    ctx.log(event="final", step=chosen)
    ctx.write_predictions("final", result.eval_preds[chosen])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="aar experiment runner")
    parser.add_argument("--data", type=Path, default=Path("/data"))
    parser.add_argument("--out", type=Path, default=Path("/out"))
    parser.add_argument("--method", type=Path, default=None, help="method.py (default: beside runner.py)")
    return parser.parse_args(argv)


def run_job(
    data_dir: Path,
    out_dir: Path,
    method_path: Path,
    make_backend: Callable[[dict[str, Any], Path], Backend],
) -> None:
    """Run every seed of the job described by `data_dir/config.json`."""
    config = json.loads((data_dir / "config.json").read_text())
    method = load_method(method_path)
    torch.set_num_threads(int(config.get("threads", 0)) or torch.get_num_threads())
    for seed in config["seeds"]:
        seed_dir = data_dir / f"seed_{seed}"
        data = {split: read_split(seed_dir, split) for split in SPLITS}
        hparams = {**config.get("hparams", {}), "seed": seed}
        out = out_dir / f"seed_{seed}"
        ctx = Context(
            hparams, seed, data, out, make_backend(hparams, seed_dir), config.get("roles", ["strong"]), method
        )
        started = time.time()
        try:
            run_seed(ctx)
        finally:
            ctx.log(event="done", seconds=round(time.time() - started, 3))
            write_jsonl(out / "log.jsonl", ctx.log_rows)
