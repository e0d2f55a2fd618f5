import pytest

from aar.errors import UserError
from aar.w2s.ladder import parse_pair


@pytest.mark.parametrize("text", ["static64→minilm-l6", "static64->minilm-l6", " static64 > minilm-l6 "])
def test_pair_syntax(text):
    pair = parse_pair(text)
    assert (pair.weak.name, pair.strong.name, pair.intermediates) == ("static64", "minilm-l6", ())


def test_chain_and_default_intermediate():
    chain = parse_pair("static64→minilm-l3→mpnet")
    assert [r.name for r in chain.intermediates] == ["minilm-l3"]
    assert parse_pair("static64→minilm-l6").with_default_intermediate().intermediates[0].name == "minilm-l3"
    with pytest.raises(UserError, match="no rung between"):
        parse_pair("static64→minilm-l3").with_default_intermediate()


def test_user_models_and_errors():
    assert parse_pair("hf:/models/a→hf:Qwen/Qwen2.5-0.5B").strong.source == "Qwen/Qwen2.5-0.5B"
    for bad in ("static64", "static64→nope", "static64→static64"):
        with pytest.raises(UserError):
            parse_pair(bad)
