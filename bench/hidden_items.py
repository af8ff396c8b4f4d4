"""Training items hidden in an input image (moderation.region_rotation): how many the input
check's region and rotation views catch, how many ordinary inputs they refuse by mistake, and
what they cost per input, on the CPU.

    .venv/bin/python bench/hidden_items.py --items /tmp/items.npz --json out.json

The catalog is the default model's 19 005 distinct training items (drawn, or read from
`--items`, an .npz of `keys` and `pixels` this script writes on its first run), searched under
the default policy's tight rules as the input check searches its views (`max_hamming` 8, 4
candidates a view). Every attacked and ordinary input is made here, fresh, from `--seed`:

- region: a training item (posters and random ordinary items) pasted at 25 to 80 % of the
  side of a busy canvas (a collage of held-out scenes, or smooth colour with noise), anywhere,
  the whole rescaled 0.6x to 1x and saved as JPEG q60 to q90;
- rotation: a training item at 128 to 384 px turned by 3 to 45 degrees either way, its canvas
  grown (corners filled black, white or a random colour) or cut back to its size, then rescaled
  0.6x to 1x and saved as JPEG q60 to q90;
- ordinary: held-out scenes of the same kind (flat shapes, never in training) plain, turned by
  3 to 45 degrees (grown or cut) and pasted into collages; and smooth noise pictures.

A copy counts as caught when a view names its own item; an ordinary input counts as refused
when a view names any item. The time per input is the whole of `hidden_item_report` (all views,
their searches and comparisons), one thread."""

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from PIL import Image, ImageFilter  # noqa: E402

from defaultmodel import export, scenes  # noqa: E402
from defaultmodel.memorized import MEMORIZED  # noqa: E402

# Held-out scenes come from their own stream, never drawn into training.
ORDINARY_SEED = 977
VIEW_SIDE = 128  # as moderation.input_check


def training_items(path: Path | None) -> tuple[list[int], np.ndarray]:
    if path is not None and path.exists():
        data = np.load(path)
        return [int(k) for k in data["keys"]], data["pixels"]
    indices = [i for i in range(scenes.DEFAULT_SIZE) if export.is_first_copy(i)]
    items = export.draw(indices, scenes.DEFAULT_SEED, workers=2)
    pixels = np.stack([np.asarray(item.image.convert("RGB")) for item in items])
    if path is not None:
        np.savez(path, keys=np.array(indices), pixels=pixels)
    return indices, pixels


def held_out(n: int) -> list[Image.Image]:
    items = export.draw(range(n), ORDINARY_SEED, which=scenes.HELD_OUT_ONLY, workers=2)
    return [item.image.convert("RGB") for item in items]


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _handled(image: Image.Image, rng) -> tuple[Image.Image, str]:
    scale = float(rng.uniform(0.6, 1.0))
    quality = int(rng.integers(60, 91))
    size = (max(16, round(image.width * scale)), max(16, round(image.height * scale)))
    return _jpeg(image.resize(size, Image.Resampling.LANCZOS), quality), (
        f"{scale:.2f}x q{quality}"
    )


