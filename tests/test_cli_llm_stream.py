"""What `aar run --policy llm` shows of its LLM: invalid replies and structured-output mode switches, on the
terminal and in the `--json` event stream, and mode switches in the agent log (issue 11).

A real `aar run` (builtin search machinery, local sandbox, tiny splits, SQLite) talks over HTTP to a
fake llama-cpp-python server: HTTP 500 on `response_format: json_schema`, and a first reply that is not
JSON. The client moves to `json_object`; both events must reach the person reading the run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEMPLATES
from tests.fakes.llm import FakeOpenAIServer, Text
from tests.test_cli_status import AAR, LOCAL, SMALL, aar

AUX = (TEMPLATES / "methods" / "aux_conf.py").read_text()
PROPOSAL = {"hypotheses": [{"text": "A softer auxiliary confidence loss helps", "rationale": "alpha 0.75 overfits",
                            "expected_effect": "+0.05 PGR", "base_method": "aux_conf", "hparams": {"aux_alpha": 0.5}}]}  # fmt: skip
FINDING = {"finding": "aux_conf at alpha 0.5 is above naive, inside the noise."}
STOP = {"action": "stop", "reason": "enough for this budget"}
SWITCH = "openai-compatible rejected json_schema structured output (HTTP 500"
INVALID = "invalid reply (attempt 1)"


@pytest.fixture
def env(tmp_path: Path, shared_cache: Path) -> dict[str, str]:
    """A fresh results folder (SQLite) with the shared embedding cache."""
    return dict(os.environ, AAR_RESULTS_DIR=str(tmp_path / "results"), AAR_CACHE=str(shared_cache))


def run_llm_study(
    env: dict[str, str], name: str, *extra: str
) -> tuple[subprocess.CompletedProcess[str], Any]:
    """`aar run --policy llm` against a fake llama.cpp server; the process and the server."""
    script = [Text("Sure! Here is my plan: soften the loss."), Text(PROPOSAL), Text({"method_code": AUX}),
              Text(FINDING), Text(STOP)]  # fmt: skip
    env = {**env, "OPENAI_API_KEY": "x", "AAR_LLM_RETRY_BASE_S": "0.01", "COLUMNS": "400"}
    with FakeOpenAIServer(script, json_schema=False, reject_status=500) as server:
        model = f"openai-compatible/qwen2.5-0.5b@{server.base_url}"
        out = subprocess.run(
            [AAR, "run", "--name", name, "--policy", "llm", "--model", model, *SMALL, *LOCAL, *extra],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    assert out.returncode in (0, 1), out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    return out, server


@pytest.mark.slow
def test_json_stream_carries_invalid_replies_and_mode_switches(env: dict[str, str]) -> None:
    out, _server = run_llm_study(env, "llm-json", "--json")
    summary = json.loads(out.stdout)  # stdout stays one JSON document: the study's summary
    assert summary["name"] == "llm-json" and summary["status"] == "finished"
    events = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    assert events and all({"time", "node", "message"} <= set(e) for e in events)
    switches = [e for e in events if e["node"] == "llm"]
    assert len(switches) == 1 and SWITCH in switches[0]["message"], switches
    assert "using json_object from now on" in switches[0]["message"]
    invalid = [e for e in events if INVALID in e["message"]]
    assert len(invalid) == 1 and invalid[0]["node"] == "propose", events
    assert "Sure! Here is my plan" in invalid[0]["message"]  # the reply, truncated, with its error
    assert any(e["node"] == "propose" and "softer auxiliary" in e["message"] for e in events)

    log = " ".join(aar(env, "log", "llm-json").stdout.split())
    assert f"llm structured output: {SWITCH}" in log  # the switch is a step of the agent log


@pytest.mark.slow
def test_terminal_shows_invalid_replies_and_mode_switches(env: dict[str, str]) -> None:
    out, _ = run_llm_study(env, "llm-term")
    said = " ".join(out.stdout.split())
    assert f"llm structured output: {SWITCH}" in said
    assert f"propose {INVALID}" in said and "Sure! Here is my plan" in said
