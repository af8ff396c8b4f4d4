"""GET /api/generations/{id}/events in process: the async view under Django's ASGI test client,
the leases that cap streams per user, and the stream's own lifecycle. The real server (uvicorn
workers, many streams, clients that leave) is tested in tests/test_event_streams_server.py."""

import asyncio
import contextlib
import json
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient

from generation import events
from generation.models import GenerationJob
from tests.mm_api_support import assert_error, make_dataset, make_model

ALL = ("admin", "staff", "reviewer", "auditor")


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org, seeds=(1, 2))
    return make_model(personas["admin"].org, tmp_path, name="tiny", datasets=[dataset])


def submit(persona) -> str:
    body = {"prompt": "a red cube on a table", "model": "tiny", "width": 64, "height": 64}
    response = persona.client().post(
        "/api/generations", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


class TokenClient(AsyncClient):
    """Django's ASGI test client with a bearer token on every request."""

    def __init__(self, token: str | None):
        super().__init__()
        self.token_headers = {}
        if token:
            self.token_headers["Authorization"] = f"Bearer {token}"

    async def get(self, path, **kwargs):
        return await super().get(path, headers=self.token_headers, **kwargs)


def async_client(token: str | None) -> TokenClient:
    return TokenClient(token)


def parse(text: str) -> list[dict]:
    return [
        json.loads(block.split("data: ", 1)[1])
        for block in text.split("\n\n")
        if block.startswith("event: job\n")
    ]


def test_an_ended_job_answers_its_state_at_once(personas, model):
    job_id = submit(personas["staff"])
    personas["staff"].client().post(f"/api/generations/{job_id}/cancel")
    for role in ALL:
        response = async_to_sync(async_client(personas[role].token).get)(
            f"/api/generations/{job_id}/events"
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        text = response.content.decode()
        assert text.startswith("retry: ")
        assert [event["state"] for event in parse(text)] == ["CANCELLED"]
    # Nothing was held for a stream that never waited.
    assert events.leases_held(personas["staff"].user.pk) == 0


def test_refusals_hold_for_the_async_view(personas, model):
    job_id = submit(personas["staff"])
    path = f"/api/generations/{job_id}/events"
    get = async_to_sync(async_client(None).get)
    assert_error(get(path), 401, "not_authenticated")
    assert_error(async_to_sync(async_client("mm_wrong").get)(path), 401, "not_authenticated")
    # Another org's admin is answered as for an id that does not exist.
    assert_error(
        async_to_sync(async_client(personas["outsider"].token).get)(path), 404, "not_found"
    )
    # Nobody got a slot from a refused request.
    for persona in personas.values():
        assert events.leases_held(persona.user.pk) == 0


def test_leases_cap_each_user_and_come_free(settings, personas):
    settings.EVENT_STREAMS_PER_USER = 2
    staff, admin = personas["staff"].user.pk, personas["admin"].user.pk
    first, second = events.lease_acquire(staff), events.lease_acquire(staff)
    assert first and second and first.key != second.key
    assert events.lease_acquire(staff) is None
    assert events.leases_held(staff) == 2
    # Per user: another user still has all of theirs.
    assert events.lease_acquire(admin) is not None
    events.lease_release(first)
    assert events.leases_held(staff) == 1
    assert events.lease_acquire(staff) is not None
    # Releasing twice frees nothing that belongs to someone else.
    events.lease_release(first)
    assert events.leases_held(staff) == 2


def test_a_lease_not_renewed_expires(settings, personas, monkeypatch):
    """What frees the slots of a web process that died without releasing them."""
    settings.EVENT_STREAMS_PER_USER = 1
    monkeypatch.setattr(events, "lease_ttl_s", lambda: 1)
    user = personas["staff"].user.pk
    lost = events.lease_acquire(user)
    assert lost is not None
    assert events.lease_acquire(user) is None
    deadline = time.monotonic() + 30
    taken = None
    while taken is None and time.monotonic() < deadline:
        time.sleep(0.5)
        taken = events.lease_acquire(user)
    assert taken is not None, "the lease never expired"
    # The stream that lost its lease learns it when it renews, and does not take the slot back.
    assert events.lease_renew(lost) is False
    assert events.lease_renew(taken) is True


def test_a_stream_follows_the_job_to_its_end_and_frees_its_slot(settings, live_db, personas, model):
    settings.EVENT_STREAM_POLL_S = 0.1
    settings.EVENT_STREAM_KEEPALIVE_S = 1
    staff = personas["staff"]
    job_id = submit(staff)

    async def scenario():
        response = await async_client(staff.token).get(f"/api/generations/{job_id}/events")
        assert response.status_code == 200
        assert response.streaming and response.is_async
        chunks = aiter(response.streaming_content)
        seen = (await anext(chunks)).decode()
        assert await sync_to_async(events.leases_held)(staff.user.pk) == 1
        # The job moves on; the stream tells, then sends keep-alives while nothing changes.
        await sync_to_async(GenerationJob.objects.filter(pk=job_id).update)(
            state=GenerationJob.State.RUNNING, progress_step=2, progress_total=4
        )
        deadline = time.monotonic() + 30
        while seen.count(events.KEEPALIVE.decode()) < 2 and time.monotonic() < deadline:
            seen += (await anext(chunks)).decode()
        await sync_to_async(GenerationJob.objects.filter(pk=job_id).update)(
            state=GenerationJob.State.CANCELLED
        )
        async for chunk in chunks:
            seen += chunk.decode()
        return seen

    text = async_to_sync(scenario)()
    states = [(event["state"], event["progress"]["step"]) for event in parse(text)]
    assert states == [("QUEUED", 0), ("RUNNING", 2), ("CANCELLED", 2)]
    assert text.count(": keep-alive\n\n") >= 2
    assert events.leases_held(staff.user.pk) == 0


def test_a_stream_closed_early_frees_its_slot_and_the_cap_answers_429(
    settings, live_db, personas, model
):
    settings.EVENT_STREAMS_PER_USER = 1
    staff = personas["staff"]
    job_id = submit(staff)
    path = f"/api/generations/{job_id}/events"

    async def read(response, started: asyncio.Event):
        async for _chunk in response.streaming_content:
            started.set()

    async def scenario():
        client = async_client(staff.token)
        started = asyncio.Event()
        sending = asyncio.create_task(read(await client.get(path), started))
        await started.wait()
        refused = await client.get(path)
        # The client leaves: Django's ASGI handler cancels the task that sends the stream.
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        held = await sync_to_async(events.leases_held)(staff.user.pk)
        return refused, held, await client.get(path)

    refused, held, again = async_to_sync(scenario)()
    body = assert_error(refused, 429, "too_many_streams")
    assert "1 event streams" in body["detail"]
    assert held == 0
    assert again.status_code == 200
