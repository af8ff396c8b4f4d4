"""The memorization gate's radius on the default model: how many poster regurgitations it
catches and how many ordinary outputs it wrongly matches to some training item, per radius.

    .venv/bin/python bench/memorization_radius.py                  # the figures in README.md
    .venv/bin/python bench/memorization_radius.py --poster-seeds 4 --heldout 16 --train 16

It generates on the CPU with the shipped model (models/mintmark-shapes) as the platform runs it:
25 DPM-Solver++ steps, guidance 7.5, 64 px, one CPU generator seeded per image. Three sets:

- each poster's caption with seeds 0..N-1 (the regurgitation attempts);
- captions of held-out combinations (never in training), drawn as the model card's adherence
  test draws them;
- captions of ordinary training items, each with its own item's index as seed.

Every image is compared with the memorization gate's catalog of the 19 005 distinct training
items. The gate's rule, per radius r: an item matches when its pHash is within r and its
dHash or wHash is within r too, for the image or its mirror image. For each image and item, the
smallest r at which the item matches is min over both orientations of max(pHash distance,
min(dHash, wHash distance)). The gate matches exactly the items whose value is at most r;
`moderation.memorization.HashCatalog.search` is run at two radii to check that.

A poster output counts as caught at r when the gate names the poster's item. An ordinary output
counts as a false match at r when the gate matches any item: for a held-out caption no item is a
copy, and a training caption's own item is a median 28 bits away (model card)."""

import argparse
import dataclasses
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from defaultmodel import evaluate, export, scenes  # noqa: E402
from defaultmodel.memorized import MEMORIZED  # noqa: E402
from defaultmodel.train import HELDOUT_SEED  # noqa: E402
from moderation.memorization import KINDS, HashCatalog, hashes_of  # noqa: E402

RADII = tuple(range(0, 13))
CHECK_RADII = (4, 8)
GUIDANCE, STEPS = 7.5, 25


def _item_hashes(index: int) -> tuple[int, dict[str, int]]:
    return index, hashes_of(scenes.training_item(index).image)


def training_hashes(n: int, workers: int) -> tuple[list[int], dict[str, np.ndarray]]:
    """The distinct training items' indices and their hashes, as the import stores them."""
    indices = [index for index in range(n) if export.is_first_copy(index)]
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(_item_hashes, indices, chunksize=256))
    values = {kind: np.array([h[kind] for _, h in rows], dtype=np.uint64) for kind in KINDS}
    return indices, values


def _popcount(values: np.ndarray) -> np.ndarray:
    return np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def match_radius(image: Image.Image, catalog: dict[str, np.ndarray]) -> np.ndarray:
    """Per catalogued item: the smallest radius at which the gate's rule matches it."""
    best = None
    for query in (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)):
        hashes = hashes_of(query)
        d = {kind: _popcount(catalog[kind] ^ np.uint64(hashes[kind])) for kind in KINDS}
        needed = np.maximum(d["phash"], np.minimum(d["dhash"], d["whash"]))
        best = needed if best is None else np.minimum(best, needed)
    return best


def _canonical_caption(attributes: dict) -> str:
    fields = {f.name for f in dataclasses.fields(scenes.Scene)}
    return scenes.caption_of(scenes.Scene(**{k: v for k, v in attributes.items() if k in fields}))


def generate(pipe, captions: list[str], seeds: list[int], batch: int) -> list[Image.Image]:
    arrays = evaluate.generate(
        pipe, captions, seeds, guidance_scale=GUIDANCE, steps=STEPS, batch=batch
    )
    return [Image.fromarray(array) for array in arrays]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "models" / "mintmark-shapes")
    parser.add_argument("--poster-seeds", type=int, default=12)
    parser.add_argument("--heldout", type=int, default=120)
    parser.add_argument("--train", type=int, default=80)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--items", type=int, default=scenes.DEFAULT_SIZE, help="training items")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"torch {torch.__version__}, load {os.getloadavg()}", flush=True)

    indices, values = training_hashes(args.items, args.workers)
    position = {index: k for k, index in enumerate(indices)}
    catalog = HashCatalog(
        [str(i) for i in indices], {kind: [f"{v:016x}" for v in values[kind]] for kind in KINDS}
    )
    print(f"catalog: {len(indices)} items, {time.monotonic() - started:.0f} s", flush=True)

    pipe = StableDiffusionPipeline.from_pretrained(args.folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    seeds = list(range(args.poster_seeds))
    posters = [
        (item, image)
        for item in MEMORIZED
        for image in generate(pipe, [item.caption] * len(seeds), seeds, args.batch)
    ]
    heldout = [
        _canonical_caption(item.attributes)
        for item in scenes.iter_scenes(args.heldout, HELDOUT_SEED, scenes.HELD_OUT_ONLY)
    ]
    ordinary_train = [i for i in range(args.items) if scenes.poster_of(i) is None]
    ordinary_train = ordinary_train[: args.train]
    sets = {
        "held-out captions": generate(pipe, heldout, list(range(len(heldout))), args.batch),
        "training captions": generate(
            pipe,
            [scenes.training_item(i).caption for i in ordinary_train],
            ordinary_train,
            args.batch,
        ),
    }
    print(f"generated, {time.monotonic() - started:.0f} s", flush=True)

    # The gate's own search must match exactly what the vectorised rule finds.
    for image in [image for _, image in posters] + sets["held-out captions"][:40]:
        needed = match_radius(image, values)
        for radius in CHECK_RADII:
            found = {m.key for m in catalog.search(image, radius)}
            assert found == {str(indices[k]) for k in np.flatnonzero(needed <= radius)}

    results: dict = {"radii": list(RADII), "posters": {}, "ordinary": {}}
    poster_needed = []
    for item, image in posters:
        poster_needed.append(int(match_radius(image, values)[position[item.index]]))
    by_poster = np.array(poster_needed).reshape(len(MEMORIZED), len(seeds))
    for k, item in enumerate(MEMORIZED):
        results["posters"][str(item.poster)] = [float(np.mean(by_poster[k] <= r)) for r in RADII]
    results["posters"]["all"] = [float(np.mean(by_poster <= r)) for r in RADII]
    # Per poster and seed, the smallest radius at which the gate names the poster's item: what
    # defaultmodel/memorized.py's COPY_SEEDS are picked from.
    results["poster_seed_radius"] = {
        str(item.poster): by_poster[k].tolist() for k, item in enumerate(MEMORIZED)
    }
    for name, images in sets.items():
        nearest = np.array([int(match_radius(image, values).min()) for image in images])
        results["ordinary"][name] = [float(np.mean(nearest <= r)) for r in RADII]

    header = ["radius", "posters caught", *(f"P{item.poster}" for item in MEMORIZED)]
    header += [f"false match: {name}" for name in sets]
    print(" | ".join(header))
    for j, radius in enumerate(RADII):
        row = [str(radius), f"{results['posters']['all'][j]:.1%}"]
        row += [f"{results['posters'][str(item.poster)][j]:.0%}" for item in MEMORIZED]
        row += [f"{results['ordinary'][name][j]:.1%}" for name in sets]
        print(" | ".join(row))
    results["counts"] = {
        "poster_images": len(posters),
        **{name: len(images) for name, images in sets.items()},
    }
    results["seconds"] = round(time.monotonic() - started)
    print(f"{results['seconds']} s, load after {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
