"""Delivery attempts in this process against the real receiver process: what is sent and
signed, what is recorded, backoff and giving up, and what is refused at send time."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import GenerationJob
from generation.submission import JobRequest, job_cancel, job_submit
from generation.transitions import job_transition
from tests.mm_api_support import make_dataset, make_model
from tests.webhooks.webhook_support import webhooks_enable
from webhooks import sender, services
from webhooks.addresses import target_parse
from webhooks.models import Delivery
from webhooks.services import delivery_attempt, retry_delay

State = GenerationJob.State


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org)
    return make_model(personas["admin"].org, tmp_path, datasets=[dataset])


@pytest.fixture
def secret(personas, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_BASE_S = 1
    settings.WEBHOOK_RETRY_MAX_S = 2
    return webhooks_enable(personas["admin"])


def ended_job(persona, model, url: str, to: str = State.CANCELLED, reason: str = ""):
    request = JobRequest(prompt="a red cube", model="tiny", width=64, height=64, steps=2)
    request.callback_url = url
    job = job_submit(membership=persona.membership, req=request)
    if to == State.CANCELLED:
        job_cancel(job=job, actor=persona.user)
    else:
        job_transition(job_id=job.pk, to=to, reason=reason)
    return Delivery.objects.get(job=job)


def attempt_now(delivery) -> Delivery:
    """The next attempt without waiting for its backoff (the worker test waits for real)."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery.refresh_from_db()
    delivery_attempt(delivery_id=delivery.pk, attempts=delivery.attempts)
    delivery.refresh_from_db()
    return delivery


def test_the_event_is_signed_with_the_org_secret(personas, model, secret, receiver):
    url = receiver.url("/hook?src=mm")
    delivery = ended_job(personas["staff"], model, url, State.FAILED, "oom")
    before = time.time()
    attempt_now(delivery)
    [got] = receiver.requests("/hook?src=mm")
    headers, body = got["headers"], got["body"].encode()
    assert headers["Content-Type"] == "application/json"
    assert headers["Mintmark-Event"] == "job.failed"
    assert headers["Mintmark-Delivery"] == str(delivery.pk)
    fields = dict(part.split("=", 1) for part in headers["Mintmark-Signature"].split(","))
    assert before - 1 <= int(fields["t"]) <= time.time() + 1
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(fields["v1"], expected.hexdigest())
    event = json.loads(body)
    assert event["id"] == str(delivery.event_id) and event["type"] == "job.failed"
    assert event["org"] == "acme"
    job = event["data"]["job"]
    assert (job["id"], job["state"], job["previous_state"]) == (
        str(delivery.job_id),
        "FAILED",
        "QUEUED",
    )
    assert job["error"] == "oom" and job["url"] == f"/api/generations/{delivery.job_id}"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("DELIVERED", 1, None)
    [record] = delivery.attempt_set.all()
    assert (record.number, record.status_code, record.error) == (1, 200, "")
    assert record.duration_ms > 0 and record.next_attempt_at is None


def test_failures_back_off_then_give_up_after_the_window(
    personas, model, secret, receiver, settings
):
    settings.WEBHOOK_RETRY_FOR_S = 3600
    receiver.program(down=[500, 503, 500, 500])
    delivery = ended_job(personas["staff"], model, receiver.url("/down"))
    started = timezone.now()
    delivery_attempt(delivery_id=delivery.pk, attempts=0)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("PENDING", 1)
    assert started + timedelta(seconds=1) <= delivery.next_attempt_at
    # A message for an attempt already made does nothing, and so does one that comes early.
    assert delivery_attempt(delivery_id=delivery.pk, attempts=0) is None
    later = timezone.now() + timedelta(hours=1)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=later)
    assert delivery_attempt(delivery_id=delivery.pk, attempts=1) is None
    attempt_now(delivery)
    # As if the event were 1 s short of an hour old: the next try (2 s on) would fall past
    # the hour's retry window, so the third attempt is the last.
    almost_an_hour_ago = timezone.now() - timedelta(seconds=3599)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=almost_an_hour_ago)
    attempt_now(delivery)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("FAILED", 3, None)
    rows = list(delivery.attempt_set.values_list("number", "status_code", "error"))
    assert rows == [
        (1, 500, "answered 500 Internal Server Error"),
        (2, 503, "answered 503 Service Unavailable"),
        (3, 500, "answered 500 Internal Server Error"),
    ]
    gaps = [
        (a.next_attempt_at - a.started_at).total_seconds() for a in delivery.attempt_set.all()[:2]
    ]
    assert gaps[0] >= 1 and gaps[1] >= 2, gaps
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [1, 2, 2, 2]  # doubled, capped at 2 s
    assert len(receiver.requests("/down")) == 3


