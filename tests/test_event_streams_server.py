"""Event streams against the real web server (`manage.py serve`: gunicorn with uvicorn workers,
the default 2 of them), on the test database: many open streams leave it answering, the
per-user cap answers 429 and a client that leaves gives its slot back, keep-alives arrive, and
a stream ends with the job. The old synchronous view held one of the 4 threads per stream for
up to 300 s, so 4 streams made the server unanswerable for minutes."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from generation import events
from tests.mm_api_support import make_dataset, make_model
from tests.worker_support import test_database_url as database_url_of_this_run

REPO = Path(__file__).resolve().parent.parent
DEADLINE_S = 60
LOAD_DEADLINE_S = 300
SERVE = [sys.executable, "manage.py", "serve", "--no-worker"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def web_server(tmp_path: Path, *, workers: int = 2, **env):
    """`manage.py serve --no-worker` on the test database and the run's shared cache, with its
    own data folder and broker (queued jobs stay queued: nothing runs them)."""
    port = _free_port()
    log_path = tmp_path / f"serve-{port}.log"
    server_env = {
        **os.environ,
        "DATABASE_URL": database_url_of_this_run(),
        "MINTMARK_DATA_DIR": str(tmp_path / "server-data"),
        "CELERY_BROKER_URL": "filesystem://localhost//",
        "MINTMARK_CACHE_URL": settings.CACHE_URL,
        "MINTMARK_SECRET_KEY": settings.SECRET_KEY,
        **env,
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*SERVE, "--port", str(port), "--workers", str(workers)],
            cwd=REPO,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + DEADLINE_S
        while "Mintmark is serving" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Stream:
    """One open GET …/events, read line by line as it arrives."""

    def __init__(self, port: int, path: str, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE_S)
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def read_until(self, wanted: str | None) -> list[str]:
        """Lines up to and including the first that starts with `wanted`, or to the end of the
        stream (the last line is then '')."""
        lines = []
        while True:
            line = self.response.readline().decode()
            lines.append(line)
            if not line or (wanted is not None and line.startswith(wanted)):
                return lines

    def close(self) -> None:
        self.response.close()
        self.connection.close()


def call(
    port: int,
    method: str,
    path: str,
    token: str | None = None,
    body=None,
    timeout: float = DEADLINE_S,
):
    """(status, JSON body, seconds) of one request on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    started = time.monotonic()
    try:
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read()), time.monotonic() - started
    finally:
        connection.close()


JOB = {"prompt": "a red cube on a table", "model": "tiny", "width": 64, "height": 64}


def submit(persona) -> str:
    """A queued job, submitted in this process (its prompt classifier loads once per run, not
    once per server process)."""
    response = persona.client().post(
        "/api/generations", json.dumps(JOB), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


@pytest.fixture(autouse=True)
def _committed(live_db, run_cache_keys):
    """The server process sees only committed data; the test counts its leases in the cache."""


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org, seeds=(1,))
    return make_model(personas["admin"].org, tmp_path, name="tiny", datasets=[dataset])


def test_fifty_open_streams_leave_health_and_submission_answering(
    settings, personas, model, tmp_path
):
    settings.EVENT_STREAMS_PER_USER = 60  # the server's cap, for counting its leases here
    staff = personas["staff"]
    with web_server(
        tmp_path, MINTMARK_EVENT_STREAMS_PER_USER="60", MINTMARK_EVENT_STREAM_KEEPALIVE_S="2"
    ) as port:
        path = f"/api/generations/{submit(staff)}/events"
        _, _, health_before_s = call(port, "GET", "/api/health")
        # Each web process loads the prompt classifier at its first submission (seconds): both
        # do it before the streams, so that what is measured with them open is the request.
        # (Which process takes a connection is the kernel's choice: the log tells when both did.)
        log = tmp_path / f"serve-{port}.log"
        # Loading it from the cache takes seconds, but both processes may load at once beside
        # another test process on a busy machine, or build it when the cache is cold: those
        # requests get LOAD_DEADLINE_S.
        for _ in range(8):
            answer = call(port, "POST", "/api/generations", staff.token, JOB, LOAD_DEADLINE_S)
            assert answer[0] == 202
            if log.read_text().count("prompt classifier loaded") >= 2:
                break
        streams = []
        try:
            for _ in range(50):
                stream = Stream(port, path, staff.token)
                streams.append(stream)
                assert stream.status == 200
                assert stream.read_until("data: ")[-1].startswith("data: ")
            assert events.leases_held(staff.user.pk) == 50

            health_status, health, health_s = call(port, "GET", "/api/health")
            assert health_status == 200, health
            assert health["database"]["ok"] is True
            submitted = [call(port, "POST", "/api/generations", staff.token, JOB) for _ in "12"]
            assert [status for status, _, _ in submitted] == [202, 202], submitted
            print(
                f"\n/api/health {health_before_s:.2f} s before the streams, {health_s:.2f} s "
                "with 50 open (its worker ping waits 2 s: serve runs no worker here); "
                f"POST /api/generations {submitted[0][2]:.2f} s and {submitted[1][2]:.2f} s"
            )
            # And every stream is still served: each gets its keep-alives.
            for stream in streams:
                assert stream.read_until(": keep-alive")[-1] == ": keep-alive\n"
        finally:
            for stream in streams:
                stream.close()
        # The server sees each client go and gives its slot back.
        deadline = time.monotonic() + DEADLINE_S
        while events.leases_held(staff.user.pk) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert events.leases_held(staff.user.pk) == 0


