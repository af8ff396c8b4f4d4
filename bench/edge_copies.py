"""Disguised edge maps of training items against edge maps of ordinary pictures, through the
control-image line check (moderation/edge_copies.py), on the CPU.

The catalog: the default model's training scenes (64 px flat shapes, its five posters among
them) and textured synthetic pictures (tests' `picture`, provenance's watermark samples). Each
attacked item's edge map is disguised as an outside tester would (other Canny thresholds,
inverted, dilated, resized and JPEG'd, mirrored, cropped, a thick hand-like trace), and turned
or cut (geometric_maps: issue #17's geometric class, drawn fresh for each item); the ordinary
edge maps are those of pictures outside the catalog, at the same thresholds.

Each map is checked once: the first search (mirror, zoom, shift) gives "before", and the second
search (turned and cut views), run only when the first finds no copy, gives "after"; CPU times
are split by whether the first search found a copy. `--seed` draws other attacked items, turns,
crops and ordinary pictures (the README's figures are seed 0).

    .venv/bin/python bench/edge_copies.py --scenes 3000 --pictures 1000 --attacked 40
"""

import argparse
import io
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1]),
    str(Path(__file__).resolve().parents[1] / "platform"),
]

from defaultmodel import scenes  # noqa: E402
from mintmark.line_drawings import edge_fingerprint, item_lines, line_binary, pooled  # noqa: E402
from moderation.edge_copies import (  # noqa: E402
    MIN_LINE_CELLS,
    EdgeCatalog,
    first_search,
    geometric_search,
)
from provenance.watermark_samples import synthetic_image  # noqa: E402


