"""Methods are recorded by hypothesis and code hash; a library name only for the library's own bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aar.recording import LIBRARY_DIR, ensure_study, method_label, record_result
from aar.store import Experiment, HypothesisCreate, Store, create_hypothesis, open_store
from aar.w2s.experiment import result_from_json

AUX = (LIBRARY_DIR / "aux_conf.py").read_bytes()


def test_library_bytes_carry_the_library_name():
    assert method_label("aux_conf", AUX, library_dir=LIBRARY_DIR, hypothesis_id=3) == "aux_conf"
    # The code decides, not the claim: naive's bytes proposed "from aux_conf" are naive.
    naive = (LIBRARY_DIR / "naive.py").read_bytes()
    assert method_label("aux_conf", naive, library_dir=LIBRARY_DIR, hypothesis_id=3) == "naive"


def test_changed_code_is_named_by_hypothesis_and_hash():
    code = AUX + b"\n# one changed byte is another method\n"
    digest = hashlib.sha256(code).hexdigest()[:8]
    assert method_label("aux_conf", code, library_dir=LIBRARY_DIR, hypothesis_id=3) == f"h3-{digest}"
    assert method_label("naive", code, library_dir=LIBRARY_DIR, hypothesis_id=None) == f"code-{digest}"
    assert method_label("my_method", code, library_dir=LIBRARY_DIR, hypothesis_id=3) == "my_method"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = open_store(url=f"sqlite:///{tmp_path / 'aar.db'}", results_dir=tmp_path)
    yield opened  # type: ignore[misc]
    opened.close()


def test_a_result_claiming_a_library_name_is_recorded_under_its_own(store: Store, tmp_path: Path):
    method = tmp_path / "method.py"
    method.write_bytes(AUX.replace(b"0.75", b"0.95"))
    result = result_from_json(
        {"task": "t", "pair": "a→b", "template": "probe", "method": "aux_conf", "seeds": [0]}
    )
    study = ensure_study(store, name="s", goal="g", task="t", pair="a→b")
    with store.session() as session:
        h = create_hypothesis(session=session, study_id=study, hypothesis_in=HypothesisCreate(text="h"))
        hid = int(h.id or 0)
    exp_id = record_result(store, study_id=study, result=result, method_path=method, hypothesis_id=hid)
    with store.session() as session:
        config = session.get(Experiment, exp_id).config  # type: ignore[union-attr]
    digest = hashlib.sha256(method.read_bytes()).hexdigest()[:8]
    assert config["method"] == f"h{hid}-{digest}" and config["base_method"] == "aux_conf"
    method.write_bytes(AUX)
    exp_id = record_result(store, study_id=study, result=result, method_path=method, hypothesis_id=hid)
    with store.session() as session:
        config = session.get(Experiment, exp_id).config  # type: ignore[union-attr]
    assert config["method"] == "aux_conf" and "base_method" not in config
