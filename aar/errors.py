"""The error tree.

User mistakes raise `UserError` (one clear line, exit code 2), agent mistakes raise `AgentError` (shown
to the agent as an observation), infrastructure faults raise `InfraError` (retried or reported).
"""

from __future__ import annotations


class AarError(Exception):
    """Base of every error aar raises on purpose."""

    exit_code = 1


class UserError(AarError):
    """Bad input from the person running aar: a clear one-line message, exit code 2."""

    exit_code = 2


class DataError(UserError):
    """A data file is malformed; the message names the file, the row and the problem."""

    def __init__(self, path: object, problem: str, row: int | None = None) -> None:
        where = f"{path}" if row is None else f"{path}, row {row}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.row = row
        self.problem = problem


class AgentError(AarError):
    """A mistake in agent-written code or output; shown to the agent as an observation."""


class InfraError(AarError):
    """An infrastructure fault (engine missing, image missing, disk full); message says how to fix it."""

    exit_code = 3


class LLMUnreachableError(InfraError):
    """The study's LLM cannot be used: unreachable through every transport retry, or refusing every request
    for a reason retrying cannot fix. The study cannot go on; it ends failed, with this message as reason."""
