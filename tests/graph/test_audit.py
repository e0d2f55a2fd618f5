"""The static audit: deny by default, and honest about what it lets through.

`audit_fixtures/` holds one hostile method per bypass of the old denylist audit (kept verbatim in
`old_audit.py`): `torch.os`, `torch.hub`, `import codecs`, `import bz2`, `open` reached by name on a
chr(47)-built path, `__builtins__` + `getattr`, `ctx.data['weak_train']`, `np.load`, and a dunder walk
from `()` to `os.system`. `test_bypasses_passed_the_old_audit` shows each one passed it;
`test_bypasses_are_rejected` shows each is now rejected with a specific one-line message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aar.graph.audit import audit_source
from tests.conftest import TEMPLATES
from tests.graph.old_audit import audit_source as old_audit_source

FIXTURES = Path(__file__).parent / "audit_fixtures"
LIBRARY = sorted((TEMPLATES / "methods").glob("*.py")) + sorted(TEMPLATES.glob("*/method.py"))

BYPASSES = {
    "torch_os": "line 7: torch.os is not allowed: it reaches the module 'os'",
    "torch_hub": "line 7: torch.hub is not allowed: it reaches the module 'torch.hub'",
    "codecs_open": "line 3: import of 'codecs' is not allowed",
    "bz2_open": "line 3: import of 'bz2' is not allowed",
    "chr_path_open": "line 7: builtin 'open' is not allowed",
    "builtins_getattr": "line 7: name '__builtins__' is not allowed",
    "ctx_weak_train": "line 7: ctx.data['weak_train'] is not allowed",
    "np_load": "line 8: np.load is not allowed: it reads or writes files",
    "dunder_walk": "line 6: .__class__ is not allowed: dunder attributes",
}
# More of each bypass than its first finding: the message an agent needs to fix the rest.
ALSO = {
    "chr_path_open": "line 8: builtin 'chr' is not allowed",
    "builtins_getattr": "line 8: builtin 'getattr' is not allowed",
    "bz2_open": "line 11: .open is not allowed",
    "dunder_walk": "line 7: string '__subclasses__' names a dunder attribute",
}


def test_every_bypass_has_a_fixture():
    assert sorted(p.stem for p in FIXTURES.glob("*.py")) == sorted(BYPASSES)


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_bypasses_passed_the_old_audit(name: str):
    assert old_audit_source((FIXTURES / f"{name}.py").read_text()).ok


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_bypasses_are_rejected(name: str):
    result = audit_source((FIXTURES / f"{name}.py").read_text())
    assert not result.ok
    assert any(p.startswith(BYPASSES[name]) for p in result.problems), result.problems
    if name in ALSO:
        assert any(p.startswith(ALSO[name]) for p in result.problems), result.problems
    assert all(p.startswith("line ") and "\n" not in p for p in result.problems)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_library_methods_pass(path: Path):
    result = audit_source(path.read_text())
    assert result.ok, result.describe()


GOOD = [
    # A custom loop: its own head, optimizer and schedule, with torch.no_grad and an f-string log.
    """
import math
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Head(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 2)
        self._f_score = 0.0  # private to this class, and names that merely start like frame attributes

    def forward(self, x):
        return self.linear(x)


def loss(logits, weak_p, progress, ctx):
    target = torch.stack([1 - weak_p, weak_p], dim=1)
    return F.cross_entropy(logits, target, reduction="none") * math.exp(-progress)


def _labels(ctx, sharpen):
    counts = defaultdict(int)
    for row in ctx.data["w2s_train"]:
        counts[len(row["text"]) > 50] += 1
    p = np.clip(ctx.weak_p(), 1e-4, 1 - 1e-4)
    return p**sharpen / (p**sharpen + (1 - p) ** sharpen)


def train(ctx):
    labels = _labels(ctx, float(ctx.hparams.get("sharpen", 1.0)))
    result = ctx.fit(labels, loss_fn=loss)
    with torch.no_grad():
        p = ctx.predict(result.model, "eval")
    ctx.log(event="done", note=f"{len(p)} rows, mean {p.mean():.3f}", step="{:d}".format(3))
    ctx.write_predictions("final", p)
