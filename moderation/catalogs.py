"""Hash catalogs loaded from the database and kept in the worker's memory: the training items
of a model's datasets (memorization gate) and the released assets (fingerprint registry).

Each is rebuilt when its rows change: the cheap signature (row count and newest row) is read
on every use, the catalog only when the signature moved."""

import threading

from django.db.models import Count, Max

from licensing.models import Dataset, DatasetItem
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


def _catalog(rows, labels=None) -> HashCatalog:
    rows = list(rows)
    return HashCatalog(
        [str(row[0]) for row in rows],
        {kind: [row[i + 1] for row in rows] for i, kind in enumerate(("phash", "dhash", "whash"))},
        [labels[row[4]] for row in rows] if labels is not None else None,
    )


def training_catalog(dataset_ids: tuple[str, ...]) -> HashCatalog:
    items = DatasetItem.objects.filter(dataset_id__in=dataset_ids)
    stats = items.aggregate(n=Count("id"), newest=Max("created_at"))
    key = ("training", tuple(sorted(dataset_ids)))
    names = dict(Dataset.objects.filter(pk__in=dataset_ids).values_list("pk", "name"))
    return _cached(
        key,
        (stats["n"], stats["newest"]),
        lambda: _catalog(
            items.order_by("pk").values_list("pk", "phash", "dhash", "whash", "dataset_id"),
            names,
        ),
    )


def fingerprint_catalog() -> HashCatalog:
    from provenance.models import Stamp

    stamps = Stamp.objects.filter(released_at__isnull=False)
    stats = stamps.aggregate(n=Count("id"), newest=Max("released_at"))
    return _cached(
        ("fingerprints",),
        (stats["n"], stats["newest"]),
        lambda: _catalog(stamps.order_by("pk").values_list("asset_id", "phash", "dhash", "whash")),
    )