def picture(seed: int, size: int = 256) -> Image.Image:
    """tests/gating_support.picture (copied: that module needs Django)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack(
        [
            120 + 100 * np.sin(2 * np.pi * (x * rng.uniform(0.5, 2) + rng.uniform())),
            120 + 100 * np.cos(2 * np.pi * (y * rng.uniform(0.5, 2) + rng.uniform())),
            120 + 80 * np.sin(2 * np.pi * (x + y) * rng.uniform(0.5, 2)),
        ],
        axis=-1,
    )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.integers(0, size - 40, 2)
        w, h = rng.integers(20, size // 2, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
    noise = rng.normal(0, 6, (size, size, 3))
    textured = np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(textured).filter(ImageFilter.GaussianBlur(0.6))


def canny(image: Image.Image, low: int = 100, high: int = 200) -> Image.Image:
    return Image.fromarray(cv2.Canny(np.asarray(image.convert("L")), low, high))


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def edge_maps(image: Image.Image) -> dict[str, Image.Image]:
    """The disguises; small items are enlarged first, as a user preparing a 512 px control
    image would."""
    big = image.convert("RGB")
    if big.width < 256:
        big = big.resize((256, 256), Image.Resampling.BICUBIC)
    edges = canny(big)
    side, cut = big.width, round(big.width * 0.1)
    trace = cv2.dilate(np.asarray(canny(big, 60, 180)), np.ones((9, 9), np.uint8))
    return {
        "canny 50/100": canny(big, 50, 100),
        "canny 100/200": edges,
        "canny 150/250": canny(big, 150, 250),
        "canny 30/90": canny(big, 30, 90),
        "inverted": ImageOps.invert(edges),
        "dilated 5 px": Image.fromarray(cv2.dilate(np.asarray(edges), np.ones((5, 5), np.uint8))),
        "resized + JPEG 60": jpeg(edges.resize((200, 200), Image.Resampling.BILINEAR), 60),
        "mirrored": canny(ImageOps.mirror(big)),
        "cropped 10 %": canny(big.crop((cut, cut, side - cut, side - cut)).resize((side, side))),
        "thick trace, inverted": ImageOps.invert(
            Image.fromarray(cv2.GaussianBlur(trace, (0, 0), 2))
        ),
    }


def turned(image: Image.Image, degrees: float, fill: int) -> Image.Image:
    return image.rotate(degrees, Image.Resampling.BICUBIC, fillcolor=(fill, fill, fill))


def cut(image: Image.Image, share: float, x: float, y: float) -> Image.Image:
    """The part `share` of the side at (x, y) of the free range, enlarged back."""
    side = image.width
    inner = round(side * share)
    left, top = round(x * (side - inner)), round(y * (side - inner))
    return image.crop((left, top, left + inner, top + inner)).resize((side, side))


def geometric_maps(image: Image.Image, rng: np.random.Generator) -> dict[str, Image.Image]:
    """Turned and cut edge maps (issue #17's geometric class), drawn fresh for each item:
    turns of 3 to 20 degrees either way (the turned picture's blank corners black or white),
    quarter turns with 3 to 15 degrees more, crops of 50 to 90 % of the side at a corner or the
    centre or anywhere, and those combined with a turn, a mirror or a thick trace."""
    big = image.convert("RGB")
    if big.width < 256:
        big = big.resize((256, 256), Image.Resampling.BICUBIC)

    def angle(low: float, high: float) -> float:
        return float(rng.uniform(low, high) * rng.choice((-1, 1)))

    def fill() -> int:
        return int(rng.choice((0, 255)))

    corner = [float(v) for v in rng.choice((0.0, 1.0), 2)]
    anywhere = [float(v) for v in rng.uniform(0, 1, 2)]
    quarter = int(rng.integers(1, 4)) * 90
    trace = cv2.dilate(np.asarray(canny(big, 60, 180)), np.ones((9, 9), np.uint8))
    thick = ImageOps.invert(Image.fromarray(cv2.GaussianBlur(trace, (0, 0), 2))).convert("RGB")
    return {
        "turned 3-8°": canny(turned(big, angle(3, 8), fill())),
        "turned 8-20°": canny(turned(big, angle(8, 20), fill())),
        "quarter turn + 3-15°": canny(turned(big, quarter + angle(3, 15), fill())),
        "crop 50-70 %, corner": canny(cut(big, rng.uniform(0.5, 0.7), *corner)),
        "crop 70-90 %, corner": canny(cut(big, rng.uniform(0.7, 0.9), *corner)),
        "crop 50-90 %, centre": canny(cut(big, rng.uniform(0.5, 0.9), 0.5, 0.5)),
        "crop 55-90 %, anywhere": canny(cut(big, rng.uniform(0.55, 0.9), *anywhere)),
        "crop 60-90 % + turn 3-15°": canny(
            turned(cut(big, rng.uniform(0.6, 0.9), *anywhere), angle(3, 15), fill())
        ),
        "crop 55-90 % + mirror": canny(
            ImageOps.mirror(cut(big, rng.uniform(0.55, 0.9), *anywhere))
        ),
        "thick trace turned 5-15°": turned(thick, angle(5, 15), 255),
        "turned 5-15° + resized, JPEG": jpeg(
            canny(turned(big, angle(5, 15), fill())).resize((200, 200)), 70
        ),
    }


class Checker:
    """Both searches as moderation.edge_copies.edge_check runs them, timed apart: the CPU of
    uploads the first search finds a copy in (the check as before) and of those it does not
    (before: the first search; after: both)."""

    def __init__(self, catalog, lines_of):
        self.catalog, self.lines_of = catalog, lines_of
        self.cpu = {"found first": [], "not found first": [], "not found first, both": []}
        self.wall = []

    def __call__(self, edge_map):
        started, cpu_started = time.perf_counter(), time.process_time()
        binary = line_binary(edge_map)
        report = first_search(pooled(binary), self.catalog, self.lines_of)
        first = time.process_time() - cpu_started
        before = report.first_copy
        if before is None and report.line_cells >= MIN_LINE_CELLS:
            geometric_search(binary, report, self.catalog, self.lines_of)
        both = time.process_time() - cpu_started
        self.wall.append(time.perf_counter() - started)
        if before is not None:
            self.cpu["found first"].append(first)
        else:
            self.cpu["not found first"].append(first)
            self.cpu["not found first, both"].append(both)
        return report, before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=3000)
    parser.add_argument("--pictures", type=int, default=1000)
    parser.add_argument("--attacked", type=int, default=40)
    parser.add_argument("--ordinary", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    # One item per poster, as the platform's dataset keeps (defaultmodel/memorized.py).
    kept = [
        i
        for i in range(args.scenes)
        if scenes.poster_of(i) is None or i < scenes.DUPLICATE_EVERY * len(scenes.POSTERS)
    ]
    items = [scenes.training_item(i).image for i in kept]
    items += [picture(seed) for seed in range(args.pictures // 2)]
    items += [synthetic_image(seed, 256) for seed in range(args.pictures - args.pictures // 2)]
    started = time.perf_counter()
    fingerprints = [edge_fingerprint(item) for item in items]
    ingest = (time.perf_counter() - started) / len(items)
    lines = {str(i): item_lines(item) for i, item in enumerate(items)}
    keys = [str(i) for i in range(len(items))]
    catalog = EdgeCatalog(keys, ["bench"] * len(items), keys, fingerprints)
    print(f"catalog {len(items)} items, fingerprint {ingest * 1000:.1f} ms an item")

    rng = np.random.default_rng(args.seed)
    check = Checker(catalog, lines.__getitem__)
    attacked = sorted(rng.choice(len(items), args.attacked, replace=False).tolist())
    # The posters (the items the default model memorised) are always attacked.
    attacked = sorted(
        set(attacked) | {k for k, i in enumerate(kept) if scenes.poster_of(i) is not None}
    )
    caught: dict[str, list[int]] = {}

    def is_item(copy, index):
        return copy is not None and items[int(copy.key)].tobytes() == items[index].tobytes()

    for index in attacked:
        geometric = geometric_maps(items[index], rng)
        for name, edge_map in (edge_maps(items[index]) | geometric).items():
            report, first = check(edge_map)
            hit = is_item(report.copy, index)
            empty = report.line_cells < MIN_LINE_CELLS
            kind = "scene" if index < len(kept) else "picture"
            group = "geometric" if name in geometric else "other"
            for key in (name, f"all {group} {kind}s", f"all {group}"):
                caught.setdefault(key, [0, 0, 0, 0])
                caught[key][0] += is_item(first, index)
                caught[key][1] += hit
                caught[key][2] += 1
                caught[key][3] += empty
            if args.verbose and not hit and not empty:
                print(
                    "  missed",
                    index,
                    name,
                    [(m.key, round(m.comparison.score, 2)) for m in report.compared[:4]],
                    report.line_cells,
                )
            if args.verbose and hit:
                print(
                    "  hit",
                    name,
                    [round(m.comparison.score, 2) for m in report.compared[:4]],
                    report.line_cells,
                )
    print("disguised edge maps of training items caught (before -> after):")
    for name, (first, hit, total, empty) in sorted(
        caught.items(), key=lambda kv: kv[0].startswith("all")
    ):
        print(
            f"  {name:28s} {first:4d} -> {hit:4d} / {total}"
            + (f"  ({empty} too sparse to check)" if empty else "")
        )

    refused: dict[str, list[int]] = {}
    nearest = []
    checked = 0
    first_seed = 10_000 + 1_000 * args.seed
    ordinary = [picture(first_seed + s) for s in range(args.ordinary // 2)]
    ordinary += [
        synthetic_image(first_seed + s, 256) for s in range(args.ordinary - args.ordinary // 2)
    ]
    ordinary += [
        s.image for s in scenes.iter_scenes(args.ordinary, 99 + args.seed, scenes.HELD_OUT_ONLY)
    ]
    for number, image in enumerate(ordinary):
        source = "picture" if number < args.ordinary else "held-out scene"
        for name in ("canny 100/200", "canny 50/100", "inverted", "dilated 5 px"):
            edge_map = edge_maps(image)[name]
            report, first = check(edge_map)
            checked += 1
            counts = refused.setdefault(source, [0, 0])
            counts[0] += first is not None
            counts[1] += report.copy is not None
            if report.compared:
                nearest.append(report.compared[0].comparison.score)
            if report.copy is not None and args.verbose:
                print(
                    "  refused",
                    name,
                    [round(m.comparison.score, 2) for m in report.compared[:4]],
                    [
                        (m.comparison.view, round(m.comparison.score, 2))
                        for m in report.geometric[:3]
                    ],
                    report.line_cells,
                )
    before = sum(first for first, _ in refused.values())
    after = sum(both for _, both in refused.values())
    print(f"ordinary edge maps wrongly refused: {before} -> {after} / {checked} {refused}")
    low = np.percentile(nearest, 1)
    print(f"  best line score of ordinary maps: min {min(nearest):.2f}, 1st pct {low:.2f}")
    for name, values in [("wall, all", check.wall)] + [
        (f"CPU, {group}", values) for group, values in check.cpu.items()
    ]:
        if values:
            median, high = np.median(values) * 1000, np.percentile(values, 95) * 1000
            print(
                f"check per control image ({name}, {len(values)}): median {median:.1f} ms, "
                f"95th pct {high:.1f} ms"
            )


if __name__ == "__main__":
    main()
