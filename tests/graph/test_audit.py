from pathlib import Path

import pytest

from aar.graph.audit import audit_source
from tests.conftest import TEMPLATES


@pytest.mark.parametrize("path", sorted((TEMPLATES / "methods").glob("*.py")), ids=lambda p: p.stem)
def test_library_methods_pass(path: Path):
    assert audit_source(path.read_text()).ok


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("import socket\ndef loss(l, w, p, c):\n    return l", "import of 'socket'"),
        (
            "from urllib.request import urlopen\ndef loss(l, w, p, c):\n    return l",
            "import of 'urllib.request'",
        ),
        ("import subprocess\ndef loss(l, w, p, c):\n    return l", "import of 'subprocess'"),
        ("def loss(l, w, p, c):\n    open('x')\n    return l", "call to open()"),
        ("def loss(l, w, p, c):\n    return eval('l')", "call to eval()"),
        ("import torch\ndef loss(l, w, p, c):\n    torch.os.system('id')\n    return l", "use of .system"),
        ("def loss(l, w, p, c):\n    x = '/data/seed_0/test.jsonl'\n    return l", "looks like a file path"),
        ("def loss(l, w, p, c):\n    x = 'gold_labels'\n    return l", None),
        ("def helper():\n    pass", "must define loss"),
        ("def loss(:\n", "syntax error"),
    ],
)
def test_rules(code: str, problem: str | None):
    result = audit_source(code)
    if problem is None:
        assert result.ok, result.describe()
    else:
        assert not result.ok and problem in result.describe()


def test_docstrings_may_mention_test_split():
    assert audit_source('"""Compare on the test split."""\ndef loss(l, w, p, c):\n    return l').ok
