"""The file stores behind quarantine, release and datasets: private, with no URLs.

No store hands out a URL, signed or not. A quarantined file must never be reachable from
outside, and a released one is streamed by Django (GET /api/assets/{id}/file), which checks
the caller's org and role on every download and needs no route from clients to the object store
(compose's MinIO is on the internal network only). Asking a store for a URL is a programming
error, refused loudly rather than answered with a link that would bypass those checks."""

from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage


class UrlRefused(NotImplementedError):
    """A Mintmark store was asked for a URL to one of its files."""


def _refuse(storage, name: str):
    raise UrlRefused(
        f"{type(storage).__name__} gives no URL for {name!r}: files are private "
        "(released files are streamed by GET /api/assets/{id}/file)"
    )


class PrivateS3Storage(S3Storage):
    """django-storages' S3 backend on a private bucket, without public or presigned URLs."""

    def url(self, name, parameters=None, expire=None, http_method=None):
        _refuse(self, name)


class PrivateFileSystemStorage(FileSystemStorage):
    """Local files (the embedded default), likewise without URLs."""

    def url(self, name):
        _refuse(self, name)
