"""The finetune template on CPU: a tiny BERT built from a config, and the real offline MiniLM weights."""

from pathlib import Path

import pytest

from aar.w2s.experiment import ExperimentSpec, run_experiment
from aar.w2s.ladder import parse_pair
from aar.w2s.setup import Setup
from aar.w2s.splits import SplitSizes
from aar.w2s.templates import get_template, resolve_method
from tests.conftest import TEMPLATES

TINY = SplitSizes(weak_train=48, w2s_train=64, dev=24, test=32)
# Enough to tell pretrained weights from random ones (measured: ceiling test AUROC 0.72 with the shipped
# MiniLM; random weights stay at 0.5 ± 0.04 on 200 texts), in about a minute on two CPU threads.
REAL = SplitSizes(weak_train=48, w2s_train=128, dev=32, test=200)
REAL_HPARAMS = {"epochs": 2, "lr": 3e-4, "batch_size": 16, "eval_every": 1000, "max_length": 48}


def make_tiny_bert(out: Path, hidden: int) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from aar.w2s.embed import minilm_dir

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=2 * hidden, max_position_embeddings=128, num_labels=2)  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), 32)


@pytest.fixture(scope="module")
def tinier_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tinier-bert"), 16)


def make_setup(pair: str, cache: Path, sizes: SplitSizes = TINY, baseline: dict | None = None) -> Setup:
    baseline = baseline or {"epochs": 1, "eval_every": 2, "max_length": 48}
    template = get_template("finetune", TEMPLATES)
    return Setup(
        "rotten_tomatoes", parse_pair(pair), template, sizes=sizes, cache_dir=cache, baseline_hparams=baseline
    )


def run(pair: str, cache: Path, method: str = "naive", **hp):
    setup = make_setup(pair, cache)
    spec = ExperimentSpec(
        setup,
        resolve_method(method, TEMPLATES),
        method,
        [0],
        {"epochs": 1, "eval_every": 1, "max_length": 48, **hp},
    )
    return run_experiment(spec)


def test_tiny_models_from_config(tinier_bert: Path, tiny_bert: Path, tmp_path: Path):
    result = run(f"hf:{tinier_bert}→hf:{tiny_bert}", tmp_path, "aux_conf")
    assert result.status == "ok", result.error
    assert len(result.seed_results[0].splits["dev"].curve) >= 2


@pytest.mark.slow
def test_real_minilm_weights(tiny_bert: Path, tmp_path: Path):
    """The strong rung loads the shipped pretrained MiniLM: fine-tuned by the template on 128 labelled texts
    (the ceiling job), it ranks the test texts far above chance. Accuracy would not tell: after so few
    steps the head still predicts mostly the majority class, pretrained or not."""
    from aar.w2s.baselines import ceiling
    from aar.w2s.scoring import auroc

    setup = make_setup(f"hf:{tiny_bert}→minilm-l6", tmp_path, REAL, REAL_HPARAMS)
    assert auroc(ceiling(setup, 0).test, setup.labels("test")) >= 0.65


def test_embedding_only_rungs_are_refused(tmp_path: Path):
    from aar.errors import UserError

    with pytest.raises(UserError, match="cannot train static64"):
        run("static64→minilm-l6", tmp_path)


@pytest.fixture(scope="module")
def qwen_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One baseline cache for the Qwen runs below: the trusted baselines train once, the method per mode."""
    return tmp_path_factory.mktemp("qwen-cache")


@pytest.mark.parametrize(
    "hp",
    [
        {"precision": "fp32"},
        {"precision": "mixed", "micro_batch_size": 8},
        {"precision": "bf16"},
        {"lora_r": 4, "lr": 1e-3},
    ],
    ids=["fp32", "mixed-accumulated", "bf16", "lora"],
)
def test_qwen_pair_end_to_end_per_precision(tiny_qwen2: Path, tiny_qwen3: Path, qwen_cache: Path, hp: dict):
    """Tiny Qwen2 → Qwen3 (2 layers each, from configs) through the template's whole experiment path."""
    result = run(f"hf:{tiny_qwen2}→hf:{tiny_qwen3}", qwen_cache, **hp)
    assert result.status == "ok", result.error
    assert len(result.seed_results[0].splits["dev"].curve) >= 2
