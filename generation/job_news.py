"""News that a job changed, from the process that changed it (a worker, a web process) to the web
processes whose event streams follow the job (generation/events.py), through Redis pub/sub on
the shared cache's Redis (settings.CACHE_URL). Without Redis, or with MINTMARK_JOB_NEWS off,
there is no news.

Polling stays the floor: a stream's job is read every EVENT_STREAM_POLL_S whatever happens
here, so news that is lost (Redis away, a message sent before a process subscribed) costs a
client time, never an event. With news, a change reaches the stream when its transaction
commits instead of at the next poll, which by default is up to a second later."""

import logging
from collections.abc import AsyncIterator
from functools import lru_cache, partial

import redis
import redis.asyncio
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

CHANNEL = "mintmark:job-news"
# Short: a publish sits in a job's transition or a GPU batch's progress write, which must not
# wait on a Redis that is away.
PUBLISH_TIMEOUT_S = 0.5


def news_enabled() -> bool:
    return settings.JOB_NEWS and bool(settings.CACHE_URL)


@lru_cache(maxsize=4)
def _publisher(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=PUBLISH_TIMEOUT_S, socket_connect_timeout=PUBLISH_TIMEOUT_S
    )


def job_news_send(job_id) -> None:
    """Tells the subscribers that the job changed, once the current transaction commits (at once
    outside one): a stream that read the job before the commit would miss the change."""
    if news_enabled():
        transaction.on_commit(partial(_publish, str(job_id)))


def _publish(job_id: str) -> None:
    try:
        _publisher(settings.CACHE_URL).publish(CHANNEL, job_id)
    except redis.RedisError:
        # The streams' polling still brings the change: late, not lost.
        logger.warning("job news: publishing failed", exc_info=True)


async def job_news(subscribed) -> AsyncIterator[str]:
    """The ids of the jobs that change from now on. `subscribed()` is called once the
    subscription is in place: a change committed before it is one the caller must read itself.
    Raises redis.RedisError when Redis goes away."""
    client = redis.asyncio.Redis.from_url(settings.CACHE_URL)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    yield message["data"].decode()
                elif message["type"] == "subscribe":
                    # Redis confirms once it has the subscription: a publish it handles from
                    # here on reaches this process.
                    subscribed()
    finally:
        await client.aclose()
