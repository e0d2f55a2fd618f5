"""The finetune runner's training loop on CPU, with tiny Qwen2/Qwen3 models built from configs: precision
modes, gradient accumulation, length bucketing, LoRA, tokenizing once and predicting dev once."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.templates.conftest import finetune_modules, write_job

common, runner = finetune_modules()


def make_ctx(job: Path, out: Path, backend: Any = None, **hp: Any) -> Any:
    """A real Context for seed 0 of `job`: one optimizer step over its 40 texts unless `hp` says more."""
    hparams = {"lr": 1e-5, "epochs": 1, "batch_size": 40, "max_length": 48, "eval_batch_size": 8, **hp}
    seed_dir = job / "seed_0"
    data = {s: common.read_split(seed_dir, s) for s in common.SPLITS}
    backend = (backend or runner.FinetuneBackend)(hparams, seed_dir)
    return common.Context(hparams, 0, data, out, backend, ["strong"])


def fraction_changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> float:
    """Share of the weights (token embeddings left out: rows of unseen tokens get no gradient) that moved."""
    changed = total = 0
    for name, p in model.named_parameters():
        if "embed_tokens" not in name:
            changed += int((p.detach() != before[name]).sum())
            total += p.numel()
    return changed / total


@pytest.mark.parametrize("family", ["qwen2", "qwen3"])
def test_one_step_at_lr_1e5_trains_in_mixed_and_fp32_but_rounds_away_in_pure_bf16(
    family: str, request: pytest.FixtureRequest, tmp_path: Path
):
    job = write_job(tmp_path / "job", request.getfixturevalue(f"tiny_{family}"))
    changed = {}
    for precision in ("fp32", "mixed", "bf16"):
        ctx = make_ctx(job, tmp_path / precision, precision=precision)
        before = {n: p.detach().clone() for n, p in ctx.backend.new_model("strong", 0).named_parameters()}
        model = ctx.fit(record=False).model  # 40 texts, batch 40: exactly one step
        master = torch.bfloat16 if precision == "bf16" else torch.float32
        assert {p.dtype for p in model.parameters()} == {master}, precision
        forward = ctx.backend.logits(model, "strong", "dev", np.arange(4)).dtype
        assert forward == (torch.float32 if precision == "fp32" else torch.bfloat16), precision
        changed[precision] = fraction_changed(before, model)
    assert changed["fp32"] >= 0.99 and changed["mixed"] >= 0.99, changed
    assert changed["bf16"] < 0.9 * changed["mixed"], changed


def test_auto_precision_is_fp32_on_cpu_and_unknown_modes_are_refused():
    cpu = torch.device("cpu")
    assert runner.resolve_precision({}, cpu) == "fp32"
    assert runner.resolve_precision({"precision": "mixed"}, cpu) == "mixed"
    with pytest.raises(ValueError, match="precision must be one of auto, mixed, bf16, fp32; got 'fp16'"):
        runner.resolve_precision({"precision": "fp16"}, cpu)


def _scalar_mean(logits: torch.Tensor, weak_p: torch.Tensor, progress: float, ctx: Any) -> torch.Tensor:
    return common.soft_ce(logits, weak_p, progress, ctx).mean()


@pytest.mark.parametrize("kind", ["per_example", "weighted", "scalar_loss"])
def test_micro_batches_accumulate_to_the_large_batch_gradient(kind: str, tiny_qwen2: Path, tmp_path: Path):
    ctx = make_ctx(write_job(tmp_path / "job", tiny_qwen2), tmp_path / "out", precision="fp32")
    weights = (
        np.random.default_rng(5).uniform(0.1, 2.0, 40).astype(np.float32) if kind == "weighted" else None
    )
    loss_fn = _scalar_mean if kind == "scalar_loss" else common.soft_ce
    lengths = ctx.backend.lengths("strong", "w2s_train")
    idx = np.arange(3, 27)  # 24 examples: micro-batches of 5, 5, 5, 5, 4
    grads, losses = {}, {}
    for micro in (24, 5):
        model = ctx.backend.new_model("strong", 0)
        data = common.TrainData(ctx.weak_p(), weights, lengths, micro)
        losses[micro] = common.backward_batch(ctx, model, "strong", "w2s_train", idx, data, 0.0, loss_fn)
        grads[micro] = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert len(common.micro_batches(idx, 5, lengths)) == 5
    torch.testing.assert_close(losses[5], losses[24])
    assert grads[5].keys() == grads[24].keys()
    for name, grad in grads[24].items():
        torch.testing.assert_close(grads[5][name], grad, rtol=1e-4, atol=1e-7, msg=name)


def _padding(batches: list[np.ndarray], lengths: np.ndarray) -> int:
    return int(sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches))


def test_bucketed_epochs_see_every_example_once_with_less_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 120, size=1003)
    keep = np.flatnonzero(rng.uniform(size=1003) > 0.1)  # what weights > 0 kept
    bucketed = common.epoch_batches(keep, 32, np.random.default_rng(1), lengths)
    plain = common.epoch_batches(keep, 32, np.random.default_rng(1))
    for batches in (bucketed, plain):
        assert len(batches) == math.ceil(len(keep) / 32) and max(len(b) for b in batches) == 32
        assert sorted(np.concatenate(batches).tolist()) == keep.tolist()
    assert _padding(bucketed, lengths) < 0.25 * _padding(plain, lengths)
    again = common.epoch_batches(keep, 32, np.random.default_rng(1), lengths)
    other = common.epoch_batches(keep, 32, np.random.default_rng(2), lengths)
    assert all((a == b).all() for a, b in zip(again, bucketed, strict=True))
    assert np.concatenate(other).tolist() != np.concatenate(bucketed).tolist()


def test_fit_shows_each_kept_example_once_per_epoch(tiny_qwen3: Path, tmp_path: Path):
    seen: list[np.ndarray] = []

    class Recording(runner.FinetuneBackend):  # the real backend, noting which rows it trains on
        def logits(self, model: Any, role: str, split: str, idx: np.ndarray) -> torch.Tensor:
            if split == "w2s_train":
                seen.append(np.array(idx))
            return super().logits(model, role, split, idx)

    job = write_job(tmp_path / "job", tiny_qwen3)
    ctx = make_ctx(job, tmp_path / "out", Recording, epochs=2, batch_size=16, micro_batch_size=16)
    weights = np.ones(40, dtype=np.float32)
    weights[[0, 7]] = 0.0
    ctx.fit(weights=weights, record=False)
    per_epoch = math.ceil(38 / 16)  # 38 kept examples: batches of 16, 16, 6
    assert len(seen) == 2 * per_epoch
    for epoch in (seen[:per_epoch], seen[per_epoch:]):
        assert sorted(np.concatenate(epoch).tolist()) == sorted(set(range(40)) - {0, 7})


def test_lora_trains_only_the_adapters_and_the_head(tiny_qwen3: Path, tmp_path: Path):
    # Two steps: lora_B starts at zero, so lora_A gets its first gradient in step 2.
    job = write_job(tmp_path / "job", tiny_qwen3)
    ctx = make_ctx(job, tmp_path / "out", lora_r=4, lr=1e-3, batch_size=20)
    fresh = ctx.backend.new_model("strong", 0)
    trainable = {n for n, p in fresh.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable) and any("score" in n for n in trainable)
    assert all("lora_" in n or "score" in n for n in trainable), sorted(trainable)
    before = {n: p.detach().clone() for n, p in fresh.named_parameters()}
    model = ctx.fit(record=False).model
    moved = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert moved == trainable


def test_dev_is_predicted_once_per_evaluation(tiny_qwen2: Path, tmp_path: Path):
    rows: Counter[str] = Counter()

    class Counting(runner.FinetuneBackend):  # the real backend, counting the rows it predicts
        def logits(self, model: Any, role: str, split: str, idx: np.ndarray) -> torch.Tensor:
            if not torch.is_grad_enabled():
                rows[split] += len(idx)
            return super().logits(model, role, split, idx)

    ctx = make_ctx(write_job(tmp_path / "job", tiny_qwen2), tmp_path / "out", Counting, eval_every=1)
    result = ctx.fit()
    assert rows == {"dev": 12, "eval": 10}  # eval holds the 12 dev texts and 10 others
    np.testing.assert_array_equal(result.eval_preds[1][:12], result.dev_preds[1])


def test_each_text_is_tokenized_once_per_job(tiny_qwen2: Path, tmp_path: Path):
    job = write_job(tmp_path / "job", tiny_qwen2, seeds=(0, 1))
    factory = runner.BackendFactory()
    first, second = (factory({"max_length": 48}, job / f"seed_{s}") for s in (0, 1))
    assert first.tokenizers["strong"] is second.tokenizers["strong"]
    assert all(
        a is b
        for split in ("w2s_train", "dev", "eval")
        for a, b in zip(first.ids["strong"][split], second.ids["strong"][split], strict=True)
    )
    texts = {r["text"] for s in ("w2s_train", "dev", "eval") for r in common.read_split(job / "seed_0", s)}
    assert len(factory.cache.ids) == len(texts) > 50


def test_a_folder_keeps_the_tokenizer_it_ships(tiny_qwen2: Path, tmp_path: Path):
    """A Qwen2-shaped folder with MiniLM's tokenizer tokenizes as MiniLM does (AutoTokenizer alone picks
    Qwen2Tokenizer from the model type and splits every character)."""
    from transformers import AutoTokenizer

    from aar.w2s.embed import minilm_dir

    backend = runner.FinetuneBackend({"max_length": 48}, write_job(tmp_path / "job", tiny_qwen2) / "seed_0")
    minilm = AutoTokenizer.from_pretrained(str(minilm_dir()))
    dev = [r["text"] for r in common.read_split(tmp_path / "job" / "seed_0", "dev")]
    expected = minilm(dev, truncation=True, max_length=48)["input_ids"]
    assert backend.ids["strong"]["dev"] == [list(ids) for ids in expected]
