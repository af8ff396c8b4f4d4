"""Exact Hamming-radius search over 64-bit hashes: a plain numpy scan, faiss IndexBinaryFlat
(exact, range_search) and moderation.hamming.HammingIndex (multi-index hashing), same data, same
queries, same run. Every query's result from HammingIndex and from faiss is checked against the
numpy scan (ids and distances, in order); any difference stops the run.

    python bench/hamming_search.py                     # 1M and 10M hashes (a few minutes)
    python bench/hamming_search.py --sizes 100000 --queries 50     # quick check (seconds)

Two distributions: `uniform` (random 64-bit hashes) and `clustered` (each hash a centre with
every bit flipped with probability --flip; --centres centres), the shape of perceptual hashes of
near-duplicate images, and the worst case for bucketed tables. Half of the queries are near
copies of indexed items (an indexed item with 0..12 bits flipped; for `clustered`, a fresh
member of a random cluster), half are random. Prints markdown tables; no Django, no database.
"""

import argparse
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.hamming import HammingIndex

Result = list[tuple[int, int]]


@dataclass
class Method:
    name: str
    memory: int
    build_s: float
    search: Callable[[int, int], Result]
    times: dict[int, list[float]] = field(default_factory=dict)
    cpu_times: dict[int, list[float]] = field(default_factory=dict)


def flip_bits(rng: np.random.Generator, values: np.ndarray, prob: float) -> np.ndarray:
    """values with each of the 64 bits flipped independently with probability prob."""
    out = values.copy()
    threshold = round(prob * 256)
    for bit in range(64):
        flip = rng.integers(0, 256, size=values.size, dtype=np.uint8) < threshold
        out[flip] ^= np.uint64(1 << bit)
    return out


def random_hashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 1 << 64, size=count, dtype=np.uint64, endpoint=False)


def make_data(
    rng: np.random.Generator, kind: str, size: int, args: argparse.Namespace
) -> tuple[np.ndarray, list[int]]:
    """The indexed hashes and the queries."""
    half = args.queries // 2
    if kind == "uniform":
        hashes = random_hashes(rng, size)
        near = [
            int(hashes[rng.integers(size)]) ^ sum(1 << int(b) for b in bits)
            for bits in (rng.choice(64, rng.integers(0, 13), replace=False) for _ in range(half))
        ]
    else:
        centres = random_hashes(rng, args.centres)
        hashes = flip_bits(rng, centres[rng.integers(0, args.centres, size)], args.flip)
        near = flip_bits(rng, centres[rng.integers(0, args.centres, half)], args.flip).tolist()
    far = random_hashes(rng, args.queries - half).tolist()
    queries = [int(q) for pair in zip(near, far, strict=False) for q in pair]
    return hashes, queries


def numpy_method(hashes: np.ndarray, ids: np.ndarray) -> Method:
    def search(query: int, radius: int) -> Result:
        distances = np.bitwise_count(hashes ^ np.uint64(query))
        rows = np.flatnonzero(distances <= radius)
        return _ordered(ids[rows], distances[rows])

    return Method("numpy scan", hashes.nbytes + ids.nbytes, 0.0, search)


def faiss_method(hashes: np.ndarray, ids: np.ndarray) -> Method:
    started = time.perf_counter()
    index = faiss.IndexBinaryFlat(64)
    index.add(hashes.view(np.uint8).reshape(-1, 8))
    build_s = time.perf_counter() - started

    def search(query: int, radius: int) -> Result:
        code = np.array([query], dtype=np.uint64).view(np.uint8).reshape(1, 8)
        # faiss keeps distances strictly below the radius it is given.
        _, distances, labels = index.range_search(code, radius + 1)
        return _ordered(ids[labels], distances.astype(np.int64))

    return Method(
        "faiss IndexBinaryFlat", index.ntotal * index.code_size + ids.nbytes, build_s, search
    )


def hamming_method(hashes: np.ndarray, ids: np.ndarray, bucket_bits: int | None) -> Method:
    tracemalloc.start()
    started = time.perf_counter()
    index = HammingIndex(hashes, ids, bucket_bits=bucket_bits)
    build_s = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    label = "HammingIndex" if bucket_bits is None else f"HammingIndex bucket_bits={bucket_bits}"
    parts = ", ".join(f"{k} {v / 1e6:.1f}" for k, v in index.nbytes_by_part.items())
    print(f"  {label}: build {build_s:.2f} s, build peak {peak / 1e6:.0f} MB, held: {parts} MB")
    return Method(label, index.nbytes, build_s, index.search)


