"""The fingerprint registry of released images: every released stamp gets a Fingerprint row,
and each process keeps the window vectors of all of them in memory for verify's candidate
stage (provenance/fingerprint.py); thumbnails are read only for the few candidates.

Release registers each image's fingerprint in its own transaction; a stamp released before
the registry existed is registered from its released file when the registry is next loaded
(one whose file cannot be read is logged and skipped: verify must answer, not fail). The
in-memory index grows by the rows registered since the last load; when the count does not add
up (rows committed out of order, or removed) it is rebuilt."""

import threading
from dataclasses import dataclass

import structlog
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Count, Max

from mintmark.imageio import open_image
from provenance import fingerprint
from provenance.models import Fingerprint, Stamp

log = structlog.get_logger(__name__)
_lock = threading.Lock()


@dataclass
class _Loaded:
    index: fingerprint.Index
    count: int
    newest: object


_loaded: _Loaded | None = None


def fingerprint_register(stamp: Stamp) -> None:
    """Fingerprint a released stamp from its released file (the asset's `release_key` in the
    release storage); a second registration of the same stamp is a no-op."""
    with storages["release"].open(stamp.asset.release_key) as handle:
        image, _ = open_image(handle.read())
    registered = fingerprint.register(image)
    try:
        with transaction.atomic():
            Fingerprint.objects.create(
                stamp=stamp,
                method=fingerprint.METHOD,
                thumbnail=registered.thumbnail,
                windows=registered.windows,
            )
    except IntegrityError:
        pass  # registered meanwhile by another process


def _register_missing() -> None:
    pending = Stamp.objects.filter(released_at__isnull=False, fingerprint__isnull=True)
    for stamp in pending.select_related("asset").order_by("released_at"):
        try:
            fingerprint_register(stamp)
        except (OSError, ValueError) as exc:
            log.warning("fingerprint not registered", stamp=str(stamp.pk), error=str(exc))


def _rows(since=None):
    rows = Fingerprint.objects.all()
    if since is not None:
        rows = rows.filter(registered_at__gte=since)
    return rows.order_by("registered_at", "pk").values_list("stamp__asset_id", "windows")


def fingerprint_index() -> fingerprint.Index:
    """The window index of every released image, registering any not yet fingerprinted."""
    global _loaded
    _register_missing()
    stats = Fingerprint.objects.aggregate(n=Count("pk"), newest=Max("registered_at"))
    with _lock:
        loaded = _loaded
        if loaded is not None and (loaded.count, loaded.newest) == (stats["n"], stats["newest"]):
            return loaded.index
        grown = (
            loaded is not None
            and loaded.newest is not None
            and stats["n"] > loaded.count
            and stats["newest"] >= loaded.newest
        )
        if grown:
            known = set(loaded.index.keys)
            fresh = [(str(k), bytes(w)) for k, w in _rows(loaded.newest) if str(k) not in known]
            if loaded.count + len(fresh) == stats["n"]:
                _loaded = _Loaded(loaded.index.extended(fresh), stats["n"], stats["newest"])
                return _loaded.index
        index = fingerprint.Index([(str(k), bytes(w)) for k, w in _rows()])
        _loaded = _Loaded(index, len(index), stats["newest"])
        return index


def thumbnails(asset_ids: list[str]) -> dict[str, bytes]:
    rows = Fingerprint.objects.filter(stamp__asset_id__in=asset_ids)
    return {str(k): bytes(t) for k, t in rows.values_list("stamp__asset_id", "thumbnail")}
