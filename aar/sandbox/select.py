"""Choosing a sandbox: `--sandbox docker|bwrap|local`, else $AAR_SANDBOX, else docker if an engine answers."""

from __future__ import annotations

import logging
import os
import shutil
from typing import NamedTuple

from aar.errors import UserError
from aar.sandbox.base import Sandbox

log = logging.getLogger(__name__)

KINDS = ("docker", "bwrap", "local")


class SandboxChoice(NamedTuple):
    """The sandbox to use and why it was chosen (for the CLI to say)."""

    sandbox: Sandbox
    kind: str
    why: str


def select_sandbox(
    kind: str | None = None,
    *,
    unsafe_local: bool = False,
    image: str | None = None,
) -> SandboxChoice:
    """The sandbox named by `kind`, else by $AAR_SANDBOX, else docker when an engine answers, else bwrap.

    Raises:
        UserError: an unknown kind.
        InfraError: the chosen sandbox cannot run here (no engine, image missing, no bwrap), with a fix.
    """
    kind, why = _resolve_kind(kind)
    if kind == "docker":
        from aar.sandbox.docker import DockerSandbox, default_image

        sandbox: Sandbox = DockerSandbox(image=image or default_image())
    elif kind == "bwrap":
        from aar.sandbox.bwrap import BwrapSandbox

        sandbox = BwrapSandbox()
    else:
        from aar.sandbox.local import LocalSandbox

        sandbox = LocalSandbox(unsafe_local=unsafe_local)
    log.info("sandbox: %s (%s)", kind, why)
    return SandboxChoice(sandbox, kind, why)


def _resolve_kind(kind: str | None) -> tuple[str, str]:
    if kind:
        return _checked(kind), "--sandbox"
    env = os.environ.get("AAR_SANDBOX", "").strip()
    if env:
        return _checked(env), "AAR_SANDBOX"
    from aar.sandbox.docker import engine_answers

    if engine_answers():
        return "docker", "a Docker engine answers"
    if shutil.which("bwrap"):
        return "bwrap", "no Docker engine answers; bubblewrap is installed"
    return "docker", "neither a Docker engine nor bubblewrap was found"


def _checked(kind: str) -> str:
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise UserError(f"unknown sandbox {kind!r}; choose one of {', '.join(KINDS)}")
    return kind
