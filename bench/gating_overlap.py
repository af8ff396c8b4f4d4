"""What one approved image costs the gates worker from quarantine to a signed file, done as the
platform does it now (the gates at once, the marking beside them, then the signature) against
the way it was done before (each gate in turn, then all of the stamping), interleaved on the
same images in the same run. CPU only, no Django, no database: bench/serving_governance.py's
copy of the gating step (the default policy's gates over a catalog of random training hashes,
an org key made as provenance_init makes it).

    python bench/gating_overlap.py --json bench/gating_overlap.cpu.json
    python bench/gating_overlap.py --sizes 256 --n 2 --json /tmp/o.json   # smoke (seconds)

Each image's time is decode to signed file read back; p50 and p95 per size and way, and the
ratio of the p50s (before / now, so above 1 is faster now). Beside it, the GPU worker's encoding
of the quarantined PNG (generation.outputs.encode_image) and the release's encoding of the
signed file's PNG (provenance.stamping.png_bytes), each at zlib's default level 6, as before,
and at the level used now, with the files' sizes."""

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent), str(BENCH.parent / "platform")]

import serving_governance  # noqa: E402

from generation.outputs import QUARANTINE_PNG_LEVEL  # noqa: E402
from provenance.stamping import RELEASE_PNG_LEVEL  # noqa: E402
from provenance.watermark_samples import synthetic_image  # noqa: E402


def png_of(seed: int, size: int) -> bytes:
    buffer = io.BytesIO()
    synthetic_image(seed, size).save(buffer, format="PNG")
    return buffer.getvalue()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def png_encoding(size: int, count: int, level_now: int) -> dict:
    """A PNG at the old level (6) and at the level used now, interleaved."""
    times, sizes = {6: [], level_now: []}, {6: 0, level_now: 0}
    for seed in range(count):
        image = synthetic_image(seed, size)
        for level in times if seed % 2 == 0 else reversed(times):
            buffer = io.BytesIO()
            started = time.perf_counter()
            image.save(buffer, format="PNG", compress_level=level)
            times[level].append(1000 * (time.perf_counter() - started))
            sizes[level] += len(buffer.getvalue())
    old, new = statistics.median(times[6]), statistics.median(times[level_now])
    return {
        "level_before": 6,
        "level_now": level_now,
        "before_p50_ms": old,
        "now_p50_ms": new,
        "ratio_p50": old / new,
        "bytes_now_over_before": sizes[level_now] / sizes[6],
    }


def measure(size: int, count: int) -> dict:
    images = [png_of(seed, size) for seed in range(count)]
    serving_governance.govern(images[0], -1)  # warm: first calls load and compile
    serving_governance.govern(images[0], -2, overlap=False)
    times = {"now": [], "before": []}
    for index, png in enumerate(images):
        # Alternate which way goes first, so neither always meets a warmer cache.
        ways = ("now", "before") if index % 2 == 0 else ("before", "now")
        for way in ways:
            started = time.perf_counter()
            result = serving_governance.govern(png, index, overlap=way == "now")
            elapsed = 1000 * (time.perf_counter() - started)
            if result["decision"] != "approve":
                raise RuntimeError(f"image {index} was not approved: {result}")
            times[way].append(elapsed)
    row = {"size": size, "images": count}
    for way, values in times.items():
        row[way] = {"p50_ms": statistics.median(values), "p95_ms": percentile(values, 0.95)}
    row["ratio_p50"] = row["before"]["p50_ms"] / row["now"]["p50_ms"]
    row["quarantine_png"] = png_encoding(size, count, QUARANTINE_PNG_LEVEL)
    row["release_png"] = png_encoding(size, count, RELEASE_PNG_LEVEL)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024")
    parser.add_argument("--n", type=int, default=16, help="images per size")
    parser.add_argument("--catalog", type=int, default=20_000, help="training hashes")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    serving_governance.init(str(serving_governance.keys_folder()), args.catalog)
    rows = []
    for size in (int(value) for value in args.sizes.split(",")):
        row = measure(size, args.n)
        rows.append(row)
        print(
            f"{size} px ({row['images']} images): before p50 {row['before']['p50_ms']:.0f} ms"
            f" (p95 {row['before']['p95_ms']:.0f}), now p50 {row['now']['p50_ms']:.0f} ms"
            f" (p95 {row['now']['p95_ms']:.0f}): {row['ratio_p50']:.2f}x",
            flush=True,
        )
        for name, what in (("quarantine_png", "quarantined"), ("release_png", "released")):
            png = row[name]
            print(
                f"  {what} PNG: level 6 p50 {png['before_p50_ms']:.0f} ms, level"
                f" {png['level_now']} p50 {png['now_p50_ms']:.0f} ms ({png['ratio_p50']:.2f}x),"
                f" files {png['bytes_now_over_before']:.2f}x the size",
                flush=True,
            )
    env = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "catalog": args.catalog,
    }
    args.json.write_text(json.dumps({"env": env, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
