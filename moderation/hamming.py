"""Exact Hamming-radius search over 64-bit perceptual hashes (plain module, numpy only).

Multi-index hashing (Norouzi, Punjani and Fleet, "Fast Exact Search in Hamming Space with
Multi-Index Hashing", TPAMI 2014). The 64 bits are split into three chunks of 22, 21 and 21 bits
and each chunk has a bucketed table. Probing chunk j out to radius r_j, with sum(r_j + 1) > r
over the probed chunks, finds every hash within r of the query: if none of its chunks were within
r_j, its distance would be at least sum(r_j + 1). So enumerating the neighbour keys of the query's
chunks, reading those buckets and verifying each candidate with a popcount is exact. A hash that
an earlier table could reach is dropped from a later one, so none is reported twice. The per-chunk
radii are planned per radius from a cost model (a chunk may be left out); radii above
MAX_TABLE_RADIUS, and indexes too small for tables to pay, use a vectorised full scan, also exact.

Memory: the main table holds the hashes grouped by their first chunk (8 bytes each) and the ids
in the same order (4 bytes when their range fits in uint32, else 8); the two other tables hold
uint32 rows of the main table (8 bytes per hash for both); each table has an offsets array of
2**bucket_bits + 1 uint32. That is 20 bytes per hash before the offsets, 2.5 times the raw
hashes; for 10M hashes, 234 MB, 2.9 times.
"""

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import product
from math import comb

import numpy as np

# Chunk widths, most significant first. Three tables keep 10M hashes at a few items per bucket,
# where enumerating neighbour keys and verifying candidates cost about the same.
CHUNK_BITS = (22, 21, 21)
# Radii up to here may be answered through the tables (sub-linear), when the planner expects
# them to beat the full scan; above it, and for small indexes, the full scan answers.
MAX_TABLE_RADIUS = 12
# Below this many hashes no tables are built: the scan takes a fraction of a millisecond.
MIN_TABLE_SIZE = 1 << 16
# Neighbour keys are enumerated at most this far out in one chunk (C(22, <=6) = 110 056 keys).
MAX_CHUNK_RADIUS = 6
# Planner costs, in units of one bucket read (about 50 ns here, a cache miss): a candidate
# verified (one from a secondary table needs one more gather, its main-table row), the fixed
# numpy overhead of probing a table, and one hash of the full scan. Measured on the 2-core
# machine; they only decide speed, never which hashes are found.
_BUCKET_COST = 1.0
_CANDIDATE_COST = (1.0, 1.5, 1.5)
_TABLE_COST = 1200.0
_SCAN_COST = 0.05
# The full scan works on blocks so its temporaries stay small.
_SCAN_BLOCK = 1 << 18
_UINT64_MASK = (1 << 64) - 1
_HEX_DIGITS = 16


@dataclass(frozen=True)
class _Table:
    shift: int  # lowest bit of the chunk in the hash
    bits: int  # chunk width
    drop: int  # low chunk bits left out of the bucket key (small indexes, or bucket_bits)
    offsets: np.ndarray  # uint32, 2**(bits - drop) + 1: bucket k is offsets[k]:offsets[k + 1]
    rows: np.ndarray | None  # uint32 main-table rows in bucket order; None for the main table

    @property
    def key_mask(self) -> np.uint64:
        """The hash bits that make up the bucket key."""
        return np.uint64(((1 << (self.bits - self.drop)) - 1) << (self.shift + self.drop))

    @property
    def nbytes(self) -> int:
        return self.offsets.nbytes + (0 if self.rows is None else self.rows.nbytes)


