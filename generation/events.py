"""Server-sent events of a job (GET /api/generations/{id}/events), served so that an open stream
holds no thread of the web server.

- The view is async and the stream an async generator, run by the ASGI worker's event loop: an
  open stream is a coroutine. When the client goes, Django's ASGI handler sees
  `http.disconnect` and cancels it, which runs the generator's `finally` (the lease is freed).
- The streams of one process follow their jobs through one poller: one query per interval for
  all of them, on one thread of its own. So N streams cost neither N threads nor N database
  connections; the request's own connection is closed before the stream starts. Where there is
  Redis, news of a followed job's change (generation/job_news.py) has the poller read at once
  instead of at the end of its interval.
- Each stream holds a lease in the shared cache (settings.CACHES): one of the user's
  EVENT_STREAMS_PER_USER slots, counted across every web process. A lease expires unless the
  stream renews it, so the slots of a process that died come free by themselves.
"""

import asyncio
import functools
import json
import logging
import secrets
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, suppress
from dataclasses import dataclass
from uuid import UUID

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import close_old_connections, connections
from django.http import HttpResponse, StreamingHttpResponse

from generation.job_news import job_news, news_enabled
from generation.models import GenerationJob
from generation.selectors import jobs_visible
from generation.transitions import TERMINAL
from mintmark.errors import ApiError
from orgs.access import ALL_ROLES, require_role

logger = logging.getLogger(__name__)

# How long a client waits before reconnecting after a stream ended (EventSource's `retry`).
RETRY_MS = 3000
KEEPALIVE = b": keep-alive\n\n"
# The least time between two reads that news asked for: many jobs' progress at once costs a
# process at most this rate of queries. And how long a poller waits to listen again after Redis
# went away (its streams are polled meanwhile).
NEWS_MIN_GAP_S = 0.05
NEWS_RETRY_S = 5.0
_FIELDS = ("id", "state", "progress_step", "progress_total", "error")


# Leases: slot keys `event-stream:<user>:<n>`, taken with the cache's atomic add.


@dataclass(frozen=True)
class Lease:
    key: str
    token: str


def lease_ttl_s() -> int:
    """A stream renews its lease every keep-alive interval; two missed renewals free it."""
    return 2 * settings.EVENT_STREAM_KEEPALIVE_S + 10


def _slot_key(user_id: int, slot: int) -> str:
    return f"event-stream:{user_id}:{slot}"


def lease_acquire(user_id: int) -> Lease | None:
    token = secrets.token_hex(8)
    for slot in range(settings.EVENT_STREAMS_PER_USER):
        key = _slot_key(user_id, slot)
        if cache.add(key, token, timeout=lease_ttl_s()):
            return Lease(key, token)
    return None


def lease_renew(lease: Lease) -> bool:
    """False if the lease expired meanwhile (then its slot may be someone else's)."""
    return cache.get(lease.key) == lease.token and cache.touch(lease.key, lease_ttl_s())


def lease_release(lease: Lease) -> None:
    if cache.get(lease.key) == lease.token:
        cache.delete(lease.key)


def cache_table_create(sender, using="default", **kwargs) -> None:
    """After `migrate`: the table of the database cache that holds the leases when there is no
    Redis (nothing to do with Redis). Connected in GenerationConfig.ready."""
    call_command("createcachetable", database=using, verbosity=0)


def leases_held(user_id: int) -> int:
    return sum(
        cache.get(_slot_key(user_id, slot)) is not None
        for slot in range(settings.EVENT_STREAMS_PER_USER)
    )


# The stream thread: every database and cache call of open streams, one at a time.

_stream_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-streams")


def _like_a_request(fn: Callable, *args):
    # What Django does around a request: a broken or too old connection is replaced first, and
    # with CONN_MAX_AGE=0 none is kept between polls.
    close_old_connections()
    try:
        return fn(*args)
    finally:
        close_old_connections()


async def _in_stream_thread(fn: Callable, *args):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_stream_thread, functools.partial(_like_a_request, fn, *args))


def _as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _job_rows(job_ids: list[UUID]) -> dict[UUID, dict]:
    return {row["id"]: row for row in GenerationJob.objects.filter(pk__in=job_ids).values(*_FIELDS)}


