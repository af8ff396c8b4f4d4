"""bench/gating_overlap.py's smoke run: both ways (the gates at once with the marking beside
them, and the old order) approve and sign every image, and the figures are written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_smoke_run_measures_both_ways(tmp_path):
    out = tmp_path / "overlap.json"
    command = [sys.executable, "bench/gating_overlap.py", "--sizes", "256", "--n", "2"]
    command += ["--catalog", "2000", "--json", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [row] = json.loads(out.read_text())["rows"]
    assert row["size"] == 256 and row["images"] == 2
    assert row["now"]["p50_ms"] > 0 and row["before"]["p50_ms"] > 0 and row["ratio_p50"] > 0
    assert row["quarantine_png"]["level_now"] == 1 and row["quarantine_png"]["ratio_p50"] > 0
    assert row["release_png"]["level_now"] == 1 and row["release_png"]["ratio_p50"] > 0
    assert "256 px (2 images)" in done.stdout and "quarantined PNG" in done.stdout
    assert "released PNG" in done.stdout
