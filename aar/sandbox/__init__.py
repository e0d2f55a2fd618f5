"""Sandboxes for agent-written experiments: Docker, bubblewrap, or (trusted jobs only) a local subprocess.

Every sandbox's `run(job)` returns an `ExecResult` and raises only for infrastructure faults.
"""

from aar.sandbox.base import ExecResult, Job, Sandbox, Status
from aar.sandbox.select import SandboxChoice, select_sandbox

__all__ = [
    "ExecResult",
    "Job",
    "Sandbox",
    "SandboxChoice",
    "Status",
    "select_sandbox",
]
