"""A real Celery worker process for end-to-end tests, on the broker and database of the run
(Redis + PostgreSQL in CI, the filesystem broker + SQLite on the embedded default)."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from mintmark.celery import app

REPO = Path(__file__).resolve().parent.parent

# The test being run (set by an autouse fixture in conftest), so a worker can check its group.
current_test = None


def test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_children(pid: int) -> list[int]:
    """The pool processes of a worker (the ones that run tasks)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


def in_broker_group(item) -> bool:
    marker = item.get_closest_marker("xdist_group") if item is not None else None
    return marker is not None and (marker.args[:1] or (marker.kwargs.get("name"),))[0] == "broker"


@contextmanager
def celery_worker(log_path: Path, *, queues: str = "gpu,gates", **env):
    # Workers of two xdist processes share the run's broker and would take each other's tasks
    # (a gate task run against the other process's database is lost): every test that starts
    # one must be in the group that `--dist loadgroup` keeps on one process.
    assert in_broker_group(current_test), (
        f"{current_test.nodeid if current_test else 'this test'} starts a worker: mark it "
        'pytest.mark.xdist_group("broker")'
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--queues", queues, "--concurrency", "1"],
        cwd=REPO,
        env={
            **os.environ,
            "MINTMARK_DATA_DIR": str(settings.DATA_DIR),
            "DATABASE_URL": test_database_url(),
            **env,
        },
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not app.control.ping(timeout=1.0):
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker did not answer within 90 s"
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
