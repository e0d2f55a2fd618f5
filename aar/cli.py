"""The `aar` command line."""

from __future__ import annotations

import ast
import logging
import os
import sys
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from aar.errors import AarError

app = typer.Typer(
    name="aar",
    help="aar: an automated alignment researcher for weak-to-strong generalization.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, soft_wrap=True)


COMMAND_MODULES = (
    "aar.w2s.commands",
    "aar.store.commands",
    "aar.sandbox.commands",
    "aar.graph.commands",
    "aar.web.commands",
    "aar.deploy.commands",
)


def commands_of(module_name: str) -> frozenset[str]:
    """The command names a commands module's `register(app)` adds, read from its source without importing it.

    Only `app.command("name")` and `app.add_typer(..., name="name")` on `register`'s own parameter count;
    a module registering in another way reads as adding nothing (and is then loaded for every command).
    """
    path = Path(__file__).parent.joinpath(*module_name.split(".")[1:]).with_suffix(".py")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except OSError:
        return frozenset()
    names: set[str] = set()
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and fn.name == "register" and fn.args.args:
            app_name = fn.args.args[0].arg
            names.update(_registered_names(fn, app_name))
    return frozenset(names)


def _registered_names(fn: ast.FunctionDef, app_name: str) -> set[str]:
    names = set()
    for call in ast.walk(fn):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        if not (isinstance(call.func.value, ast.Name) and call.func.value.id == app_name):
            continue
        if call.func.attr == "command" and call.args and isinstance(call.args[0], ast.Constant):
            names.add(str(call.args[0].value))
        elif call.func.attr == "add_typer":
            names.update(
                str(k.value.value)
                for k in call.keywords
                if k.arg == "name" and isinstance(k.value, ast.Constant)
            )
    return names


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The commands modules to load for `argv`: only the one owning its command, so a user error in
    `aar run` is reported before the store's, sandbox's and science stack's imports; all of them for
    `aar --help`, no command, or a command no module names (click then lists the known ones)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    owners = tuple(m for m in COMMAND_MODULES if word is not None and word in commands_of(m))
    return owners or COMMAND_MODULES


def _register_commands(argv: list[str] | None = None) -> None:
    """Each area adds its own commands (see `modules_for` for which are loaded)."""
    for module_name in modules_for(sys.argv[1:] if argv is None else argv):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(app)


def _one_line(exc: ValidationError) -> str:
    """A pydantic error as one line: the field and what it accepts, e.g. "sandbox: Input should be ..."."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()
    )


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Third-party progress bars and load reports would drown aar's own progress output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    _register_commands()
    try:
        # Without standalone mode click *returns* a typer.Exit's code instead of exiting with it.
        code = app(standalone_mode=False)
    except AarError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except ValidationError as exc:  # a StudyConfig field out of range or a mode not in its Literal
        err_console.print(f"[red]error:[/red] {_one_line(exc)}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort as exc:  # click turns Ctrl-C into Abort
        sys.exit(130 if isinstance(exc.__context__, KeyboardInterrupt) else 1)
    except Exception as exc:
        # typer vendors its own click; usage errors (bad option values) derive from its ClickException.
        if (
            hasattr(exc, "show")
            and hasattr(exc, "exit_code")
            and type(exc).__module__.split(".")[0] in ("click", "typer")
        ):
            exc.show()
            sys.exit(2)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)
