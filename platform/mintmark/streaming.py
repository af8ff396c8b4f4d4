"""Streamed answers stay streamed under ASGI.

Django's ASGI handler reads a response streamed from a sync iterator (a FileResponse download,
the audit and provenance exports, WhiteNoise's static files) whole into a list before sending
a byte (StreamingHttpResponse.__aiter__), so a large export would sit in memory at once. This
middleware, outermost, gives such a response an async iterator that pulls up to CHUNK_BYTES at
a time from the sync one, in the request's own thread (where a database cursor the iterator
reads from belongs). Under WSGI it does nothing: there the server iterates the response."""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest

CHUNK_BYTES = 64 * 1024


def _next_chunk(parts) -> bytes:
    """The next parts joined, up to about CHUNK_BYTES; b"" once they are used up."""
    chunk, size = [], 0
    for part in parts:
        chunk.append(part)
        size += len(part)
        if size >= CHUNK_BYTES:
            break
    return b"".join(chunk)


async def _pulled(parts):
    pull = sync_to_async(_next_chunk, thread_sensitive=True)
    while chunk := await pull(parts):
        yield chunk


class StreamSyncIteratorsMiddleware:
    # Sync is enough: under ASGI Django runs it in the request's thread like the sync
    # middleware inside it; what matters is that the ASGI handler receives an async iterator.
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            response.streaming_content = _pulled(iter(response.streaming_content))
        return response
