"""Hash catalogs loaded from the database and kept in the worker's memory: the training items
of a model's datasets (memorization gate) and the released assets (fingerprint registry).

Each is rebuilt when its rows change: the cheap signature (row count and newest row) is read
on every use, the catalog only when the signature moved."""

import threading

from django.db.models import Count, Max

from licensing.models import DatasetItem
from moderation.memorization import HashCatalog

_lock = threading.Lock()
_cache: dict[tuple, tuple[tuple, HashCatalog]] = {}


def _cached(key: tuple, signature: tuple, load) -> HashCatalog:
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == signature:
            return hit[1]
    catalog = load()
    with _lock:
        _cache[key] = (signature, catalog)
    return catalog


def _catalog(rows) -> HashCatalog:
    rows = list(rows)
    return HashCatalog(
        [str(row[0]) for row in rows],
        {kind: [row[i + 1] for row in rows] for i, kind in enumerate(("phash", "dhash", "whash"))},
    )


def training_catalog(dataset_ids: tuple[str, ...]) -> HashCatalog:
    items = DatasetItem.objects.filter(dataset_id__in=dataset_ids)
    stats = items.aggregate(n=Count("id"), newest=Max("created_at"))
    key = ("training", tuple(sorted(dataset_ids)))
    return _cached(
        key,
        (stats["n"], stats["newest"]),
        lambda: _catalog(items.order_by("pk").values_list("pk", "phash", "dhash", "whash")),
    )


def training_item_describe(key: str) -> dict:
    item = DatasetItem.objects.select_related("dataset").filter(pk=key).first()
    if item is None:
        return {"item": key}
    return {
        "item": key,
        "dataset": item.dataset.name,
        "dataset_id": str(item.dataset_id),
        "caption": item.caption,
        "sha256": item.sha256,
    }


def fingerprint_catalog() -> HashCatalog:
    from provenance.models import Stamp

    stamps = Stamp.objects.filter(released_at__isnull=False)
    stats = stamps.aggregate(n=Count("id"), newest=Max("released_at"))
    return _cached(
        ("fingerprints",),
        (stats["n"], stats["newest"]),
        lambda: _catalog(stamps.order_by("pk").values_list("asset_id", "phash", "dhash", "whash")),
    )
