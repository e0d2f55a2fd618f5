"""The audit's rules as data: what a method may import, call and touch (see `aar/graph/audit.py`).

Each allowed module says why it is allowed; everything not listed is a finding.
"""

from __future__ import annotations

import builtins
import functools
import re
import typing
from types import ModuleType
from typing import Any


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Module -> why a method may import it. Anything else is a finding; nothing else is imported on the host.
ALLOWED_MODULES: dict[str, str] = {
    "torch": "tensors and autograd; load/save/hub/jit/compile/from_file are denied by name",
    "torch.nn": "layers and losses, in memory",
    "torch.nn.functional": "functional losses and activations",
    "torch.nn.init": "weight initialisation",
    "torch.nn.utils": "gradient clipping, parameter vectors (in memory)",
    "torch.optim": "optimizers",
    "torch.optim.lr_scheduler": "learning-rate schedules",
    "torch.linalg": "linear algebra",
    "torch.special": "special functions",
    "torch.distributions": "probability distributions (math only)",
    "torch.autograd": "custom gradients; its profiler submodule is not allowed",
    "torch.cuda": "device queries (is_available, device_count); private names denied",
    "numpy": "array math; load/save/fromfile/memmap/... are denied by name",
    "numpy.linalg": "linear algebra",
    "numpy.random": "random numbers",
    "math": "pure math functions",
    "random": "pseudo-random numbers (the runner seeds it); its module attributes are private",
    "typing": "annotations (get_type_hints is denied: it evaluates strings)",
    "__future__": "annotations",
    "dataclasses": "small records; no file or code access",
    "functools": "partial, reduce, lru_cache (singledispatch is denied: it evaluates annotations)",
    "itertools": "iteration helpers",
    "collections": "containers",
    "collections.abc": "container types for annotations",
}
# Plain builtins (pure computation, containers, printing to the job log) and every exception class.
# Not allowed: open, eval/exec/compile, __import__, getattr/setattr/delattr/hasattr, globals/locals/vars,
# type/dir/id (reflection), chr/ord/bytes/memoryview (no method needs to build paths or raw bytes),
# input, breakpoint, help/exit/quit.
ALLOWED_BUILTINS = _names(
    "abs all any bin bool callable classmethod dict divmod enumerate filter float format frozenset hash hex"
    " int isinstance issubclass iter len list map max min next object oct pow print property range repr"
    " reversed round set slice sorted staticmethod str sum super tuple zip True False None NotImplemented"
    " Ellipsis"
) | {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
FORBIDDEN_BUILTINS = frozenset(dir(builtins)) - ALLOWED_BUILTINS
# Attribute names that read or write files, load code or libraries, or start processes.
IO_NAMES = _names(
    "load loads save savez savez_compressed savetxt loadtxt genfromtxt fromfile tofile from_file fromregex"
    " memmap DataSource dump dumps open from_pretrained save_pretrained push_to_hub load_library load_inline"
    " compile get_type_hints singledispatch singledispatchmethod ForwardRef read_text write_text read_bytes"
    " write_bytes system popen spawn fork execv execve execvp execl environ getenv putenv listdir scandir"
    " walk remove unlink rmtree rmdir mkdir makedirs chdir urlopen import_module exec_module cdll CDLL"
    " dlopen"
)
# Attribute names of modules a method may not reach through another value.
MODULE_NAMES = _names(
    "os sys subprocess shutil pathlib io builtins importlib hub jit ops classes library serialization"
    " multiprocessing distributed package cpp_extension ctypes ctypeslib lib inspect gc pickle marshal"
    " socket tempfile glob codecs bz2 gzip lzma zipfile tarfile posix signal resource mmap"
)
CTX_CALLS = _names(
    "weak_p weak_members class_prior n log fit predict embeddings neighbour_mean write_predictions"
)
CTX_VALUES = _names("hparams seed roles")
CTX_SPLITS = ("w2s_train", "dev", "eval")
CTX_INTERNALS = _names("backend out_dir log_rows method")
# Hook -> index of the parameter that receives the runner context.
HOOK_CTX_POSITION = {"loss": 3, "weights": 2, "select_step": 1, "train": 0}
# Frame, code and traceback attributes: from a generator or an exception they reach any module's globals.
FRAME_ATTRS = _names(
    "f_back f_builtins f_code f_globals f_lasti f_lineno f_locals f_trace gi_code gi_frame gi_running"
    " gi_suspended gi_yieldfrom cr_await cr_code cr_frame cr_origin cr_running cr_suspended ag_await ag_code"
    " ag_frame ag_running tb_frame tb_lasti tb_lineno tb_next func_globals func_code"
) | {n for n in dir((lambda: 0).__code__) if n.startswith("co_")}
DUNDER = re.compile(r"^__\w+__$")
DUNDER_TEXT = re.compile(r"__[A-Za-z]\w*__")
FORMAT_FIELD_WALK = re.compile(r"\{[^{}:!]*[.\[]")
# Strings that point at files or held-out answers: the runner hands the method everything it may use.
SUSPICIOUS = re.compile(
    r"(^/|\.\./|\b(test|gold|ground[_ ]?truth|answers?)\b|\.(jsonl?|csv|npy|npz|pt|db)$)", re.I
)
MAX_SOURCE_BYTES = 100_000
ALLOWED_LIST = ", ".join(sorted(m for m in ALLOWED_MODULES if "." not in m))


@functools.cache
def io_objects() -> tuple[object, ...]:
    """The file-reading and code-evaluating callables of the allowed modules, matched by identity."""
    import numpy as np
    import torch

    found = [typing.get_type_hints, functools.singledispatch, torch.load, torch.save, torch.from_file]
    for name in ("load", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt",
                 "fromfile", "memmap", "fromregex"):  # fmt: skip
        found.extend([getattr(np, name)] if hasattr(np, name) else [])
    return (*found, torch.compile)


SIGNATURES = {
    "loss": "loss(logits, weak_p, progress, ctx)",
    "weights": "weights(examples, weak_p, ctx)",
    "select_step": "select_step(history, ctx)",
    "train": "train(ctx)",
}


def ctx_api() -> str:
    calls = ", ".join(f"ctx.{n}(...)" for n in sorted(CTX_CALLS))
    return f"ctx offers {calls}, ctx.hparams, ctx.seed, ctx.roles, ctx.data['w2s_train'|'dev'|'eval']"


def attribute_problem(attr: str) -> str | None:
    """Why `value.attr` is not allowed on a value that is not a module, or None."""
    if DUNDER.match(attr):
        return f".{attr} is not allowed: dunder attributes reach the interpreter's internals"
    if attr in FRAME_ATTRS:
        return f".{attr} is not allowed: frame and code objects reach the interpreter's internals"
    if attr in IO_NAMES:
        return f".{attr} is not allowed: it reads or writes files, loads code or starts processes"
    if attr in MODULE_NAMES:
        return f".{attr} is not allowed: it names a module methods may not use"
    if attr in CTX_INTERNALS:
        return f".{attr} is not allowed: it is internal to the runner ({ctx_api()})"
    return None


def object_problem(path: str, attr: str, obj: Any) -> str | None:
    """Why a resolved `module.attr` may not be used, or None."""
    if attr in IO_NAMES or any(obj is io for io in io_objects()):
        return f"{path} is not allowed: it reads or writes files, loads code or starts processes"
    if isinstance(obj, ModuleType) and obj.__name__ not in ALLOWED_MODULES:
        return f"{path} is not allowed: it reaches the module {obj.__name__!r} (methods may import {ALLOWED_LIST})"
    return None
