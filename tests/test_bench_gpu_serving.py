"""bench/gpu_serving.py runs end to end on the CPU with the tiny pipeline (its --smoke mode), so
the script that produces the GPU figures is itself tested: every stage ends, the table prints,
and the results say which gates ran and what the governed path cost."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# It starts the bench and its gate worker processes.
pytestmark = pytest.mark.slow


def smoke_run(out: Path, users: str, *options: str) -> tuple[subprocess.CompletedProcess, dict]:
    command = [
        sys.executable,
        "bench/gpu_serving.py",
        "--smoke",
        "--no-compile",  # compiling is tested in tests/generation/test_serving.py
        "--no-warm-start",
        "--users",
        users,
        "--gate-processes",
        "1",
        "--catalog",
        "500",
        "--out",
        str(out),
        *options,
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["errors"] == {}
    return done, results


def test_smoke_run_writes_every_stage(tmp_path):
    done, results = smoke_run(tmp_path, "1,2")
    stages = results["stages"]
    assert list(stages["ladder"])[:2] == [
        "plain diffusers, one at a time",
        "run_batch, eager fp16 (batching)",
    ]
    assert "+ text-embedding cache, uint8 on device" in stages["ladder"]
    assert [point["users"] for point in stages["stream"]] == [1, 2]
    governance = stages["governance"]
    assert governance["on"]["gates_run"] == ["image_safety", "memorization"]
    assert governance["on"]["decisions"] == ["approve"]
    assert governance["off"]["governed"] is False
    # How many images finish inside the short smoke window depends on the machine's load, so
    # only the arithmetic is checked here; the decisions above show governed images released.
    # A loaded machine may finish no image inside the window: then there is no ratio to give.
    on_rate, off_rate = governance["on"]["images_per_s"], governance["off"]["images_per_s"]
    if off_rate > 0:
        assert governance["ratio"] == pytest.approx(on_rate / off_rate)
    else:
        assert governance["ratio"] is None
    assert "| step | lone request (s) |" in done.stdout
    assert "governance on/off at 2 users" in done.stdout


def test_skip_eager_times_only_the_baseline_before_the_compiled_rungs(tmp_path):
    _, results = smoke_run(tmp_path, "1", "--skip-eager")
    stages = results["stages"]
    assert list(stages["ladder"]) == ["plain diffusers, one at a time"]
    # The reference images are still made: the served path is compared with them.
    assert stages["quality"]["max_levels"] == 0
    assert [point["users"] for point in stages["stream"]] == [1]
