"""The README's two commands, as far as a test run can take them: the Makefile recipes do what the
README says (checked with `make -n`, since a fresh virtualenv is too slow for every run), and the
embedded default that `make run` ends in (`manage.py serve`) answers /api/health with a real
worker beside it, and leaves no process behind when it is stopped."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Generous: on a loaded 2-core machine the web processes and the worker take minutes to start.
SERVE_TIMEOUT_S = 300
SETUP_TIMEOUT_S = 600

# Worker processes share the broker: these run one after another on one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("broker")]


def make_dry_run(target: str, tmp_path: Path) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # A virtualenv that does not exist yet, so the recipe shows every step a fresh clone runs.
    venv = tmp_path / "fresh-venv"
    result = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [line.replace(str(venv), "VENV") for line in result.stdout.splitlines()]


def _index(lines: list[str], fragment: str) -> int:
    for number, line in enumerate(lines):
        if fragment in line:
            return number
    raise AssertionError(f"no step contains {fragment!r}:\n" + "\n".join(lines))


SETUP = [
    "python3.11 -m venv VENV",
    "VENV/bin/python -m pip install -r requirements.txt",
    "VENV/bin/python -m pip install --no-deps -r requirements-nodeps.txt",
]


def test_make_run_sets_up_seeds_and_serves(tmp_path):
    lines = make_dry_run("run", tmp_path)
    steps = [
        *SETUP,
        "VENV/bin/python manage.py migrate",
        "VENV/bin/python manage.py collectstatic --noinput",
        "VENV/bin/python manage.py seed_demo",
        "VENV/bin/python manage.py serve",
    ]
    positions = [_index(lines, step) for step in steps]
    assert positions == sorted(positions), lines


def test_make_test_sets_up_and_runs_pytest(tmp_path):
    lines = make_dry_run("test", tmp_path)
    positions = [_index(lines, step) for step in [*SETUP, "VENV/bin/python -m pytest"]]
    assert positions == sorted(positions), lines
    assert not any("seed_demo" in line or "serve" in line for line in lines)


def test_the_install_is_skipped_when_requirements_are_unchanged(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    first = subprocess.run(
        ["make", "-n", "install", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True
    )
    stamp = next(line for line in first.stdout.splitlines() if line.startswith("touch "))
    Path(stamp.removeprefix("touch ")).touch()
    second = subprocess.run(
        ["make", "-n", "install", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True
    )
    assert "pip install" not in second.stdout, second.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Every process below pid, from /proc (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _health(port: int) -> tuple[int, dict] | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/health")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_serve_answers_health_with_a_worker_and_leaves_nothing_behind(tmp_path):
    # The embedded default, in a data folder of its own, whatever this test run is configured
    # with: what `make run` starts on a fresh machine.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "MINTMARK_CELERY_EAGER"}
    }
    env["MINTMARK_DATA_DIR"] = str(tmp_path / "data")
    manage = [sys.executable, "manage.py"]
    # A few dataset items: the whole default training set takes minutes to draw and import.
    for step in (["migrate", "--noinput"], ["seed_demo", "--shapes-items", "20"]):
        subprocess.run(
            [*manage, *step],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
            timeout=SETUP_TIMEOUT_S,
        )

    # The serve budget starts after the set-up, which has its own.
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [*manage, "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    children: set[int] = set()
    try:
        health = None
        while time.monotonic() < deadline:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            children |= _descendants(serve.pid)
            answer = _health(port)
            if answer is not None:
                health = answer
                if answer[1]["workers"]["ok"]:
                    break
            time.sleep(0.5)
        output = (tmp_path / "serve.log").read_text()
        assert health is not None, f"no answer on /api/health:\n{output}"
        status, body = health
        assert status == 200, body
        assert body["database"] == {"ok": True, "detail": "sqlite"}
        assert body["broker"]["ok"] is True, body
        assert body["workers"]["ok"] is True, body
        assert f"http://127.0.0.1:{port}/" in output
        worker_lines = [line for line in output.splitlines() if "Celery worker (pid" in line]
        assert worker_lines, output
        worker_pid = int(worker_lines[0].split("(pid ")[1].split(")")[0])
        assert worker_pid in children
        children |= _descendants(serve.pid)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            code = serve.wait(timeout=max(5.0, deadline - time.monotonic() + 30))
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGKILL)
            log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()
    assert len(children) >= 4, children  # worker + its pool, gunicorn + its workers
    stop_by = time.monotonic() + 10
    while time.monotonic() < stop_by and any(_alive(pid) for pid in children):
        time.sleep(0.2)
    left = sorted(pid for pid in children if _alive(pid))
    assert left == [], f"processes left behind after serve stopped: {left}"
