"""bench/gpu_generation.py runs on the CPU with the tiny SD3 and Flux pipelines (--tiny), so the
script that produces the GPU table's SD3 and Flux rows is itself tested: both paths run for each
family with its own scheduler and guidance, and the table and results.json are written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_tiny_sd3_and_flux_run_both_paths(tmp_path):
    command = [
        sys.executable,
        "bench/gpu_generation.py",
        "--tiny",
        "--models",
        "sd3,flux",
        "--no-poisson",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["model"] for r in results] == ["tiny-sd3", "tiny-flux"]
    for result, guidance in zip(results, (7.0, 3.5), strict=True):
        assert result["scheduler"] == "FlowMatchEulerDiscreteScheduler"
        assert result["guidance_scale"] == guidance
        assert sum(result["platform_batch_sizes"]) == result["platform_requests"] == 6
        assert max(result["platform_batch_sizes"]) <= result["max_batch"] == 4
        assert result["ratio"] == pytest.approx(
            result["platform_images_per_s"] / result["plain_images_per_s"]
        )
    assert "| tiny-sd3 |" in done.stdout and "| tiny-flux |" in done.stdout
