"""The `aar` command line."""

from __future__ import annotations

import logging
import os
import sys

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


def _register_commands() -> None:
    """Each area adds its own commands; imported here so `aar --help` lists them all."""
    for module_name in (
        "aar.w2s.commands",
        "aar.store.commands",
        "aar.sandbox.commands",
        "aar.graph.commands",
        "aar.web.commands",
    ):
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
