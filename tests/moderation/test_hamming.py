"""HammingIndex against a brute-force numpy scan: every radius, uniform and clustered hashes,
duplicates, hashes above 2**63, the query and input forms, and refusals."""

import numpy as np
import pytest

from moderation import hamming
from moderation.hamming import CHUNK_BITS, MAX_TABLE_RADIUS, MIN_TABLE_SIZE, HammingIndex

RADII = [*range(17), 20, 24]
SIZE = MIN_TABLE_SIZE + 30_000


def brute_force(hashes: np.ndarray, ids: np.ndarray, query: int, radius: int) -> list:
    distances = np.bitwise_count(hashes ^ np.uint64(query))
    rows = np.flatnonzero(distances <= radius)
    pairs = zip(ids[rows].tolist(), distances[rows].tolist(), strict=True)
    return sorted(pairs, key=lambda p: (p[1], p[0]))


def flip(value: int, bits) -> int:
    for bit in bits:
        value ^= 1 << int(bit)
    return value


def random_hashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 1 << 64, size=count, dtype=np.uint64, endpoint=False)


def clustered_hashes(rng: np.random.Generator, count: int, centres: int) -> np.ndarray:
    """Each hash a random centre with every bit flipped with probability 1/16."""
    values = random_hashes(rng, centres)[rng.integers(0, centres, count)]
    for bit in range(64):
        values[rng.random(count) < 1 / 16] ^= np.uint64(1 << bit)
    return values


