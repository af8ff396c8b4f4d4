"""Under ASGI, answers streamed from a sync iterator (static files, downloads, exports) are sent
a chunk at a time, as under WSGI, instead of being read whole into memory first
(mintmark/streaming.py)."""

from pathlib import Path

import ninja
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from mintmark.streaming import CHUNK_BYTES

BUNDLE = Path(ninja.__file__).parent / "static" / "ninja" / "swagger-ui-bundle.js"


async def _chunks(response) -> list[bytes]:
    return [chunk async for chunk in response.streaming_content]


def test_a_static_file_is_sent_in_chunks_under_asgi():
    response = async_to_sync(AsyncClient().get)("/static/ninja/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert response.streaming and response.is_async
    chunks = async_to_sync(_chunks)(response)
    assert b"".join(chunks) == BUNDLE.read_bytes()
    assert len(chunks) >= BUNDLE.stat().st_size // (2 * CHUNK_BYTES)
    assert max(len(chunk) for chunk in chunks) < 2 * CHUNK_BYTES


def test_an_export_is_streamed_under_asgi_and_unchanged_under_wsgi(personas):
    path = "/api/audit/events?format=jsonl"
    headers = {"Authorization": f"Bearer {personas['admin'].token}"}
    answer = async_to_sync(AsyncClient().get)(path, headers=headers)
    assert answer.status_code == 200
    assert answer.is_async
    streamed = b"".join(async_to_sync(_chunks)(answer))
    wsgi = Client().get(path, headers=headers)
    assert not wsgi.is_async
    assert streamed == b"".join(wsgi.streaming_content)
    assert streamed.count(b"\n") >= 5  # the personas' creation is in the log
