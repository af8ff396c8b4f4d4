"""News of job changes through Redis pub/sub (generation/job_news.py): an event stream learns
of a change when its transaction commits, not at its next poll; without Redis, or with Redis
away, the polling alone still brings every change and a change never fails for the news.

The poll interval is set far beyond each test's deadline, so an event that arrives in time can
only have come by news."""

import asyncio
import os

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async

from generation import job_news
from generation.models import GenerationJob
from generation.transitions import job_transition
from generation.worker import _Progress
from tests.generation.test_event_streams import async_client, parse, submit
from tests.mm_api_support import make_dataset, make_model

State = GenerationJob.State
POLL_NEVER_S = 600
DEADLINE_S = 60


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org, seeds=(1, 2))
    return make_model(personas["admin"].org, tmp_path, name="tiny", datasets=[dataset])


@pytest.fixture(autouse=True)
def unpaused():
    # A test that makes publishing fail pauses it for the process: not for the next test.
    job_news._paused_until = 0.0
    yield
    job_news._paused_until = 0.0


@pytest.fixture
def redis_url():
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {url}")
    return url


async def next_event(chunks) -> dict:
    """The stream's next job event (keep-alives skipped), within DEADLINE_S."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            events = parse((await anext(chunks)).decode())
            if events:
                return events[-1]


async def stream(persona, job_id: str):
    """The job's event stream, opened as the persona, and its first event."""
    response = await async_client(persona.token).get(f"/api/generations/{job_id}/events")
    chunks = aiter(response.streaming_content)
    return chunks, await next_event(chunks)


def test_a_stream_hears_each_change_when_it_commits(settings, live_db, personas, model, redis_url):
    settings.CACHE_URL = redis_url
    settings.EVENT_STREAM_POLL_S = POLL_NEVER_S
    settings.EVENT_STREAM_KEEPALIVE_S = POLL_NEVER_S
    staff = personas["staff"]
    job_id = submit(staff)

    async def scenario():
        chunks, first = await stream(staff, job_id)
        seen = [first]
        # The transition a worker's claim makes, a GPU batch's progress write, a cancel.
        await sync_to_async(job_transition)(job_id=job_id, to=State.RUNNING, claimed_by="t")
        seen.append(await next_event(chunks))
        await sync_to_async(_Progress([job_id]).on_step)(3, 8)
        seen.append(await next_event(chunks))
        await sync_to_async(job_transition)(job_id=job_id, to=State.CANCELLED)
        seen.append(await next_event(chunks))
        return seen

    seen = async_to_sync(scenario)()
    assert [(event["state"], event["progress"]["step"]) for event in seen] == [
        ("QUEUED", 0),
        ("RUNNING", 0),
        ("RUNNING", 3),
        ("CANCELLED", 3),
    ]


def test_news_is_sent_after_the_commit_and_never_for_a_rolled_back_change(
    settings, live_db, personas, model, redis_url
):
    settings.CACHE_URL = redis_url
    job_id = submit(personas["staff"])
    heard = []

    async def listen(ready: asyncio.Event):
        async for changed in job_news.job_news(ready.set):
            # Other tests' jobs may change meanwhile, on the same channel.
            if changed in (job_id, "end"):
                heard.append(changed)
            if changed == "end":
                return

    async def scenario():
        ready = asyncio.Event()
        listening = asyncio.create_task(listen(ready))
        await ready.wait()

        def rolled_back():
            from django.db import transaction

            with transaction.atomic():
                job_transition(job_id=job_id, to=State.RUNNING, claimed_by="t")
                transaction.set_rollback(True)

        await sync_to_async(rolled_back)()
        await sync_to_async(job_transition)(job_id=job_id, to=State.CANCELLED)
        await sync_to_async(job_news._publish)("end")
        async with asyncio.timeout(DEADLINE_S):
            await listening

    async_to_sync(scenario)()
    assert heard == [job_id, "end"]


def test_with_redis_away_changes_commit_and_streams_poll(settings, live_db, personas, model):
    # A port nothing listens on: publishing fails fast, the stream's listener retries, and the
    # polling brings the change.
    settings.CACHE_URL = "redis://127.0.0.1:9/0"
    settings.EVENT_STREAM_POLL_S = 0.1
    staff = personas["staff"]
    job_id = submit(staff)

    async def scenario():
        chunks, first = await stream(staff, job_id)
        seen = [first]
        moved = await sync_to_async(job_transition)(job_id=job_id, to=State.CANCELLED)
        seen.append(await next_event(chunks))
        return moved, seen

    moved, seen = async_to_sync(scenario)()
    assert moved is not None and moved.state == State.CANCELLED
    assert [event["state"] for event in seen] == ["QUEUED", "CANCELLED"]
    assert GenerationJob.objects.get(pk=job_id).state == State.CANCELLED


def test_a_batch_progress_write_tells_each_of_its_jobs(
    settings, live_db, personas, model, redis_url
):
    settings.CACHE_URL = redis_url
    jobs = [submit(personas["staff"]) for _ in range(2)]
    for job_id in jobs:
        job_transition(job_id=job_id, to=State.RUNNING, claimed_by="t")
    heard = set()

    async def scenario():
        ready = asyncio.Event()

        async def listen():
            async for changed in job_news.job_news(ready.set):
                heard.add(changed)
                if heard >= set(jobs):
                    return

        listening = asyncio.create_task(listen())
        await ready.wait()
        await sync_to_async(_Progress(jobs).on_step)(2, 8)
        async with asyncio.timeout(DEADLINE_S):
            await listening

    async_to_sync(scenario)()
    assert heard >= set(jobs)


def test_publishing_pauses_after_a_failure(settings, monkeypatch):
    settings.CACHE_URL = "redis://127.0.0.1:9/0"
    tries = []

    class Away:
        def publish(self, channel, message):
            tries.append(message)
            raise redis.ConnectionError("refused")

    monkeypatch.setattr(job_news, "_publisher", lambda url: Away())
    job_news._publish("a")
    job_news._publish("b")
    assert tries == ["a"]
    # Once the pause is over, publishing is tried again.
    job_news._paused_until = 0.0
    job_news._publish("c")
    assert tries == ["a", "c"]
