"""End to end: jobs reach RELEASED, BLOCKED and CANCELLED through the transition module, a
real Celery worker sends the signed events to the real receiver process, retries after 500s
with the backoff, redelivers on an admin's request, and the sweep sends what was never queued."""

import itertools
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import Asset
from generation.submission import job_cancel
from generation.transitions import asset_transition
from mintmark.celery import app
from tests.gating_support import gated_job, picture
from tests.mm_api_support import make_dataset, make_model
from tests.webhooks.webhook_support import webhooks_enable
from tests.worker_support import celery_worker
from webhooks import signing
from webhooks.models import Delivery
from webhooks.services import deliveries_requeue

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("broker")]

KEY = "webhook-test-key"


@pytest.fixture
def unqueued_gpu(live_db):
    """The jobs here are submitted for real, so their GPU task waits on the gpu queue, which
    no worker of this test reads; it is emptied so no later test's worker meets it."""
    yield
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("gpu")


def wait_delivered(job, count: int = 1, timeout: float = 90) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while True:
        done = list(Delivery.objects.filter(job=job, state="DELIVERED").order_by("created_at"))
        if len(done) >= count:
            return done
        assert time.monotonic() < deadline, list(Delivery.objects.filter(job=job).values())
        time.sleep(0.1)


def event_of(request, secret: str) -> dict:
    body = request["body"].encode()
    assert signing.verify(request["headers"]["Mintmark-Signature"], body, secret)
    return json.loads(body)


def test_a_worker_delivers_signed_events_and_retries(
    unqueued_gpu, personas, tmp_path, settings, receiver
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_KEY = KEY
    staff, admin = personas["staff"], personas["admin"]
    dataset, _ = make_dataset(admin.org)
    model = make_model(admin.org, tmp_path, datasets=[dataset])
    secret = webhooks_enable(admin)
    receiver.program(flaky=[500, 500])
    env = {
        "MINTMARK_WEBHOOK_ALLOW_PRIVATE": "true",
        "MINTMARK_WEBHOOK_KEY": KEY,
        "MINTMARK_WEBHOOK_RETRY_BASE_S": "1",
        "MINTMARK_WEBHOOK_RETRY_MAX_S": "2",
    }
    with celery_worker(tmp_path / "worker.log", queues="gates", **env):
        released = gated_job(staff, model, [picture(1, 64)], callback_url=receiver.url("/rel"))
        asset_transition(asset_id=released.assets.get().pk, to=Asset.State.RELEASED)
        blocked = gated_job(staff, model, [picture(2, 64)], callback_url=receiver.url("/blk"))
        asset_transition(
            asset_id=blocked.assets.get().pk, to=Asset.State.BLOCKED, reason="a likely copy"
        )
        flaky = gated_job(staff, model, [picture(3, 64)], callback_url=receiver.url("/flaky"))
        job_cancel(job=flaky, actor=staff.user)

        [rel] = receiver.wait("/rel", 1)
        event = event_of(rel, secret)
        assert event["type"] == "job.released" and rel["headers"]["Mintmark-Event"] == event["type"]
        assert event["data"]["job"]["state"] == "RELEASED"
        assert event["data"]["job"]["previous_state"] == "GATING"
        [asset] = event["data"]["assets"]
        assert (
            asset["state"] == "RELEASED" and asset["file_url"] == f"/api/assets/{asset['id']}/file"
        )
        [blk] = receiver.wait("/blk", 1)
        event = event_of(blk, secret)
        assert event["type"] == "job.blocked" and event["data"]["job"]["id"] == str(blocked.pk)
        [asset] = event["data"]["assets"]
        assert asset["state"] == "BLOCKED" and asset["file_url"] is None

        statuses = [r["status"] for r in receiver.wait("/flaky", 3)]
        assert statuses == [500, 500, 200]
        [delivery] = wait_delivered(flaky)
        attempts = list(delivery.attempt_set.all())
        assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
        waits = [
            (b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(attempts)
        ]
        assert waits[0] >= 1 and waits[1] >= 2, waits  # 1 s, then doubled
        assert attempts[0].next_attempt_at and attempts[2].next_attempt_at is None
        listed = staff.client().get(f"/api/generations/{flaky.pk}/deliveries").json()["items"]
        assert [(d["state"], d["attempts"], d["last_status_code"]) for d in listed] == [
            ("DELIVERED", 3, 200)
        ]
        assert event_of(receiver.requests("/flaky")[2], secret)["type"] == "job.cancelled"

        [first] = wait_delivered(released)
        response = admin.client().post(f"/api/webhooks/deliveries/{first.pk}/redeliver")
        assert response.status_code == 202 and response.json()["redelivery_of"] == str(first.pk)
        again = receiver.wait("/rel", 2)[1]
        assert event_of(again, secret)["id"] == event_of(rel, secret)["id"]
        assert again["headers"]["Mintmark-Delivery"] == response.json()["id"]

        # A delivery whose task message never reached the broker: the periodic sweep sends it.
        [sent] = wait_delivered(blocked)
        lost = Delivery.objects.create(
            org=sent.org,
            job=sent.job,
            event_id=sent.event_id,
            event_type=sent.event_type,
            url=sent.url,
            body=sent.body,
            next_attempt_at=timezone.now() - timedelta(minutes=2),
        )
        assert deliveries_requeue() == 1
        assert receiver.wait("/blk", 2)[1]["headers"]["Mintmark-Delivery"] == str(lost.pk)
        wait_delivered(blocked, 2)