def tables_index(hashes, ids, **kwargs) -> HammingIndex:
    """An index that answers every radius up to MAX_TABLE_RADIUS through its tables, however
    small, so the tables (not the scan) are what the brute force checks."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hamming, "_SCAN_COST", float("inf"))
        index = HammingIndex(hashes, ids, **kwargs)
    assert all(index.uses_tables(r) for r in range(MAX_TABLE_RADIUS + 1))
    assert not index.uses_tables(MAX_TABLE_RADIUS + 1)
    return index


def queries_near(rng: np.random.Generator, hashes: np.ndarray, count: int) -> list[int]:
    near = [
        flip(int(hashes[rng.integers(hashes.size)]), rng.choice(64, k, replace=False))
        for k in rng.integers(0, 17, count)
    ]
    return near + random_hashes(rng, 5).tolist()


@pytest.mark.parametrize("bucket_bits", [None, 8, 22])
@pytest.mark.parametrize("shape", ["uniform", "clustered"])
def test_every_radius_matches_brute_force(shape, bucket_bits):
    rng = np.random.default_rng(len(shape) + (bucket_bits or 0))
    if shape == "uniform":
        hashes = random_hashes(rng, SIZE)
    else:
        hashes = clustered_hashes(rng, SIZE, centres=300)
    # Repeated hash values under different ids, and ids that are not row numbers.
    hashes[-500:] = hashes[:500]
    ids = rng.permutation(SIZE).astype(np.int64) * 7 + 3
    index = tables_index(hashes, ids, bucket_bits=bucket_bits)
    assert len(index) == SIZE
    table_hits = 0
    for query in queries_near(rng, hashes, 15):
        for radius in RADII:
            expected = brute_force(hashes, ids, query, radius)
            assert index.search(query, radius) == expected, (hex(query), radius)
            table_hits += len(expected) if radius <= MAX_TABLE_RADIUS else 0
    assert table_hits > 50  # the tables did find things: the comparison means something


@pytest.mark.parametrize("radius", range(MAX_TABLE_RADIUS + 1))
def test_every_split_of_the_distance_over_the_chunks_is_found(radius):
    """Pigeonhole boundary: an item at exactly `radius`, its differing bits spread over the
    chunks in every possible way, is found through the tables."""
    rng = np.random.default_rng(radius)
    query = int(random_hashes(rng, 1)[0])
    above = np.cumsum((0, *CHUNK_BITS))  # bits of the chunks more significant than each
    splits = [
        (a, b, radius - a - b)
        for a in range(radius + 1)
        for b in range(radius - a + 1)
        if radius - a - b <= CHUNK_BITS[2]
    ]
    planted = []
    for split in splits:
        bits = []
        for chunk, count in enumerate(split):
            # Chunk 0 is the most significant: bits 63 down to 64 - CHUNK_BITS[0].
            top = 64 - above[chunk]
            bits += (top - 1 - rng.choice(CHUNK_BITS[chunk], count, replace=False)).tolist()
        planted.append(flip(query, bits))
    hashes = np.concatenate([random_hashes(rng, SIZE), np.array(planted, dtype=np.uint64)])
    ids = np.arange(hashes.size)
    index = tables_index(hashes, ids)
    found = dict(index.search(query, radius))
    for offset, value in enumerate(planted):
        assert found.get(SIZE + offset) == radius, (hex(value), splits[offset])
    assert index.search(query, radius) == brute_force(hashes, ids, query, radius)


def test_identical_hashes_are_all_returned_once_each_by_id():
    rng = np.random.default_rng(5)
    hashes = random_hashes(rng, SIZE)
    hashes[[10, 20, 30]] = hashes[40]
    ids = np.arange(SIZE) + 100
    index = tables_index(hashes, ids)
    query = int(hashes[40])
    assert index.search(query, 0) == [(110, 0), (120, 0), (130, 0), (140, 0)]
    # Within every chunk at radius 12, so read from all three tables, still listed once.
    assert [i for i, _ in index.search(query, 12)][:4] == [110, 120, 130, 140]
    assert index.nearest(query, 3) == (110, 0)


def test_nearest_is_the_closest_then_the_lowest_id():
    hashes = np.array([0b1111, 0b0111, 0b1110, 0], dtype=np.uint64)
    index = HammingIndex(hashes, np.array([9, 8, 7, 6]))
    assert index.nearest(0b0110, 8) == (7, 1)
    assert index.search(0b0110, 2) == [(7, 1), (8, 1), (6, 2), (9, 2)]
    assert index.nearest(0b11 << 40, 1) is None


def test_small_index_scans_and_large_radius_scans():
    rng = np.random.default_rng(6)
    hashes = random_hashes(rng, 1000)
    index = HammingIndex(hashes, np.arange(1000))
    assert not any(index.uses_tables(r) for r in range(65))
    assert index.nbytes == hashes.nbytes + 1000 * 4  # ids fit in uint32 offsets
    query = flip(int(hashes[3]), [1, 2, 3])
    assert index.search(query, 5) == brute_force(hashes, np.arange(1000), query, 5)
    everything = index.search(query, 64)
    assert len(everything) == 1000
    assert index.search(query, 1000) == everything


def test_empty_index():
    index = HammingIndex(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64))
    assert len(index) == 0
    assert index.search(123, 12) == []
    assert index.nearest(123, 64) is None
    assert HammingIndex.from_hex([]).search(0, 64) == []


def test_hashes_above_two_to_the_63_and_every_query_form():
    rng = np.random.default_rng(7)
    hashes = random_hashes(rng, SIZE) | np.uint64(1 << 63)
    hashes[0] = np.uint64((1 << 64) - 1)
    ids = np.arange(SIZE, dtype=np.int64)
    for index in (tables_index(hashes, ids), tables_index(hashes.view(np.int64), ids)):
        top = (1 << 64) - 1
        expected = brute_force(hashes, ids, top, 10)
        assert expected[0] == (0, 0)
        assert index.search(top, 10) == expected
        assert index.search(np.uint64(top), 10) == expected
        assert index.search(np.int64(-1), 10) == expected  # int64 view of the same bits
        assert index.search(-1, 10) == expected
        near = flip(int(hashes[5]), [0, 63])
        assert index.search(near, 2) == brute_force(hashes, ids, near, 2)
        assert index.search(near, 2)[0] == (5, 2)


def test_from_hex_parses_database_strings():
    values = [0, 1, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 0x0123456789ABCDEF]
    texts = [f"{v:016x}" for v in values]
    texts[4] = texts[4].upper()
    index = HammingIndex.from_hex(zip([5, 6, 7, 8, 9], texts, strict=True))
    assert len(index) == 5
    for item_id, value in zip([5, 6, 7, 8, 9], values, strict=True):
        assert index.search(value, 0) == [(item_id, 0)]
    assert index.nearest(0xFFFFFFFFFFFFFFFE, 1) == (8, 1)


@pytest.mark.parametrize(
    "text", ["000000000000000g", "0" * 15, "0" * 17, "0x00000000000000", "é" * 16, " " * 16, None]
)
def test_from_hex_refuses_bad_hex_naming_the_item(text):
    items = [(1, "00000000000000ff"), (42, text), (3, "00000000000000fe")]
    with pytest.raises(ValueError, match="item 42"):
        HammingIndex.from_hex(items)


def test_bad_queries_and_radii_are_refused():
    index = HammingIndex(np.array([1, 2], dtype=np.uint64), np.array([1, 2]))
    with pytest.raises(ValueError, match="64 bits"):
        index.search(1 << 64, 3)
    with pytest.raises(ValueError, match="64 bits"):
        index.search(-(1 << 63) - 1, 3)
    with pytest.raises(TypeError):
        index.search(1.0, 3)
    with pytest.raises(TypeError):
        index.search(True, 3)
    with pytest.raises(ValueError, match="radius"):
        index.search(1, -1)
    with pytest.raises(TypeError):
        index.nearest(1, 2.5)


def test_bad_inputs_are_refused():
    hashes = np.array([1, 2], dtype=np.uint64)
    with pytest.raises(TypeError, match="uint64"):
        HammingIndex(hashes.astype(np.float64), np.array([1, 2]))
    with pytest.raises(ValueError, match="one-dimensional"):
        HammingIndex(hashes.reshape(1, 2), np.array([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        HammingIndex(hashes, np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="integers"):
        HammingIndex(hashes, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="bucket_bits"):
        HammingIndex(hashes, np.array([1, 2]), bucket_bits=23)


def test_ids_of_any_int64_range_come_back_unchanged():
    rng = np.random.default_rng(8)
    hashes = random_hashes(rng, SIZE)
    ids = rng.integers(-(1 << 62), 1 << 62, size=SIZE)
    index = tables_index(hashes, ids)
    assert index.nbytes_by_part["ids"] == SIZE * 8  # too wide for uint32 offsets
    query = flip(int(hashes[77]), [4, 40])
    assert index.search(query, 4) == brute_force(hashes, ids, query, 4)
    assert index.nearest(query, 4) == (int(ids[77]), 2)


def test_memory_is_counted():
    rng = np.random.default_rng(9)
    hashes = random_hashes(rng, SIZE)
    index = HammingIndex(hashes, np.arange(SIZE) + 10**9)
    parts = index.nbytes_by_part
    assert parts["hashes"] == SIZE * 8
    assert parts["ids"] == SIZE * 4
    assert parts["rows"] == 2 * SIZE * 4
    assert parts["offsets"] > 0
    assert index.nbytes == sum(parts.values())