class HammingIndex:
    """Exact radius search over 64-bit hashes, answering with the caller's ids."""

    def __init__(self, hashes: np.ndarray, ids: np.ndarray, *, bucket_bits: int | None = None):
        """Index `hashes` (uint64, or an int64 view of the same bits) under `ids` (integers,
        same length; one id may have any hash and hashes may repeat).

        `bucket_bits` caps how many bits of each chunk key its buckets: fewer bits mean smaller
        offsets arrays and fuller buckets. The default gives two to four hashes per bucket, up
        to the chunk width. Building takes about 7 s for 10M hashes on the 2-core machine; the
        index is read-only afterwards, so threads may share it."""
        hashes = _as_hashes(hashes)
        ids = np.asarray(ids)
        _check_ids(ids, hashes.size)
        self._size = hashes.size
        key_bits = self._key_bits(bucket_bits)
        self._tables: tuple[_Table, ...] = ()
        self._plans: dict[int, tuple[int, ...] | None] = {}
        if self._size < MIN_TABLE_SIZE:
            self._hashes = hashes.copy()
            self._id_base, self._ids = _compact_ids(ids)
            return
        layout = []
        low = 64
        for bits in CHUNK_BITS:
            low -= bits
            layout.append((low, bits, max(bits - key_bits, 0)))
        order = _grouped_order(_chunk_keys(hashes, *layout[0]))
        self._hashes = hashes[order]
        self._id_base, self._ids = _compact_ids(ids[order])
        del order
        tables = []
        for shift, bits, drop in layout:
            keys = _chunk_keys(self._hashes, shift, bits, drop)
            offsets = _offsets(keys, 1 << (bits - drop))
            # The main table is grouped by the first chunk already.
            rows = _grouped_order(keys) if tables else None
            tables.append(_Table(shift, bits, drop, offsets, rows))
            _neighbour_masks(bits - drop)
        self._tables = tuple(tables)
        self._plans = self._plan()

    @classmethod
    def from_hex(cls, items: Iterable[tuple[int, str]]) -> "HammingIndex":
        """Index (id, hash) pairs with the hash as 16 hex digits, as stored in the database.
        A hash that is not exactly 16 hex digits raises ValueError naming its id."""
        ids, texts = [], []
        for item_id, text in items:
            if not isinstance(text, str) or len(text) != _HEX_DIGITS:
                raise ValueError(f"item {item_id}: hash {text!r} is not {_HEX_DIGITS} hex digits")
            ids.append(item_id)
            texts.append(text)
        return cls(_parse_hex(texts, ids), np.array(ids, dtype=np.int64))

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes held by the index: hashes, ids and tables (not the neighbour masks, about
        1.5 MB, which all indexes share)."""
        return sum(self.nbytes_by_part.values())

    @property
    def nbytes_by_part(self) -> dict[str, int]:
        """nbytes split into hashes, ids, table rows and bucket offsets (for the benchmark)."""
        return {
            "hashes": self._hashes.nbytes,
            "ids": self._ids.nbytes,
            "rows": sum(0 if t.rows is None else t.rows.nbytes for t in self._tables),
            "offsets": sum(t.offsets.nbytes for t in self._tables),
        }

    def uses_tables(self, radius: int) -> bool:
        """Whether a search at `radius` goes through the tables rather than the full scan."""
        return self._plans.get(_as_radius(radius)) is not None

    def search(self, query: int | np.integer, radius: int) -> list[tuple[int, int]]:
        """(id, distance) of every item within `radius` bits of `query`, by distance then id.
        A negative query is read as an int64 view of the 64 bits."""
        ids, distances = self._hits(_as_query(query), _as_radius(radius))
        return list(zip(ids.tolist(), distances.tolist(), strict=True))

    def nearest(self, query: int | np.integer, radius: int) -> tuple[int, int] | None:
        """(id, distance) of the closest item within `radius` (the lowest id among equals),
        or None."""
        ids, distances = self._hits(_as_query(query), _as_radius(radius))
        if ids.size == 0:
            return None
        return int(ids[0]), int(distances[0])

    def _key_bits(self, bucket_bits: int | None) -> int:
        if bucket_bits is None:
            # Two to four hashes per bucket: fewer cost more offsets memory for little speed.
            return min(max(self._size.bit_length() - 2, 1), max(CHUNK_BITS))
        if isinstance(bucket_bits, bool) or not 1 <= operator.index(bucket_bits) <= max(CHUNK_BITS):
            raise ValueError(f"bucket_bits must be 1..{max(CHUNK_BITS)}, got {bucket_bits!r}")
        return bucket_bits

    def _hits(self, query: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        plan = self._plans.get(radius)
        if plan is not None:
            rows, distances = self._lookup(query, radius, plan)
        else:
            rows, distances = self._scan(query, radius)
        if self._ids.dtype == np.uint32:
            # One sort of distance << 32 | id offset is a few times faster than lexsort.
            packed = (distances.astype(np.uint64) << np.uint64(32)) | self._ids[rows]
            packed.sort()
            ids = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64) + self._id_base
            return ids, (packed >> np.uint64(32)).astype(np.int64)
        ids = self._ids[rows]
        order = np.lexsort((ids, distances))
        return ids[order], distances[order]

    def _scan(self, query: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        query64 = np.uint64(query)
        rows, distances = [np.empty(0, np.int64)], [np.empty(0, np.uint8)]
        for start in range(0, self._size, _SCAN_BLOCK):
            block = np.bitwise_count(self._hashes[start : start + _SCAN_BLOCK] ^ query64)
            found = np.flatnonzero(block <= radius)
            rows.append(found + start)
            distances.append(block[found])
        return np.concatenate(rows), np.concatenate(distances)

    def _lookup(
        self, query: int, radius: int, plan: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        query64 = np.uint64(query)
        rows, distances = [], []
        probed: list[tuple[np.uint64, int]] = []
        for table, chunk_radius in zip(self._tables, plan, strict=True):
            if chunk_radius < 0:
                continue
            found = self._candidates(table, query, chunk_radius)
            differing = self._hashes[found] ^ query64
            found_distances = np.bitwise_count(differing)
            keep = found_distances <= radius
            # A hash within reach in an earlier table's key was found there already: keeping
            # it only where first found makes duplicates impossible, with no sort.
            for key_mask, earlier_radius in probed:
                keep &= np.bitwise_count(differing & key_mask) > earlier_radius
            rows.append(found[keep])
            distances.append(found_distances[keep])
            probed.append((table.key_mask, chunk_radius))
        return np.concatenate(rows), np.concatenate(distances)

    def _candidates(self, table: _Table, query: int, chunk_radius: int) -> np.ndarray:
        # Keys shortened by `drop` bits: the buckets within chunk_radius of the query's bucket
        # hold every hash whose full chunk is within chunk_radius, so the masks are enumerated
        # over the shortened key directly.
        key_bits = table.bits - table.drop
        masks, counts = _neighbour_masks(key_bits)
        key = (query >> (table.shift + table.drop)) & ((1 << key_bits) - 1)
        keys = masks[: counts[chunk_radius]] ^ key
        rows = _expand(table.offsets[keys], table.offsets[keys + 1])
        return rows if table.rows is None else table.rows[rows]

    def _plan(self) -> dict[int, tuple[int, ...] | None]:
        """For each radius up to MAX_TABLE_RADIUS, the per-chunk probe radii (-1: not probed)
        with sum(r_j + 1) > radius that the cost model finds cheapest, or None where it
        expects the full scan to be cheaper."""
        costs = [
            [self._probe_cost(j, r) for r in range(MAX_CHUNK_RADIUS + 1)]
            for j in range(len(self._tables))
        ]
        choices = list(product(range(-1, MAX_CHUNK_RADIUS + 1), repeat=len(self._tables)))
        plans = {}
        for radius in range(MAX_TABLE_RADIUS + 1):
            best, best_cost = None, self._size * _SCAN_COST
            for radii in choices:
                if sum(radii) + len(radii) <= radius:
                    continue
                cost = sum(costs[j][r] for j, r in enumerate(radii) if r >= 0)
                if cost < best_cost:
                    best, best_cost = radii, cost
            plans[radius] = best
        return plans

    def _probe_cost(self, j: int, chunk_radius: int) -> float:
        key_bits = self._tables[j].bits - self._tables[j].drop
        buckets = sum(comb(key_bits, d) for d in range(chunk_radius + 1))
        per_bucket = self._size / (1 << key_bits)
        return _TABLE_COST + buckets * (_BUCKET_COST + per_bucket * _CANDIDATE_COST[j])


@cache
def _neighbour_masks(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """XOR masks over `bits` bits with at most MAX_CHUNK_RADIUS bits set, fewest bits first,
    and counts[d], how many masks have at most d bits set."""
    values = np.arange(1 << bits, dtype=np.uint32)
    weights = np.bitwise_count(values)
    keep = weights <= MAX_CHUNK_RADIUS
    order = np.argsort(weights[keep], kind="stable")
    # intp, so the keys index the offsets without a conversion per query.
    masks = values[keep][order].astype(np.intp)
    counts = np.cumsum(np.bincount(weights[keep], minlength=MAX_CHUNK_RADIUS + 1))
    masks.flags.writeable = False
    return masks, counts


def _as_query(query: int | np.integer) -> int:
    if isinstance(query, bool | np.bool_) or not isinstance(query, int | np.integer):
        raise TypeError(f"query must be an integer hash, not {type(query).__name__}")
    value = int(query)
    if not -(1 << 63) <= value <= _UINT64_MASK:
        raise ValueError(f"query {value} does not fit in 64 bits")
    return value & _UINT64_MASK


def _as_radius(radius: int) -> int:
    if isinstance(radius, bool | np.bool_):
        raise TypeError("radius must be an integer, not a bool")
    value = operator.index(radius)
    if value < 0:
        raise ValueError(f"radius must be >= 0, got {value}")
    return min(value, 64)


def _as_hashes(hashes: np.ndarray) -> np.ndarray:
    hashes = np.asarray(hashes)
    if hashes.ndim != 1:
        raise ValueError(f"hashes must be one-dimensional, got shape {hashes.shape}")
    if hashes.size >= 1 << 32:
        raise ValueError("at most 2**32 - 1 hashes")
    if hashes.dtype == np.int64:
        # Hashes above 2**63 read back from a signed column: same bits.
        return hashes.view(np.uint64)
    if hashes.dtype != np.uint64:
        raise TypeError(f"hashes must be uint64 (or an int64 view), got {hashes.dtype}")
    return hashes


def _check_ids(ids: np.ndarray, count: int) -> None:
    if ids.shape != (count,):
        raise ValueError(f"ids must have shape ({count},), got {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integers, got {ids.dtype}")
    if ids.dtype == np.uint64 and count and int(ids.max()) > np.iinfo(np.int64).max:
        raise ValueError("ids must fit in int64")


def _compact_ids(ids: np.ndarray) -> tuple[int, np.ndarray]:
    """(base, offsets) with ids == base + offsets, offsets uint32 when the range allows."""
    if ids.size == 0:
        return 0, np.empty(0, dtype=np.uint32)
    low, high = int(ids.min()), int(ids.max())
    if high - low <= np.iinfo(np.uint32).max:
        return low, (ids.astype(np.int64) - low).astype(np.uint32)
    return 0, ids.astype(np.int64)


def _chunk_keys(hashes: np.ndarray, shift: int, bits: int, drop: int) -> np.ndarray:
    key = (hashes >> np.uint64(shift + drop)) & np.uint64((1 << (bits - drop)) - 1)
    return key.astype(np.uint32)


def _grouped_order(keys: np.ndarray) -> np.ndarray:
    """Rows ordered by a key of at most 32 bits, ties by row, as uint32. One uint64 sort of
    key << 32 | row is several times faster than argsort on 10M keys."""
    packed = keys.astype(np.uint64) << np.uint64(32)
    packed |= np.arange(keys.size, dtype=np.uint64)
    packed.sort()
    return packed.astype(np.uint32)


def _offsets(keys: np.ndarray, buckets: int) -> np.ndarray:
    offsets = np.zeros(buckets + 1, dtype=np.uint32)
    np.cumsum(np.bincount(keys, minlength=buckets), out=offsets[1:])
    return offsets


def _expand(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The ranges starts[i]:ends[i] concatenated, without a Python loop."""
    lengths = (ends - starts).astype(np.int64)
    if lengths.size == 0:
        return np.empty(0, dtype=np.int64)
    stops = np.cumsum(lengths)
    return np.repeat(starts - (stops - lengths), lengths) + np.arange(stops[-1])


