"""bench/gpu_controlnet.py runs on the CPU with the tiny SD 1.5 and SDXL pipelines and their tiny
ControlNets (--tiny), so the script that measures ControlNet on the GPU is itself tested: both
paths run for each family, a batched image equals the same request alone, and results.json and
the table are written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_tiny_controlnets_run_both_paths(tmp_path):
    command = [
        sys.executable,
        "bench/gpu_controlnet.py",
        "--tiny",
        "--requests",
        "3",
        "--max-batch",
        "2",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["device"] == "cpu"
    results = report["results"]
    assert [r["model"] for r in results] == ["tiny-sd15", "tiny-sdxl"]
    for result in results:
        assert result["requests"] == 3 and result["max_batch"] == 2
        assert result["batched_vs_solo_max_pixel_diff"] <= 2
        assert result["ratio"] == pytest.approx(
            result["platform_images_per_s"] / result["plain_images_per_s"]
        )
    assert "| tiny-sd15 + ControlNet |" in done.stdout
