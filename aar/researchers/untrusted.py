"""Untrusted text (job stderr, tracebacks, logs) as data, never instructions.

Everything a job writes is chosen by the code the agent wrote, so it may try to talk to the model that
reads it ("IGNORE PREVIOUS INSTRUCTIONS ..."). It reaches a prompt in only two shapes:

- `summarize_error`: the job's status and, when it names one, a *builtin* exception type. This is all
  that propose, analyze and decide ever see of a failure: two words from fixed vocabularies, so nothing
  the job chose (a message, a custom exception class name) can get through.
- `fence`: a short, sanitized excerpt inside `<untrusted-job-output>` tags, for the implement step only
  (the agent may read its own traceback to fix its code). The system prompt says that text inside such
  a fence is data. Sanitizing strips control and invisible format characters (ANSI escapes, bidi
  overrides, zero-width characters), caps the length (keeping the tail, where a traceback ends), and
  neutralizes anything that could close the fence or open a new one: `<` and `>` become `‹` and `›`,
  and Markdown code fences lose their backticks.
"""

from __future__ import annotations

import builtins
import re
import unicodedata

FENCE_TAG = "untrusted-job-output"
EXCERPT_CHARS = 1200  # the longest excerpt a prompt carries
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_TYPE = re.compile(r"(?:^|[\s.:(])([A-Z][A-Za-z]{0,40}(?:Error|Exception|Interrupt|Exit))\b")
BUILTIN_EXCEPTIONS = frozenset(
    name for name, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, BaseException)
) | {"OutOfMemoryError"}  # torch.OutOfMemoryError (torch.cuda.OutOfMemoryError): a common, fixed name
STATUSES = frozenset(
    {"ok", "failed", "timeout", "oom", "killed", "invalid_output", "interrupted", "queued", "running"}
)


def sanitize(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` made inert: control/format characters gone, fence markers neutralized, at most `limit` chars.

    The tail is kept (a traceback's last lines name the error); a cut is marked with `…`.
    """
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    kept = kept.replace("<", "‹").replace(">", "›").replace("`", "ʼ")
    kept = re.sub(r"\n{3,}", "\n\n", kept).strip()
    return kept if len(kept) <= limit else "…" + kept[-(limit - 1) :]


def fence(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A sanitized excerpt of `text` inside an explicit untrusted-data fence (see the module docstring)."""
    return f"<{FENCE_TAG}>\n{sanitize(text, limit)}\n</{FENCE_TAG}>"


def exception_type(error: str) -> str:
    """The builtin exception type a traceback ends with (the last one named), or "" when none is."""
    names = [m.group(1) for m in _TYPE.finditer(error)]
    return next((n for n in reversed(names) if n in BUILTIN_EXCEPTIONS), "")


def summarize_error(status: str, error: str) -> str:
    """A failure as the planning steps may see it: status and builtin exception type, no job text."""
    shown = status if status in STATUSES else "failed"
    kind = exception_type(error)
    return f"{shown} ({kind})" if kind else shown