def _parse_hex(texts: list[str], ids: list[int]) -> np.ndarray:
    """16-digit hex strings to uint64, vectorised. from_hex takes about 1.2 s per million items
    on the 2-core machine before the build, most of it in the loop over the items."""
    if not texts:
        return np.empty(0, dtype=np.uint64)
    joined = "".join(texts)
    if not joined.isascii():
        bad = next(i for i, text in enumerate(texts) if not text.isascii())
        raise ValueError(f"item {ids[bad]}: hash {texts[bad]!r} is not hex")
    digits = _HEX_VALUES[np.frombuffer(joined.encode("ascii"), dtype=np.uint8)]
    digits = digits.reshape(len(texts), _HEX_DIGITS)
    invalid = (digits > 15).any(axis=1)
    if invalid.any():
        bad = int(np.flatnonzero(invalid)[0])
        raise ValueError(f"item {ids[bad]}: hash {texts[bad]!r} is not hex")
    packed = (digits[:, 0::2] << 4) | digits[:, 1::2]
    return packed.view(">u8").ravel().astype(np.uint64)


def _hex_values() -> np.ndarray:
    values = np.full(256, 255, dtype=np.uint8)
    for value, char in enumerate("0123456789abcdef"):
        values[ord(char)] = value
        values[ord(char.upper())] = value
    return values


_HEX_VALUES = _hex_values()