def _ordered(ids: np.ndarray, distances: np.ndarray) -> Result:
    order = np.lexsort((ids, distances))
    return list(zip(ids[order].tolist(), distances[order].tolist(), strict=True))


def run_case(kind: str, size: int, args: argparse.Namespace) -> list[str]:
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    hashes, queries = make_data(rng, kind, size, args)
    # Database-like ids: unique, shuffled, not the row numbers.
    ids = (rng.permutation(size) + 1000).astype(np.int64)
    print(f"{kind} {size:,}: data in {time.perf_counter() - started:.1f} s", flush=True)
    methods = [numpy_method(hashes, ids)]
    if not args.no_faiss:
        methods.append(faiss_method(hashes, ids))
    indexes = [hamming_method(hashes, ids, bits) for bits in [None, *args.bucket_bits]]
    methods += indexes
    # The same indexes queried again in a pass of their own: the interleaved pass finds caches
    # and TLB cold after each 80 MB baseline scan, as a worker doing other work between
    # queries would; the back-to-back pass is a worker answering queries in a row.
    alone = [Method(f"{m.name}, back-to-back", m.memory, m.build_s, m.search) for m in indexes]
    rows = []
    for radius in args.radii:
        expected = []
        for query in queries:
            expected.append(check(methods[0], query, radius, None))
            for method in methods[1:]:
                check(method, query, radius, expected[-1])
        for method in alone:
            for query, want in zip(queries, expected, strict=True):
                check(method, query, radius, want)
        hits = [len(want) for want in expected]
        print(
            f"  radius {radius}: {len(queries)} queries agree, hits p50 "
            f"{np.median(hits):.0f} max {max(hits)}",
            flush=True,
        )
        for method in methods + alone:
            times = np.array(method.times[radius]) * 1e3
            cpu = np.median(method.cpu_times[radius]) * 1e3
            rows.append(
                f"| {kind} | {size:,} | {radius} | {method.name} | {np.median(times):.2f} | "
                f"{np.percentile(times, 99):.2f} | {cpu:.2f} | "
                f"{np.median(hits):.0f} / {max(hits)} | "
                f"{method.memory / 1e6:.0f} ({method.memory / hashes.nbytes:.2f}x) | "
                f"{method.build_s:.2f} |"
            )
    return rows


def check(method: Method, query: int, radius: int, expected: Result | None) -> Result:
    """Time one search; stop the run if it differs from the expected (numpy scan) result."""
    started, started_cpu = time.perf_counter(), time.process_time()
    found = method.search(query, radius)
    method.cpu_times.setdefault(radius, []).append(time.process_time() - started_cpu)
    method.times.setdefault(radius, []).append(time.perf_counter() - started)
    if expected is not None and found != expected:
        raise SystemExit(
            f"{method.name} differs from the numpy scan: query {query:#018x} radius {radius}"
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated")
    parser.add_argument("--radii", default="4,8,12", help="comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="per radius and case")
    parser.add_argument("--distributions", default="uniform,clustered")
    parser.add_argument("--centres", type=int, default=2000, help="clustered: cluster count")
    parser.add_argument("--flip", type=float, default=0.05, help="clustered: bit flip chance")
    parser.add_argument("--bucket-bits", default="", help="extra HammingIndex rows, e.g. 20")
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument("--faiss-threads", type=int, default=1, help="0: faiss default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.radii = [int(r) for r in args.radii.split(",")]
    args.bucket_bits = [int(b) for b in args.bucket_bits.split(",") if b]
    if args.faiss_threads:
        faiss.omp_set_num_threads(args.faiss_threads)
    load = os.getloadavg()[0]
    print(
        f"numpy {np.__version__}, faiss {faiss.__version__} ({faiss.omp_get_max_threads()} "
        f"threads), {os.cpu_count()} CPUs, load average {load:.2f}",
        flush=True,
    )
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in args.distributions.split(","):
            rows += run_case(kind, size, args)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}\n")
    print(
        "| data | N | radius | method | p50 ms | p99 ms | CPU p50 ms | hits p50 / max "
        "| memory MB (x raw) | build s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