def test_a_redirect_is_not_followed(personas, model, secret, receiver):
    receiver.program(moved=[302])
    delivery = attempt_now(ended_job(personas["staff"], model, receiver.url("/moved")))
    [record] = delivery.attempt_set.all()
    assert (record.status_code, record.error) == (302, "redirects are not followed")
    assert delivery.state == "PENDING"
    assert [r["path"] for r in receiver.requests()] == ["/moved"]


def test_send_time_refusals(personas, model, secret, receiver, settings):
    delivery = ended_job(personas["staff"], model, receiver.url("/hook"))
    settings.WEBHOOK_ALLOW_PRIVATE = False
    delivery = attempt_now(delivery)
    [record] = delivery.attempt_set.all()
    assert record.status_code is None
    assert record.error == (
        "127.0.0.1 resolves to 127.0.0.1 is a loopback address; callbacks go to public hosts."
    )
    assert delivery.state == "PENDING"  # the name may resolve elsewhere later

    settings.WEBHOOK_ALLOW_PRIVATE = True
    response = (
        personas["admin"]
        .client()
        .put(
            "/api/webhooks/allowed-hosts",
            json.dumps({"hosts": ["hooks.example.com"]}),
            content_type="application/json",
        )
    )
    assert response.status_code == 200
    delivery = attempt_now(delivery)
    assert delivery.state == "FAILED" and delivery.next_attempt_at is None
    assert "127.0.0.1 is not on this organization's webhook allow-list" in (
        delivery.attempt_set.last().error
    )
    assert receiver.requests() == []


def test_after_a_rotation_both_secrets_sign_for_the_overlap(personas, model, secret, receiver):
    rotated = personas["admin"].client().post("/api/webhooks/secret").json()["secret"]
    attempt_now(ended_job(personas["staff"], model, receiver.url("/hook")))
    [got] = receiver.requests("/hook")
    header, body = got["headers"]["Mintmark-Signature"], got["body"].encode()
    timestamp, *signatures = header.split(",")
    message = timestamp.removeprefix("t=").encode() + b"." + body
    assert signatures == [
        "v1=" + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
        for key in (rotated, secret)
    ]


def test_the_request_goes_to_the_checked_address_under_the_host_name(receiver):
    # "localhost" resolves here (to ::1 and/or 127.0.0.1; the receiver listens on the latter
    # only): the connection goes to an address the check returned, the Host header keeps the
    # name the allow-list matched.
    target = target_parse(f"http://localhost:{receiver.port}/pinned")
    outcome = sender.post(target, b"{}", {}, allow_private=True, timeout=5)
    assert outcome.delivered, outcome
    [got] = receiver.requests("/pinned")
    assert got["headers"]["Host"] == f"localhost:{receiver.port}"
    refused = sender.post(target, b"{}", {}, allow_private=False, timeout=5)
    assert refused.status_code is None and "loopback address" in refused.error
    assert len(receiver.requests("/pinned")) == 1


def test_a_failure_to_record_the_event_does_not_stop_the_job(personas, model, secret, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the event cannot be built")

    monkeypatch.setattr(services, "event_body", broken)
    request = JobRequest(prompt="a red cube", model="tiny", width=64, height=64, steps=2)
    request.callback_url = "http://127.0.0.1:9/in"
    job = job_submit(membership=personas["staff"].membership, req=request)
    assert job_transition(job_id=job.pk, to=State.FAILED, reason="oom") is not None
    assert GenerationJob.objects.get(pk=job.pk).state == State.FAILED
    assert not Delivery.objects.exists()


def test_a_receiver_that_never_finishes_answering_is_cut_off_at_the_timeout(receiver):
    # Each byte of /drip comes well within the socket timeout, so only a bound on the whole
    # attempt ends it; without one a gates worker would be held for as long as the receiver likes.
    target = target_parse(receiver.url("/drip"))
    started = time.monotonic()
    outcome = sender.post(target, b"{}", {}, allow_private=True, timeout=2)
    assert time.monotonic() - started < 30
    assert outcome.status_code is None and "within 2 s" in outcome.error, outcome
    assert len(receiver.requests("/drip")) == 1