def _noise_canvas(width: int, height: int, rng) -> Image.Image:
    coarse = rng.integers(0, 256, (max(2, height // 48), max(2, width // 48), 3), np.uint8)
    smooth = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(smooth) + noise, 0, 255).astype(np.uint8))


def _collage_canvas(width: int, height: int, others: list[Image.Image], rng) -> Image.Image:
    canvas = _noise_canvas(width, height, rng)
    for _ in range(int(rng.integers(4, 9))):
        other = others[int(rng.integers(len(others)))]
        side = int(rng.integers(min(width, height) // 6, min(width, height) // 2))
        x, y = int(rng.integers(0, width - side // 2)), int(rng.integers(0, height - side // 2))
        canvas.paste(other.resize((side, side), Image.Resampling.LANCZOS), (x, y))
    return canvas


def pasted(item: Image.Image, others: list[Image.Image], rng) -> tuple[Image.Image, str]:
    width = int(rng.choice([384, 512, 640, 768]))
    height = int(width * rng.choice([0.75, 1.0, 1.33]))
    canvas = (
        _collage_canvas(width, height, others, rng)
        if rng.random() < 0.6
        else _noise_canvas(width, height, rng).filter(ImageFilter.GaussianBlur(1))
    )
    share = float(rng.uniform(0.25, 0.8))
    side = round(share * min(width, height))
    x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    canvas.paste(item.resize((side, side), Image.Resampling.LANCZOS), (x, y))
    handled, how = _handled(canvas, rng)
    return handled, f"{share:.0%} at ({x}, {y}) of {width}x{height}, {how}"


def turned(item: Image.Image, rng) -> tuple[Image.Image, str]:
    side = int(rng.integers(128, 385))
    angle = float(rng.uniform(3, 45)) * (1 if rng.random() < 0.5 else -1)
    grown = rng.random() < 0.5
    fill = [(0, 0, 0), (255, 255, 255), tuple(int(c) for c in rng.integers(0, 256, 3))][
        int(rng.integers(3))
    ]
    big = item.resize((side, side), Image.Resampling.LANCZOS)
    out = big.rotate(angle, Image.Resampling.BICUBIC, expand=grown, fillcolor=fill)
    handled, how = _handled(out, rng)
    return handled, f"{angle:+.1f}° {'grown' if grown else 'cut'} fill {fill}, {how}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=Path, help="cache of the drawn training items (.npz)")
    parser.add_argument("--copies", type=int, default=60, help="attacked inputs per class")
    parser.add_argument("--ordinary", type=int, default=300, help="ordinary inputs")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import cv2

    from moderation.copy_detection import canonical
    from moderation.memorization import KINDS, HashCatalog, hashes_of
    from moderation.region_rotation import hidden_item_report
    from policies.rules import MemorizationRules

    cv2.setNumThreads(1)
    started = time.monotonic()
    keys, pixels = training_items(args.items)
    hashes = [hashes_of(Image.fromarray(p)) for p in pixels]
    catalog = HashCatalog(
        [str(k) for k in keys],
        {kind: [f"{h[kind]:016x}" for h in hashes] for kind in KINDS},
        [scenes.DATASET_NAME] * len(keys),
        [str(k) for k in keys],
    )
    position = {str(k): p for p, k in enumerate(keys)}
    canon: dict[str, np.ndarray] = {}

    def loader(key: str) -> np.ndarray:
        if key not in canon:
            canon[key] = canonical(Image.fromarray(pixels[position[key]]))
        return canon[key]

    rules = MemorizationRules()
    tight = rules.model_copy(update={"candidate_radius": rules.max_hamming, "candidates": 4})
    print(f"catalog {len(keys)} items, {time.monotonic() - started:.0f} s", flush=True)

    rng = np.random.default_rng(args.seed)
    others = held_out(args.ordinary + 200)
    fillers, plain = others[:200], others[200:]
    posters = [m.index for m in MEMORIZED]
    ordinary_keys = [k for k in keys if scenes.poster_of(k) is None]
    picked = posters + [int(k) for k in rng.choice(ordinary_keys, args.copies, replace=False)]

    cases = []  # (class, expected key or None, image, how)
    for key in picked[: args.copies]:
        item = Image.fromarray(pixels[position[str(key)]])
        cases.append(("region", str(key), *pasted(item, fillers, rng)))
    for key in picked[: args.copies]:
        item = Image.fromarray(pixels[position[str(key)]])
        cases.append(("rotation", str(key), *turned(item, rng)))
    third = args.ordinary // 3
    for n, scene in enumerate(plain):
        if n < third:
            big = scene.resize((256, 256), Image.Resampling.LANCZOS)
            cases.append(("ordinary: plain scene", None, *_handled(big, rng)))
        elif n < 2 * third:
            cases.append(("ordinary: scene turned", None, *turned(scene, rng)))
        else:
            cases.append(("ordinary: collage of scenes", None, *pasted(scene, fillers, rng)))
    for _ in range(third):
        noise = _noise_canvas(512, 512, rng).filter(ImageFilter.GaussianBlur(2))
        cases.append(("ordinary: noise picture", None, *_handled(noise, rng)))

    rows = []
    for klass, key, image, how in cases:
        small = image.copy()
        small.thumbnail((VIEW_SIDE, VIEW_SIDE), Image.Resampling.LANCZOS)
        t0 = time.perf_counter()
        found = hidden_item_report(image, small, catalog, loader, rules, tight)
        seconds = time.perf_counter() - t0
        named = found[0].copy.candidate.key if found else None
        hit = named == key if key is not None else named is not None
        rows.append(
            {
                "class": klass,
                "how": how,
                "item": key,
                "named": named,
                "undone": found[1] if found else "",
                "similarity": round(found[0].copy.similarity, 4) if found else None,
                "hit": hit,
                "seconds": round(seconds, 4),
            }
        )
        if (key is not None and not hit) or (key is None and hit):
            print(f"  {klass}: {how} -> {rows[-1]['undone']} {named}", flush=True)

    summary = {}
    for klass in dict.fromkeys(r["class"] for r in rows):
        group = [r for r in rows if r["class"] == klass]
        times = np.array([r["seconds"] for r in group])
        summary[klass] = {
            "n": len(group),
            ("caught" if group[0]["item"] else "refused"): sum(r["hit"] for r in group),
            "p50_s": round(float(np.percentile(times, 50)), 3),
            "p95_s": round(float(np.percentile(times, 95)), 3),
        }
        print(klass, summary[klass], flush=True)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
