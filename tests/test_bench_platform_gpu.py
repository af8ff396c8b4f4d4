"""bench/platform_gpu.py end to end on the CPU (its --smoke mode: the tiny pipeline, the embedded
SQLite database and filesystem broker): the web server, a GPU-queue worker and a gates worker
as separate processes, users of two organizations over HTTP, the results in gpu_serving.py's
shape. The fault stage (a GPU worker's pool process SIGKILLed mid-stream) is left out for time:
tests/generation/test_worker_e2e.py kills a pool process mid-job and while idle."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# It starts the web server and worker processes of its own.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("broker")]


def test_smoke_run_measures_the_platform_over_http_and_survives_a_killed_worker(tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable,
        "bench/platform_gpu.py",
        "--smoke",
        "--embedded",
        "--stages",
        "lone,stream",
        "--users",
        "2",
        "--out",
        str(out),
        "--data-dir",
        str(tmp_path / "data"),
        # Generous: behaviour is asserted, not speed, and a loaded machine is slow to restart
        # the killed worker's pool process (a model load).
        "--deadline-s",
        "1500",
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["errors"] == {}, results["errors"]
    stages = results["stages"]
    assert stages["setup"]["flop_limit_images_per_s"] is None  # no GPU, no FLOP limit
    lone = stages["lone"]
    assert lone["states"] == ["RELEASED"] and lone["bytes"] > 0
    assert set(lone["phases_p50_s"]) == {"queued", "generating", "gating"}
    (row,) = stages["stream"]
    assert {"gpus": 1, "users": 2, "governed": True, "path": "http"}.items() <= row.items()
    assert {"images_per_s", "latency_p50_s", "latency_p95_s"} <= set(row)
    assert "| GPUs | users | images/s |" in done.stdout
