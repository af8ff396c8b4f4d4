"""Hash catalogs loaded from the database and kept in the worker's memory: the training items
of a model's datasets (memorization gate) and the released assets (fingerprint registry).

Each is rebuilt when its rows change: the cheap signature (row count and newest row) is read
on every use, the catalog only when the signature moved.

The precise stage reads a candidate item's pixels from the datasets storage, where the import
keeps every item's file, and keeps its canonical form (64 x 64 x 3 float32, 48 KiB) in a
bounded cache: one read per item while it stays a frequent candidate. Storing the file rather
than redrawing it also covers datasets that are not drawn by code.

The line catalog (moderation.edge_copies) is kept beside it for control images that are line
drawings: each item's edge fingerprint, computed at ingest; an item imported before fingerprints
existed has its fingerprint computed from its file when the catalog loads (`manage.py
edge_fingerprints` stores them so that load stays cheap), and a file that cannot be read fails
the check."""

import threading
from functools import lru_cache

import numpy as np
from django.core.files.storage import storages
from django.db.models import Count, Max

from licensing.models import Dataset, DatasetItem
from mintmark.imageio import open_image
from mintmark.line_drawings import ItemLines, edge_fingerprint, item_lines
from moderation.copy_detection import canonical
from moderation.edge_copies import EdgeCatalog
from moderation.memorization import HashCatalog

# About 100 MB of canonical item pixels per worker process.
PIXEL_CACHE_ITEMS = 2048

_lock = threading.Lock()
_cache: dict[tuple, tuple[tuple, HashCatalog | EdgeCatalog]] = {}


def _cached(key: tuple, signature: tuple, load):
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
        [row[5] for row in rows] if labels is not None else None,
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
            items.order_by("pk").values_list(
                "pk", "phash", "dhash", "whash", "dataset_id", "file_key"
            ),
            names,
        ),
    )


@lru_cache(maxsize=PIXEL_CACHE_ITEMS)
def training_pixels(file_key: str) -> np.ndarray:
    """A training item's canonical pixels for the precise stage, read from the datasets
    storage. Raises when the file is missing or unreadable (the gate then fails closed)."""
    with storages["datasets"].open(file_key) as handle:
        image, _ = open_image(handle.read())
    pixels = canonical(image)
    pixels.flags.writeable = False
    return pixels


def _item_image(file_key: str):
    with storages["datasets"].open(file_key) as handle:
        image, _ = open_image(handle.read())
    return image


def training_edge_catalog(dataset_ids: tuple[str, ...]) -> EdgeCatalog:
    """The edge fingerprints of the training items of `dataset_ids` (see the module docstring)."""
    items = DatasetItem.objects.filter(dataset_id__in=dataset_ids)
    stats = items.aggregate(n=Count("id"), newest=Max("created_at"))
    key = ("training-edges", tuple(sorted(dataset_ids)))
    names = dict(Dataset.objects.filter(pk__in=dataset_ids).values_list("pk", "name"))

    def load() -> EdgeCatalog:
        rows = list(
            items.order_by("pk").values_list("pk", "dataset_id", "file_key", "edge_fingerprint")
        )
        return EdgeCatalog(
            [str(row[0]) for row in rows],
            [names[row[1]] for row in rows],
            [row[2] for row in rows],
            [row[3] or edge_fingerprint(_item_image(row[2])) for row in rows],
        )

    return _cached(key, (stats["n"], stats["newest"]), load)


@lru_cache(maxsize=PIXEL_CACHE_ITEMS)
def training_lines(file_key: str) -> ItemLines:
    """A training item's lines for the precise stage of the line check (two bit-packed
    256 x 256 Canny images, 16 KiB), read from the datasets storage. Raises when the file cannot
    be read."""
    lines = item_lines(_item_image(file_key))
    lines.loose.flags.writeable = False
    lines.strong.flags.writeable = False
    return lines
