"""bench/gpu/run.py --smoke on CPU: the GPU benchmark's whole path (models from configs, the template's
step per precision mode, then an `aar run --template finetune` study) so the script cannot rot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aar.config import REPO_ROOT


@pytest.mark.slow
def test_bench_gpu_smoke_runs_every_mode_and_a_study(tmp_path: Path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "gpu" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    steps = {(s["model"], s["precision"], s["micro_batch_size"]): s for s in report["steps"]}
    assert len(steps) == 8 and not any(s["error"] for s in steps.values())
    for (_, precision, _), s in steps.items():
        assert s["s_per_step"] > 0 and s["real_tokens_per_step"] > 0
        assert (s["changed_frac"] >= 0.99) == (precision != "bf16"), s
    # The study ran through aar's CLI to its report (tiny random models may leave no research result).
    assert Path(report["study"]["summary"]["report_path"]).name.endswith(".html"), report["study"]
