"""Per-address limits on the public, CPU-heavy routes and on invalid API tokens: 429 with a
JSON reason and Retry-After, counted in the run's shared cache (Redis or the database cache
table) under the real default rates."""

import io
import time
from types import SimpleNamespace

import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_ratelimit import core
from PIL import Image

from mintmark import health
from mintmark.api import api

OTHER_IP = "198.51.100.23"


@pytest.fixture
def steady_clock(monkeypatch):
    """django-ratelimit's windows are fixed: one ending mid-test would restart the count, so
    its clock is held still for the tests that count to a limit (the cache's expiry is not)."""
    now = time.time()
    monkeypatch.setattr(core, "time", SimpleNamespace(time=lambda: now))


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def verify(ip="127.0.0.1", **headers):
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR=ip, **headers)
    upload = SimpleUploadedFile("x.png", png(), content_type="image/png")
    return client.post("/api/verify", {"image": upload})


def assert_limited(response, error="rate_limited"):
    assert response.status_code == 429, response.content[:300]
    body = response.json()
    assert body["error"] == error and "from your address" in body["detail"]
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after == body["retry_after"]
    return retry_after


def test_verify_answers_429_over_its_limit_per_address(db, settings, steady_clock):
    assert settings.RATE_VERIFY == "20/m"
    for _ in range(20):
        assert verify().status_code == 200
    retry_after = assert_limited(verify())
    assert retry_after <= 60
    # Another address is not limited, and the portal's verify page shares the count.
    assert verify(ip=OTHER_IP).status_code == 200
    upload = SimpleUploadedFile("x.png", png(), content_type="image/png")
    page = Client(HTTP_HOST="localhost").post("/verify/", {"image": upload})
    assert page.status_code == 429 and "Too many images verified" in page.text
    assert page["Retry-After"]


def test_a_count_that_vanishes_mid_request_is_no_reason_to_refuse(db, monkeypatch):
    """The count deleted between django-ratelimit's add and its incr (another process flushed
    the cache): the library's fail-closed answer would be a 429 with no wait to name."""
    assert verify().status_code == 200
    cache = caches["default"]
    incr = cache.incr

    def vanished_then_incr(key, *args, **kwargs):
        cache.delete(key)
        return incr(key, *args, **kwargs)

    monkeypatch.setattr(cache, "incr", vanished_then_incr)
    assert verify().status_code == 200


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(db, settings, steady_clock):
    settings.RATE_VERIFY = "2/m"
    for n in range(2):
        assert verify(HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 200
    assert_limited(verify(HTTP_X_FORWARDED_FOR="203.0.113.77"))
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    # The proxy's own address is limited; the client it forwards is counted on its own, by the
    # address the proxy appended, not by what the client wrote left of it.
    assert verify(HTTP_X_FORWARDED_FOR="127.0.0.5, 203.0.113.77").status_code == 200
    assert verify(HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.77").status_code == 200
    assert_limited(verify(HTTP_X_FORWARDED_FOR="203.0.113.77"))


def test_the_limit_lifts_when_its_window_ends(db, settings):
    settings.RATE_VERIFY = "1/3s"
    # A window may end between two requests on a busy machine: send until one is refused.
    statuses = []
    while 429 not in statuses:
        statuses.append((response := verify()).status_code)
        assert len(statuses) <= 4, statuses
    assert statuses[0] == 200
    retry_after = assert_limited(response)
    time.sleep(retry_after + 0.1)
    assert verify().status_code == 200


def test_invalid_tokens_are_limited_per_address(personas, settings, steady_clock):
    assert settings.RATE_BAD_TOKEN == "30/5m"
    guesser = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION="Bearer mm_guess")
    for _ in range(30):
        assert guesser.get("/api/me").status_code == 401
    assert_limited(guesser.get("/api/me"))
    # From there even a valid token is not looked up: the address learns nothing more.
    assert_limited(personas["staff"].client().get("/api/me"))
    elsewhere = personas["staff"].client()
    assert elsewhere.get("/api/me", REMOTE_ADDR=OTHER_IP).status_code == 200
    # A request without credentials is not a guess, and sessions are not counted.
    assert Client(HTTP_HOST="localhost").get("/api/me").status_code == 401
    assert personas["staff"].portal().get("/api/me").status_code == 200


def test_valid_tokens_are_not_counted(personas):
    client = personas["staff"].client()
    for _ in range(40):
        assert client.get("/api/me").status_code == 200


def test_password_spraying_from_one_address_is_limited(db, settings, steady_clock):
    assert settings.RATE_LOGIN == "30/m"
    client = Client(HTTP_HOST="localhost")
    for n in range(30):
        response = client.post("/login/", {"username": f"user{n}@x.test", "password": "p"})
        assert response.status_code == 200
    response = client.post("/login/", {"username": "user99@x.test", "password": "p"})
    assert response.status_code == 429 and "Too many login attempts" in response.text
    assert response["Retry-After"]


def test_health_and_the_schema_share_the_public_limit(db, settings, steady_clock, monkeypatch):
    monkeypatch.setattr(health, "_workers", lambda: "not checked here")
    settings.RATE_PUBLIC = "3/m"
    client = Client(HTTP_HOST="localhost")
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/health").status_code == 200
    assert_limited(client.get("/api/openapi.json"))
    assert client.get("/api/docs").status_code == 200


@pytest.mark.parametrize(("method", "path"), [("post", "/api/verify"), ("get", "/api/me")])
def test_the_schema_documents_429(method, path):
    responses = api.get_openapi_schema()["paths"][path][method]["responses"]
    assert 429 in responses or "429" in responses
