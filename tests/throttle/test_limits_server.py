"""The limits on the real web server (`manage.py serve`: gunicorn with 2 uvicorn workers) on
the run's database and shared cache: counted across the worker processes, by the socket's
address whatever X-Forwarded-For says, with another address unaffected."""

import http.client
import io
import random
import uuid

import pytest
from PIL import Image

from tests.test_event_streams_server import web_server

pytestmark = pytest.mark.slow


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 60)).save(buffer, "PNG")
    return buffer.getvalue()


def send(port, method, path, *, source, headers=None, body=None):
    # A fresh connection each time, so that requests are spread over the worker processes.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=source)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def verify(port, source, forwarded):
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "X-Forwarded-For": forwarded,
    }
    return send(port, "POST", "/api/verify", source=source, headers=headers, body=body)


def test_limits_hold_across_worker_processes(live_db, tmp_path):
    # Addresses of 127/8 of this test's own (servers of other tests count in the same cache);
    # uvicorn is told to believe X-Forwarded-For from any of them, as it would from 127.0.0.1.
    # Day-long windows, so that none ends while the test counts.
    client, other, guesser, bystander = [
        (f"127.0.{n}.{random.randint(2, 250)}", 0) for n in random.sample(range(2, 250), 4)
    ]
    env = {
        "FORWARDED_ALLOW_IPS": "*",
        "MINTMARK_RATE_VERIFY": "20/d",
        "MINTMARK_RATE_BAD_TOKEN": "30/d",
    }
    with web_server(tmp_path, **env) as port:
        statuses = [verify(port, client, f"203.0.113.{n}")[0] for n in range(20)]
        assert statuses == [200] * 20
        status, headers, body = verify(port, client, "198.51.100.1")
        assert status == 429 and b'"rate_limited"' in body
        assert 1 <= int(headers["Retry-After"]) <= 86_400
        assert verify(port, other, "203.0.113.1")[0] == 200

        bad = {"Authorization": "Bearer mm_guess"}
        statuses = [send(port, "GET", "/api/me", source=guesser, headers=bad)[0] for _ in range(30)]
        assert statuses == [401] * 30
        status, headers, _ = send(port, "GET", "/api/me", source=guesser, headers=bad)
        assert status == 429 and int(headers["Retry-After"]) >= 1
        assert send(port, "GET", "/api/me", source=bystander, headers=bad)[0] == 401