def test_the_cap_answers_429_and_a_client_that_leaves_frees_its_slot(personas, model, tmp_path):
    staff, admin = personas["staff"], personas["admin"]
    # Long keep-alives make the leases outlive the test: only the disconnect can free a slot.
    with web_server(
        tmp_path,
        workers=1,
        MINTMARK_EVENT_STREAMS_PER_USER="2",
        MINTMARK_EVENT_STREAM_KEEPALIVE_S="300",
    ) as port:
        path = f"/api/generations/{submit(staff)}/events"
        first, second = Stream(port, path, staff.token), Stream(port, path, staff.token)
        try:
            assert (first.status, second.status) == (200, 200)
            status, body, _ = call(port, "GET", path, staff.token)
            assert status == 429
            assert body["error"] == "too_many_streams"
            # The cap is per user: an admin of the org may still follow the same job.
            other = Stream(port, path, admin.token)
            assert other.status == 200
            other.close()

            first.close()
            deadline = time.monotonic() + DEADLINE_S
            while events.leases_held(staff.user.pk) > 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert events.leases_held(staff.user.pk) == 1
            third = Stream(port, path, staff.token)
            assert third.status == 200
            third.close()
        finally:
            first.close()
            second.close()


def test_a_stream_sends_keep_alives_and_ends_with_the_job(personas, model, tmp_path):
    staff = personas["staff"]
    with web_server(tmp_path, workers=1, MINTMARK_EVENT_STREAM_KEEPALIVE_S="1") as port:
        job_id = submit(staff)
        stream = Stream(port, f"/api/generations/{job_id}/events", staff.token)
        try:
            assert stream.status == 200
            assert stream.response.getheader("Content-Type") == "text/event-stream"
            assert stream.read_until("retry: ") == ["retry: 3000\n"]
            stream.read_until(": keep-alive")
            stream.read_until(": keep-alive")

            status, job, _ = call(port, "POST", f"/api/generations/{job_id}/cancel", staff.token)
            assert status == 200, job
            lines = stream.read_until(None)
            assert lines[-1] == ""  # the server ended the stream
            last = [line for line in lines if line.startswith("data: ")][-1]
            assert json.loads(last.removeprefix("data: "))["state"] == "CANCELLED"
        finally:
            stream.close()
        assert events.leases_held(staff.user.pk) == 0


def test_streams_refuse_strangers_and_other_orgs(personas, model, tmp_path):
    with web_server(tmp_path, workers=1) as port:
        path = f"/api/generations/{submit(personas['staff'])}/events"
        for token, status, code in [
            (None, 401, "not_authenticated"),
            ("mm_not-a-token", 401, "not_authenticated"),
            (personas["outsider"].token, 404, "not_found"),
        ]:
            answer, body, _ = call(port, "GET", path, token)
            assert (answer, body["error"]) == (status, code)
        assert events.leases_held(personas["outsider"].user.pk) == 0


def test_a_stopping_server_ends_its_streams_and_frees_their_slots(personas, model, tmp_path):
    staff = personas["staff"]
    path = f"/api/generations/{submit(staff)}/events"
    with web_server(tmp_path, workers=1) as port:
        stream = Stream(port, path, staff.token)
        assert stream.status == 200
        stream.read_until("data: ")
        assert events.leases_held(staff.user.pk) == 1
    # web_server sent SIGTERM and waited for serve to exit.
    try:
        assert stream.read_until(None)[-1] == ""  # the stream ended as a finished one does
    finally:
        stream.close()
    assert events.leases_held(staff.user.pk) == 0
    log = (tmp_path / f"serve-{port}.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "timeout graceful shutdown exceeded" not in log, log[-3000:]
