"""bench/gpu_upscale.py runs on the CPU with the tiny upscaler (--tiny), so the script that
measures the x4 upscaler on a GPU is itself tested: the folder is saved and loaded through the
worker's cache, and both paths (plain diffusers one at a time, run_upscale batched) run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_tiny_upscaler_runs_both_paths(tmp_path):
    command = [sys.executable, "bench/gpu_upscale.py", "--tiny", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "gpu_upscale.json").read_text())
    assert (results["input"], results["output"], results["platform_batch_size"]) == (
        "16x16",
        "64x64",
        2,
    )
    for key in ("plain_one_at_a_time_images_per_s", "platform_batch_images_per_s"):
        assert results[key] > 0
