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


def run(pair: str, cache: Path, method: str = "naive", **hp):
    setup = Setup("rotten_tomatoes", parse_pair(pair), get_template("finetune", TEMPLATES), sizes=TINY, cache_dir=cache,
                  baseline_hparams={"epochs": 1, "eval_every": 2, "max_length": 48})  # fmt: skip
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
    result = run(f"hf:{tiny_bert}→minilm-l6", tmp_path)
    assert result.status == "ok", result.error
    assert result.seed_results[0].splits["test"].w2s_acc > 0.3


def test_embedding_only_rungs_are_refused(tmp_path: Path):
    from aar.errors import UserError

    with pytest.raises(UserError, match="cannot train static64"):
        run("static64→minilm-l6", tmp_path)
