"""What the ordinary outputs the memorization check holds look like (issue #17): for each one,
the caption's own training item (training captions), the item it was held for, the pixel
similarity and neighbour ratio, and how much of that item's foreground the output reproduces;
the same foreground measure for copies of ordinary items (rescaled and re-compressed) and the
model's own poster copies, as the yardstick.

    .venv/bin/python bench/memorization_gate.py evaluate --images /tmp/mm-bench.npz \\
        --workers 16 --records /tmp/mm-records.jsonl
    .venv/bin/python bench/memorization_held.py --images /tmp/mm-bench.npz \\
        --records /tmp/mm-records.jsonl --json bench/data/memorization_held.json

Foreground: the item's pixels at least FOREGROUND off its background colour (its median), at
the alignment `copy_detection.compare` found; the measure is the RMS difference there over the
RMS of the foreground's own distance from the background (0: the item's shapes exactly, about
1: none of them)."""

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform"), str(ROOT / "bench")]

import memorization_gate as bench  # noqa: E402

from defaultmodel import scenes  # noqa: E402
from moderation import copy_detection as cd  # noqa: E402

FOREGROUND = 0.05
COPIES = ((0.5, 50), (0.5, 70), (0.6, 55), (0.75, 50))


def foreground_difference(image: np.ndarray, item: int) -> float | None:
    """How far `image` is from reproducing training item `item`'s foreground (see above)."""
    shown = cd.canonical(Image.fromarray(image))
    source = cd.canonical(scenes.training_item(item).image)
    found = cd.compare(shown, source)
    shown = cd.mirrored(shown) if found.mirrored else shown
    shown, part = cd.aligned(shown, source, found.alignment)
    deviation = np.sqrt(((part - np.median(part.reshape(-1, 3), axis=0)) ** 2).sum(axis=2))
    foreground = deviation > FOREGROUND
    if foreground.sum() < 4:
        return None
    difference = np.sqrt(((shown - part) ** 2).sum(axis=2))[foreground]
    return float(np.sqrt((difference**2).mean()) / np.sqrt((deviation[foreground] ** 2).mean()))


def _jpeg_copy(item: int, scale: float, quality: int) -> np.ndarray:
    image = scenes.training_item(item).image
    side = round(image.width * scale)
    buffer = io.BytesIO()
    image.resize((side, side), Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _quantiles(values: list[float]) -> list[float]:
    return [round(float(q), 3) for q in np.quantile(values, [0, 0.1, 0.5, 0.9, 1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--records", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--copies", type=int, default=40, help="ordinary items copied")
    args = parser.parse_args()

    images = np.load(args.images, allow_pickle=True)["images"]
    records = [json.loads(line) for line in args.records.read_text().splitlines()]
    # `evaluate` writes the generated images' records first, in the file's order.
    generated = records[: len(images)]
    ordinary = [
        i
        for i in range(bench.TRAIN_CAPTIONS_FROM, scenes.DEFAULT_SIZE)
        if scenes.poster_of(i) is None
    ]
    for s, split in enumerate(bench.SPLITS):
        mine = [r for r in generated if r["split"] == split and "training captions" in r["group"]]
        for record, item in zip(mine, ordinary[s * len(mine) : (s + 1) * len(mine)], strict=True):
            record["own"] = item

    held = []
    for record, image in zip(generated, images, strict=True):
        if not (record["group"].startswith("ordinary") and record["hit"]):
            continue
        key, similarity, ratio = record["nearest"][0]
        own = record.get("own")
        held.append(
            {
                "split": record["split"],
                "captions": record["group"].removeprefix("ordinary: "),
                "caption": scenes.training_item(own).caption if own is not None else None,
                "own_item": own,
                "held_for": int(key),
                "held_for_caption": scenes.training_item(int(key)).caption,
                "similarity": similarity,
                "neighbour_ratio": ratio,
                "foreground_difference": round(foreground_difference(image, int(key)), 3),
            }
        )
    rng = np.random.default_rng(5)
    items = [int(i) for i in rng.choice(bench.TRAIN_CAPTIONS_FROM, 2 * args.copies, replace=False)]
    items = [i for i in items if scenes.poster_of(i) is None][: args.copies]
    yardstick = {}
    for scale, quality in COPIES:
        values = [foreground_difference(_jpeg_copy(i, scale, quality), i) for i in items]
        yardstick[f"copy {scale}x JPEG q{quality}"] = _quantiles([v for v in values if v])
    posters = [
        foreground_difference(image, r["item"])
        for r, image in zip(generated, images, strict=True)
        if r["group"].startswith("model's own copy")
    ]
    yardstick["the model's own poster copies"] = _quantiles(posters)
    out = {
        "held": held,
        "held_n": len(held),
        "ordinary_n": sum(r["group"].startswith("ordinary") for r in generated),
        "own_item_held": sum(h["held_for"] == h["own_item"] for h in held),
        "foreground_difference_held": _quantiles([h["foreground_difference"] for h in held]),
        "foreground_difference_copies (min, p10, median, p90, max)": yardstick,
    }
    print(json.dumps({k: v for k, v in out.items() if k != "held"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