class _Poller:
    """The jobs that the streams of one event loop follow, read together every poll interval
    while any stream is open."""

    def __init__(self) -> None:
        self.following: Counter[UUID] = Counter()
        self.rows: dict[UUID, dict] = {}
        self.round = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.sending: set[asyncio.Task] = set()  # the tasks sending this loop's streams
        self.closing = False
        self.news = asyncio.Event()  # a followed job changed since the last read began

    async def follow(self, job_id: UUID) -> AsyncIterator[dict | None]:
        """The job's row after every poll (None once it no longer exists)."""
        self.following[job_id] += 1
        try:
            while True:
                if self.task is None or self.task.done():
                    self.task = asyncio.get_running_loop().create_task(self._poll())
                current = self.round
                await current.wait()
                yield self.rows.get(job_id)
        finally:
            self.following[job_id] -= 1
            if self.following[job_id] <= 0:
                del self.following[job_id]

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        listener = loop.create_task(self._listen()) if news_enabled() else None
        try:
            while self.following:
                # Cleared before the read: news that comes during it asks for another.
                self.news.clear()
                try:
                    self.rows = await _in_stream_thread(_job_rows, list(self.following))
                except Exception:  # one failed poll must not end every stream
                    # Streams stay open (and keep-alives flow) while the database is away.
                    logger.warning("event streams: polling jobs failed", exc_info=True)
                self._next_round()
                await self._until_next_read()
        finally:
            if listener is not None:
                listener.cancel()
            # Whatever stopped the poller, no stream is left waiting for a round that never
            # comes: the next one to wake starts a new poller.
            self._next_round()

    async def _until_next_read(self) -> None:
        """The poll interval, cut short by news (but not below NEWS_MIN_GAP_S)."""
        started = time.monotonic()
        with suppress(TimeoutError):
            await asyncio.wait_for(self.news.wait(), settings.EVENT_STREAM_POLL_S)
        await asyncio.sleep(max(0.0, NEWS_MIN_GAP_S - (time.monotonic() - started)))

    async def _listen(self) -> None:
        """Sets `news` when a followed job changes, for as long as the poller runs."""
        while True:
            try:
                # Once subscribed, one more read: a change committed before the subscription
                # sent its news to no one.
                async for job_id in job_news(self.news.set):
                    if _as_uuid(job_id) in self.following:
                        self.news.set()
            except (redis.RedisError, OSError):
                logger.warning("event streams: job news unavailable, polling", exc_info=True)
            await asyncio.sleep(NEWS_RETRY_S)

    def _next_round(self) -> None:
        done, self.round = self.round, asyncio.Event()
        done.set()


_pollers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Poller]" = (
    weakref.WeakKeyDictionary()
)


async def streams_close(timeout_s: float = 5.0) -> None:
    """Ends the open streams of this event loop, each as a job's end does (the client sees the
    stream end and reconnects elsewhere) and freeing its slot: a stopping web server calls it
    before it closes connections. A stream still open after timeout_s is cancelled."""
    poller = _pollers.get(asyncio.get_running_loop())
    if poller is None:
        return
    poller.closing = True
    poller._next_round()
    deadline = time.monotonic() + timeout_s
    while poller.sending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for task in list(poller.sending):
        task.cancel()


def _poller() -> _Poller:
    loop = asyncio.get_running_loop()
    if loop not in _pollers:
        _pollers[loop] = _Poller()
    return _pollers[loop]


# The stream.


@dataclass(frozen=True)
class JobStream:
    job_id: UUID
    row: dict
    lease: Lease | None  # None: the job had ended, the answer is one event


def _event(row: dict) -> bytes:
    payload = {
        "id": str(row["id"]),
        "state": row["state"],
        "progress": {"step": row["progress_step"], "total": row["progress_total"]},
        "error": row["error"],
    }
    return f"event: job\ndata: {json.dumps(payload)}\n\n".encode()


def stream_open(request, job_id: UUID) -> JobStream:
    """Checks the caller and takes a stream slot. Sync: the view runs it in its thread."""
    membership = require_role(request, ALL_ROLES)
    job = jobs_visible(membership=membership).only(*_FIELDS).get_for_org(membership.org, pk=job_id)
    row = {field: getattr(job, field) for field in _FIELDS}
    lease = None
    if job.state not in TERMINAL:
        lease = lease_acquire(membership.user_id)
        if lease is None:
            raise ApiError(
                429,
                "too_many_streams",
                f"You have {settings.EVENT_STREAMS_PER_USER} event streams open, the most one "
                "user may; close one before opening another.",
            )
    # The stream may stay open for minutes: it must not keep this request's connection.
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()
    return JobStream(job_id=job.pk, row=row, lease=lease)


def stream_response(stream: JobStream) -> HttpResponse | StreamingHttpResponse:
    first = f"retry: {RETRY_MS}\n\n".encode() + _event(stream.row)
    if stream.lease is None:
        response = HttpResponse(first, content_type="text/event-stream")
    else:
        response = StreamingHttpResponse(_events(stream, first), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _events(stream: JobStream, first: bytes) -> AsyncIterator[bytes]:
    keepalive = settings.EVENT_STREAM_KEEPALIVE_S
    poller = _poller()
    task = asyncio.current_task()
    poller.sending.add(task)
    try:
        yield first
        last = stream.row
        written = renewed = time.monotonic()
        deadline = written + settings.EVENT_STREAM_MAX_S
        async with aclosing(poller.follow(stream.job_id)) as rows:
            async for row in rows:
                now = time.monotonic()
                if row is None or poller.closing:
                    return
                if row != last:
                    last, written = row, now
                    yield _event(row)
                if row["state"] in TERMINAL or now >= deadline:
                    return
                if now - renewed >= keepalive:
                    renewed = now
                    if not await _in_stream_thread(lease_renew, stream.lease):
                        return
                if now - written >= keepalive:
                    written = now
                    yield KEEPALIVE
    finally:
        poller.sending.discard(task)
        await _in_stream_thread(lease_release, stream.lease)
