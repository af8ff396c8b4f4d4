"""`make test` runs pytest-xdist with --dist loadgroup so that every test starting a worker
process (xdist group "broker") runs on one process: two workers on one broker would take each
other's tasks. This checks that the installed pytest and pytest-xdist really group (pytest 9.2
with xdist 3.8 silently did not)."""

import re
import subprocess
import sys

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("broker")


@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    pass
"""

SPREAD = """
import pytest


@pytest.mark.parametrize("n", range(6))
def test_spread(n):
    pass
"""


def test_a_group_runs_on_one_xdist_process(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_spread.py").write_text(SPREAD)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-v",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    workers = set(re.findall(r"\[(gw\d)\].*PASSED .*test_grouped", result.stdout))
    assert len(workers) == 1, result.stdout[-2000:]
