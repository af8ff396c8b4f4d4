"""News that a job changed, from the process that changed it (a worker, a web process) to the web
processes whose event streams follow the job (generation/events.py), through Redis pub/sub on
the shared cache's Redis (settings.CACHE_URL). Without Redis, or with MINTMARK_JOB_NEWS off,
there is no news.

Polling stays the floor: a stream's job is read every EVENT_STREAM_POLL_S whatever happens
here, so news that is lost (Redis away, a message sent before a process subscribed) costs a
client time, never an event. With news, a change reaches the stream when its transaction
commits instead of at the next poll, which by default is up to a second later."""

import logging
import time
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


# After a publish fails, none is tried for this long: with Redis away, each try would hold a
# GPU batch's progress write for up to PUBLISH_TIMEOUT_S.
PAUSE_AFTER_FAILURE_S = 5.0
_paused_until = 0.0


def job_news_send(*job_ids) -> None:
    """Tells the subscribers that the jobs changed (one message), once the current transaction
    commits (at once outside one): a stream that read a job before the commit would miss it."""
    if news_enabled() and job_ids:
        transaction.on_commit(partial(_publish, " ".join(str(job_id) for job_id in job_ids)))


def _publish(message: str) -> None:
    global _paused_until
    if time.monotonic() < _paused_until:
        return
    try:
        _publisher(settings.CACHE_URL).publish(CHANNEL, message)
    except redis.RedisError:
        # The streams' polling still brings the change: late, not lost.
        _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
        logger.warning("job news: publishing failed", exc_info=True)


async def job_news(subscribed) -> AsyncIterator[str]:
    """The ids of the jobs that change from now on, one at a time. `subscribed()` is called once the
    subscription is in place: a change committed before it is one the caller must read itself.
    Raises redis.RedisError when Redis goes away."""
    client = redis.asyncio.Redis.from_url(settings.CACHE_URL)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    for job_id in message["data"].decode().split():
                        yield job_id
                elif message["type"] == "subscribe":
                    # Redis confirms once it has the subscription: a publish it handles from
                    # here on reaches this process.
                    subscribed()
    finally:
        await client.aclose()