""",
    "def loss(logits, weak_p, progress, ctx):\n    x = logits.detach().clone()\n    return x.sum()\n",
    "import torch\nclass H(torch.nn.Module):\n    def __init__(self):\n        super(H, self).__init__()\n"
    "def train(ctx):\n    pass\n",
    # Library decorators may wrap functions that take ctx (library code is trusted).
    "import torch\n@torch.no_grad()\ndef score(model, ctx):\n    return ctx.predict(model, 'dev')\n"
    "def train(ctx):\n    r = ctx.fit()\n    ctx.write_predictions('final', score(r.model, ctx))\n",
    "def train(ctx):\n    ctx.fit(loss_fn=lambda a, b, c, ctx: (a[:, 1] - b).abs())\n",
    # weak_train's inputs (no labels), declared as the contract asks.
    'REQUIRES = {"weak_train_inputs": True}\ndef train(ctx):\n    n = len(ctx.data["weak_train"])\n',
]


@pytest.mark.parametrize("code", GOOD)
def test_honest_code_passes(code: str):
    result = audit_source(code)
    assert result.ok, result.describe()


HEAD = "import torch\nimport numpy as np\n"


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("import socket\ndef loss(l, w, p, ctx):\n    return l", "line 1: import of 'socket' is not allowed"),
        ("from urllib.request import urlopen\ndef train(ctx):\n    pass", "import of 'urllib.request'"),
        ("import os.path\ndef train(ctx):\n    pass", "import of 'os.path'"),
        ("from . import x\ndef train(ctx):\n    pass", "import of '.' is not allowed"),
        ("from torch import *\ndef train(ctx):\n    pass", "'from torch import *' is not allowed"),
        ("from torch import load\ndef train(ctx):\n    pass", "torch.load is not allowed"),
        ("from torch import hub\ndef train(ctx):\n    pass", "torch.hub is not allowed"),
        ("from torch import _C\ndef train(ctx):\n    pass", "torch._C is not available"),
        (HEAD + "def train(ctx):\n    torch.save(1, 'x')", "line 4: torch.save is not allowed"),
        (HEAD + "def train(ctx):\n    torch.serialization.load", "torch.serialization is not allowed"),
        (HEAD + "def train(ctx):\n    torch.utils.data.DataLoader", "torch.utils is not allowed"),
        (HEAD + "def train(ctx):\n    torch.ops.load_library('x')", "torch.ops is not allowed"),
        (HEAD + "def train(ctx):\n    torch.compile(ctx)", "torch.compile is not allowed"),
        (HEAD + "def train(ctx):\n    np.fromfile('x')", "np.fromfile is not allowed"),
        (HEAD + "def train(ctx):\n    torch._C", "torch._C: private and dunder names are not allowed"),
        (HEAD + "def train(ctx):\n    torch.no_such_thing()", "torch.no_such_thing does not exist"),
        (HEAD + "def train(ctx):\n    f = torch.nn", "torch.nn is a module"),
        (HEAD + "def train(ctx):\n    m = np\n    m.load('x')", "module np may be used only as np.<name>"),
        (HEAD + "def train(ctx):\n    torch.manual_seed = None", "assigning to torch.manual_seed"),
        (HEAD + "def train(ctx):\n    torch.zeros(1).numpy().tofile('x')", ".tofile is not allowed"),
        (HEAD + "def train(ctx):\n    np.zeros(1).ctypes", ".ctypes is not allowed"),
        ("def train(ctx):\n    eval('1')", "line 2: builtin 'eval' is not allowed"),
        ("def train(ctx):\n    exec('1')", "builtin 'exec' is not allowed"),
        ("def train(ctx):\n    type(ctx)", "builtin 'type' is not allowed"),
        ("def train(ctx):\n    vars(ctx)", "builtin 'vars' is not allowed"),
        ("def train(ctx, open=None):\n    pass", "the name 'open' is reserved"),
        ("def train(ctx):\n    __import__('os')", "name '__import__' is not allowed"),
        ("def train(ctx):\n    x = (i for i in [])\n    x.gi_frame", ".gi_frame is not allowed: frame"),
        (
            "def train(ctx):\n    try:\n        pass\n    except ValueError as e:\n        e.args[0].tb_frame",
            ".tb_frame",
        ),
        (
            HEAD + "def train(ctx):\n    torch.zeros(1).untyped_storage()._new_shared(1)",
            "._new_shared is not allowed: private",
        ),
        ("def train(ctx):\n    '{0.__class__}'.format(1)", "names a dunder attribute"),
        ("def train(ctx):\n    '{0.fit}'.format(ctx.hparams)", "format fields may not read attributes"),
        ("def train(ctx):\n    s = 'x'\n    s.format(1)", ".format is allowed only on a string literal"),
        ("def train(ctx):\n    ctx.out_dir", "line 2: .out_dir is not allowed: it is internal to the runner"),
        ("def train(ctx):\n    ctx.backend.features", ".backend is not allowed"),
        ("def train(ctx):\n    ctx.method", ".method is not allowed"),
        ("def train(ctx):\n    ctx.extra", "ctx.extra is not part of the runner context's API"),
        ("def train(ctx):\n    ctx.data", "ctx.data is not allowed"),
        (
            'REQUIRES = {"intermediate": True}\ndef train(ctx):\n    ctx.data["weak_train"]',
            "ctx.data['weak_train'] is not allowed",
        ),
        ("def train(ctx):\n    k = 'dev'\n    ctx.data[k]", "ctx.data[k] is not allowed"),
        ("def train(ctx):\n    ctx.data.get('weak_train')", "ctx.data is not allowed"),
        ("def train(ctx):\n    f = ctx.fit\n    str(f)", "ctx.fit must be called directly"),
        ("def train(ctx):\n    print(ctx)", "ctx may only be used as ctx.<name>"),
        ("def train(ctx):\n    c = ctx", "ctx may only be used as ctx.<name>"),
        ("def h(c):\n    return c\ndef train(ctx):\n    h(ctx)", "ctx may only be used as ctx.<name>"),
        (
            "def h(**kw):\n    return kw\ndef train(ctx):\n    h(ctx=ctx)",
            "ctx may only be used as ctx.<name>",
        ),
        ("def train(ctx):\n    ctx = 1", "do not rebind ctx"),
        ("def train(ctx):\n    x = 1\n    x.data", ".data is not allowed: use ctx.data"),
        (
            "def loss(l, w, p, c):\n    return l",
            "loss() must take the runner context as parameter 4, named ctx",
        ),
        ("def train(*args):\n    pass", "train() must take the runner context as parameter 1"),
        (
            "def deco(f):\n    return f\n@deco\ndef train(ctx):\n    pass",
            "train() takes ctx: only library decorators",
        ),
        (
            "def l4(a, b, c, d):\n    return a\ndef train(ctx):\n    ctx.fit(loss_fn=l4)",
            "loss_fn must be a function",
        ),
        (
            "import functools\ndef w(f):\n    return f\n@functools.partial(w)\ndef h(ctx):\n    pass\ndef train(ctx):\n    h(ctx)",
            "h() takes ctx: only library decorators",
        ),
        ("def train(ctx):\n    pass\nloss = train", "the hook 'loss' must be a plain 'def loss(...)'"),
        ("def train(ctx):\n    global x", "'global' is not allowed"),
        ("class M(metaclass=object):\n    pass\ndef train(ctx):\n    pass", "metaclass and class keywords"),
        ("def train(ctx):\n    x = '/data/seed_0/test.jsonl'", "looks like a file path"),
        ("def helper():\n    pass", "must define loss"),
        ("def loss(:\n", "line 1: syntax error"),
        (
            "def train(ctx):\n    pass\x00",
            "line 1: syntax error: source code string cannot contain null bytes",
        ),
    ],
)
def test_rules(code: str, problem: str):
    result = audit_source(code)
    assert not result.ok and problem in result.describe(), result.describe()


def test_docstrings_may_mention_the_test_split_and_dunders():
    assert audit_source('"""Compare on the test split; see __init__."""\ndef train(ctx):\n    pass').ok


def test_strings_that_only_look_like_words_pass():
    assert audit_source("def train(ctx):\n    x = 'gold_labels'\n").ok


def test_huge_or_deep_source_is_a_finding_not_a_crash():
    assert not audit_source("def train(ctx):\n    x = " + "-" * 200_000 + "1\n").ok
    assert not audit_source("def train(ctx):\n    x = " + "(" * 5000 + ")" * 5000 + "\n").ok
