"""The two-stage memorization check (moderation.memorization) on the default model: which copies
of training items it catches, how many ordinary outputs it holds by mistake, and what it costs
per image at 20 000 and at 10 million training items.

    .venv/bin/python bench/memorization_gate.py generate --out /tmp/mm-bench.npz [--device cuda]
    .venv/bin/python bench/memorization_gate.py evaluate --images /tmp/mm-bench.npz \\
        --json bench/data/memorization_gate.json [--workers N]

Every set is made twice, as a "tune" split (the settings were chosen on it) and a "held-out"
split (only measured), with their own captions, seeds, items and handling.

`generate` makes every image fresh with the shipped model (models/mintmark-shapes), 25
DPM-Solver++ steps, guidance 7.5, each image's noise from a CPU generator seeded with its seed
as the platform draws it (`--device cuda` runs the network on a GPU; the images differ from the
CPU's only by rounding):

- ordinary outputs, per split: captions of held-out combinations (never in training) and
  captions of ordinary training items from a range no other bench or test uses, half each;
- the posters' own regurgitations: each poster's caption, N seeds per split (posters 0 to 4);
- image-to-image outputs built on training items (posters and ordinary items) at strengths
  0.1 to 0.5, prompted with the item's caption; the item uploaded at 32, 48, 56, 96 and 128 px
  as JPEG q50 to q90 and edited at that size at strength 0.1 to 0.3; and the issue's case: a
  poster downscaled to 56 px, saved as JPEG q70, edited at strength 0.1 at 56 px.

`evaluate` draws the 19 005 distinct training items (the dataset is a pure function of its seed,
so the bench redraws instead of reading the platform's storage), adds synthetic copies of
posters and random ordinary items (0.5x to 2x scale with JPEG q50 to q90, crops, shifts,
mirror; other values and items per split), and runs `memorization_check` under the default
policy on everything. A copy counts as caught when the check names its source item; an ordinary
output counts as held when the check names any item. It then times the candidate search on a
synthetic index of 10 million hashes per kind (clustered like near-duplicate images) and models
the cost per image at that size from it and the measured cost of a pixel comparison and of
loading an uncached item."""

import argparse
import dataclasses
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from PIL import Image  # noqa: E402

from defaultmodel import export, scenes  # noqa: E402
from defaultmodel.memorized import MEMORIZED  # noqa: E402
from defaultmodel.train import HELDOUT_SEED  # noqa: E402

GUIDANCE, STEPS = 7.5, 25
STRENGTHS = (0.1, 0.2, 0.3, 0.4, 0.5)
UPLOAD_SIDES = (32, 48, 56, 96, 128)
# Every set is made twice: "tune" chose the settings, "held-out" only measured them.
SPLITS = ("tune", "held-out")
# Ordinary training captions come from here on: memorization_radius.py uses the first items.
TRAIN_CAPTIONS_FROM = 12_000


def _canonical_caption(attributes: dict) -> str:
    fields = {f.name for f in dataclasses.fields(scenes.Scene)}
    return scenes.caption_of(scenes.Scene(**{k: v for k, v in attributes.items() if k in fields}))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _edit(edit, caption: str, image: Image.Image, strength: float, seed: int) -> np.ndarray:
    import torch

    out = edit(
        caption,
        image=image,
        strength=strength,
        num_inference_steps=STEPS,
        guidance_scale=GUIDANCE,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
    ).images[0]
    return (out * 255).round().clip(0, 255).astype(np.uint8)


def generate(args) -> None:
    import torch
    from diffusers import AutoPipelineForImage2Image, StableDiffusionPipeline

    from defaultmodel import evaluate

    started = time.monotonic()
    torch.set_num_threads(args.threads)
    pipe = StableDiffusionPipeline.from_pretrained(args.folder, local_files_only=True)
    pipe.to(args.device)
    pipe.set_progress_bar_config(disable=True)
    arrays: dict[str, list] = {}

    def add(split: str, group: str, item: int, image: np.ndarray) -> None:
        arrays.setdefault("images", []).append(image)
        arrays.setdefault("image_split", []).append(split)
        arrays.setdefault("image_group", []).append(group)
        arrays.setdefault("image_item", []).append(item)

    # Ordinary outputs: per split, half held-out combinations, half ordinary training captions,
    # each split its own captions and seeds (tuning never sees the held-out split's images).
    half = args.ordinary // 2
    train_items = [
        i for i in range(TRAIN_CAPTIONS_FROM, scenes.DEFAULT_SIZE) if scenes.poster_of(i) is None
    ]
    for s, split in enumerate(SPLITS):
        heldout = [
            _canonical_caption(item.attributes)
            for item in scenes.iter_scenes(half, HELDOUT_SEED + 11 + s, scenes.HELD_OUT_ONLY)
        ]
        mine = train_items[s * (args.ordinary - half) : (s + 1) * (args.ordinary - half)]
        captions = heldout + [scenes.training_item(i).caption for i in mine]
        seeds = [500_000 + 200_000 * s + k for k in range(len(captions))]
        images = evaluate.generate(pipe, captions, seeds, guidance_scale=GUIDANCE, batch=64)
        for k, image in enumerate(images):
            kind = "held-out" if k < len(heldout) else "training"
            add(split, f"ordinary: {kind} captions", -1, image)
        print(f"ordinary {split}: {len(images)}, {time.monotonic() - started:.0f} s", flush=True)
    # The posters' own regurgitations: seeds 0..N-1 tune, N..2N-1 are held out.
    n = args.poster_seeds
    for s, split in enumerate(SPLITS):
        caps = [m.caption for m in MEMORIZED for _ in range(n)]
        seeds = [s * n + k for _ in MEMORIZED for k in range(n)]
        images = evaluate.generate(pipe, caps, seeds, guidance_scale=GUIDANCE, batch=64)
        for m_seed, image in zip([m for m in MEMORIZED for _ in range(n)], images, strict=True):
            add(split, f"model's own copy: poster {m_seed.poster}", m_seed.index, image)

    edit = AutoPipelineForImage2Image.from_pipe(pipe)
    edit.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(17)
    ordinary_sources = [
        int(i)
        for i in rng.choice(np.arange(TRAIN_CAPTIONS_FROM), 2 * args.edit_items, replace=False)
        if scenes.poster_of(int(i)) is None
    ]
    for s, split in enumerate(SPLITS):
        sources = [m.index for m in MEMORIZED] + ordinary_sources[s::2]
        for index in sources:
            item = scenes.training_item(index)
            what = "poster" if scenes.poster_of(index) is not None else "ordinary item"
            for strength in STRENGTHS:
                image = _edit(edit, item.caption, item.image, strength, index + 1000 * s)
                add(split, f"img2img s{strength}, {what}", index, image)
            # An upload rescaled and re-compressed before the edit, edited at its own size (the
            # issue's case is 56 px, JPEG q70, strength 0.1).
            for side in UPLOAD_SIDES:
                quality = int(rng.choice((50, 60, 70, 80, 90)))
                strength = float(rng.choice((0.1, 0.2, 0.3)))
                upload = _jpeg(item.image.resize((side, side), Image.Resampling.LANCZOS), quality)
                image = _edit(edit, item.caption, upload, strength, index + 1000 * s + side)
                add(split, f"img2img of a {side} px JPEG upload, s0.1-0.3, {what}", index, image)
        print(f"edits {split}: {time.monotonic() - started:.0f} s", flush=True)
    # The issue's own case, exactly: each poster at 56 px, JPEG q70, edited at strength 0.1.
    for m in MEMORIZED:
        upload = _jpeg(m.image().resize((56, 56), Image.Resampling.LANCZOS), 70)
        image = _edit(edit, m.caption, upload, 0.1, m.poster)
        add("tune", "img2img s0.1 of a 56 px JPEG q70 poster (the issue's case)", m.index, image)
    np.savez_compressed(
        args.out,
        images=np.array(arrays["images"], dtype=object),
        image_split=np.array(arrays["image_split"]),
        image_group=np.array(arrays["image_group"]),
        image_item=np.array(arrays["image_item"]),
        seconds=time.monotonic() - started,
        device=args.device,
    )
    print(f"saved {len(arrays['images'])} images, {time.monotonic() - started:.0f} s", flush=True)


def training_set(workers: int) -> tuple[list[int], np.ndarray]:
    indices = [i for i in range(scenes.DEFAULT_SIZE) if export.is_first_copy(i)]
    items = export.draw(indices, scenes.DEFAULT_SEED, workers=workers)
    return indices, np.stack([np.asarray(item.image.convert("RGB")) for item in items])


# Synthetic handling per split: the held-out split uses other scales, qualities, crops and
# shifts, and other ordinary items, than the split the settings were chosen on.
HANDLING = {
    "tune": {
        "scales": (0.5, 0.75, 1.5, 2.0),
        "qualities": (50, 70, 90),
        "crops": (2, 4, 6),
        "shifts": (2, 4),
    },
    "held-out": {
        "scales": (0.6, 0.9, 1.25, 1.75),
        "qualities": (55, 65, 85),
        "crops": (3, 5),
        "shifts": (3, 5),
    },
}


def synthetic_copies(
    pixels: np.ndarray, keys: list[int], rng
) -> list[tuple[str, str, int, Image.Image]]:
    """Copies a person would call copies: rescaled and re-compressed, cropped, shifted,
    mirrored; of every poster and of 25 random ordinary items per split."""
    position = {k: p for p, k in enumerate(keys)}
    ordinary = [k for k in keys if scenes.poster_of(k) is None]
    picked = [int(k) for k in rng.choice(ordinary, 50, False)]
    out = []
    for s, split in enumerate(SPLITS):
        how = HANDLING[split]
        for key in [m.index for m in MEMORIZED] + picked[s::2]:
            item = Image.fromarray(pixels[position[key]])
            for scale in how["scales"]:
                side = round(64 * scale)
                for quality in how["qualities"]:
                    resized = item.resize((side, side), Image.Resampling.LANCZOS)
                    out.append(
                        (split, f"scale {scale}x JPEG q{quality}", key, _jpeg(resized, quality))
                    )
            for crop in how["crops"]:
                box = (crop, crop, 64 - crop, 64 - crop)
                out.append((split, f"crop {crop} px each side", key, item.crop(box)))
                out.append(
                    (
                        split,
                        f"crop {crop} px each side, resized",
                        key,
                        item.crop(box).resize((64, 64)),
                    )
                )
            for shift in how["shifts"]:
                moved = np.roll(np.asarray(item), shift, axis=1)
                moved[:, :shift] = moved[:, shift : shift + 1]
                out.append((split, f"shift {shift} px", key, Image.fromarray(moved)))
            mirror = _jpeg(item.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 70)
            out.append((split, "mirror, JPEG q70", key, mirror))
    return out


_STATE: dict = {}


def _check(job: tuple) -> tuple:
    from moderation.memorization import memorization_check

    split, group, item, image = job
    t0 = time.perf_counter()
    report = memorization_check(image, _STATE["catalog"], _STATE["loader"], _STATE["rules"])
    seconds = time.perf_counter() - t0
    named = [c.candidate.key for c in report.copies]
    hit = str(item) in named if item >= 0 else bool(named)
    best = report.compared[0] if report.compared else None
    nearest = [
        (c.candidate.key, round(c.similarity, 4), round(c.neighbour_ratio, 3))
        for c in report.compared[:6]
    ]
    return (
        split,
        group,
        hit,
        seconds,
        best.similarity if best else None,
        best.neighbour_ratio if best else None,
        len(report.compared),
        item,
        nearest,
    )


def evaluate(args) -> None:
    from multiprocessing import get_context

    import cv2

    from moderation.copy_detection import canonical
    from moderation.memorization import KINDS, HashCatalog, hashes_of
    from policies.rules import MemorizationRules

    started = time.monotonic()
    keys, pixels = training_set(args.workers)
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

    # What a candidate costs to load when it is not in the cache (at 10 million items most are
    # not): PNG decode and canonical form, timed on 200 items.
    t0 = time.perf_counter()
    for p in range(200):
        buffer = io.BytesIO()
        Image.fromarray(pixels[p]).save(buffer, format="PNG")
        canonical(Image.open(io.BytesIO(buffer.getvalue())))
    load_ms = (time.perf_counter() - t0) / 200 * 1000
    print(f"catalog {len(keys)} items, {time.monotonic() - started:.0f} s", flush=True)
    rules = MemorizationRules()
    data = np.load(args.images, allow_pickle=True)
    jobs = [
        (str(split), str(group), int(item), Image.fromarray(image))
        for image, split, group, item in zip(
            data["images"],
            data["image_split"],
            data["image_group"],
            data["image_item"],
            strict=True,
        )
    ]
    for split, label, item, image in synthetic_copies(pixels, keys, np.random.default_rng(23)):
        what = "poster" if scenes.poster_of(item) is not None else "ordinary item"
        jobs.append((split, f"{label}, {what}", item, image))
    _STATE.update(catalog=catalog, loader=loader, rules=rules)
    # One thread per worker process: the cost per image is then one core's.
    cv2.setNumThreads(1)
    with get_context("fork").Pool(args.workers) as pool:
        rows = pool.map(_check, jobs, chunksize=8)

    groups: dict[tuple[str, str], list] = {}
    for row in rows:
        groups.setdefault((row[1], row[0]), []).append(row[2:])
    results = {"rules": rules.model_dump(), "workers": args.workers, "groups": []}
    print("| set | split | images | caught / held | best similarity, ratio (median) | ms p50 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (group, split), found in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "tune")
    ):
        hits = [r[0] for r in found]
        ms = np.array([r[1] for r in found]) * 1000
        sims = [r[2] for r in found if r[2] is not None]
        ratios = [r[3] for r in found if r[3] is not None]
        g = {
            "set": group,
            "split": split,
            "images": len(found),
            "hits": int(sum(hits)),
            "similarity_median": float(np.median(sims)) if sims else None,
            "ratio_median": float(np.median(ratios)) if ratios else None,
            "compared_median": float(np.median([r[4] for r in found])),
            "ms_median": float(np.median(ms)),
            "ms_p95": float(np.quantile(ms, 0.95)),
        }
        results["groups"].append(g)
        near = f"{g['similarity_median']:.3f}, {g['ratio_median']:.2f}" if sims else "none compared"
        print(
            f"| {group} | {split} | {len(found)} | {g['hits']} ({g['hits'] / len(found):.1%}) | "
            f"{near} | {g['ms_median']:.0f} |",
            flush=True,
        )
    per_image = np.array([r[3] for r in rows]) * 1000
    compared = np.array([r[6] for r in rows])
    # The pixel stage's cost per candidate compared, from every image that compared any.
    some = compared > 0
    per_candidate = float(np.median(per_image[some] / compared[some]))
    results["cost"] = {
        "ms_per_image_median": float(np.median(per_image)),
        "ms_per_image_p95": float(np.quantile(per_image, 0.95)),
        "compared_median": float(np.median(compared)),
        "ms_per_candidate": per_candidate,
        "ms_per_item_load": load_ms,
    }
    results["ten_million"] = ten_million(args, [j[3] for j in jobs[:50]], rules)
    # At 10 million items every image fills its candidate cap, and few candidates are cached.
    results["ten_million"]["modelled_ms_per_image"] = results["ten_million"][
        "search_ms_median"
    ] + rules.candidates * (per_candidate + load_ms)
    print(f"cost: {results['cost']}", flush=True)
    print(f"10M: {results['ten_million']}", flush=True)
    results["seconds"] = round(time.monotonic() - started)
    results["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.records:
        # One line an image: what a rule is tuned on (each image's nearest items compared).
        with args.records.open("w") as out:
            for split, group, hit, _, _, _, _, item, nearest in rows:
                record = {"split": split, "group": group, "item": item, "hit": hit}
                out.write(json.dumps({**record, "nearest": nearest}) + "\n")


def ten_million(args, images: list, rules) -> dict:
    """Candidate search at 10M: one HammingIndex per hash kind over clustered synthetic hashes
    (2 000 centres, each bit flipped with probability 0.05), the image's and its mirror's
    hashes searched at the policy's candidate radius on each kind, as the gate does."""
    from moderation.hamming import HammingIndex
    from moderation.memorization import KINDS, hashes_of

    rng = np.random.default_rng(7)
    n = args.synthetic
    indexes, nbytes, build = {}, 0, 0.0
    for kind in KINDS:
        centres = rng.integers(0, 2**63, 2000, dtype=np.int64).view(np.uint64)
        members = centres[rng.integers(0, 2000, n)]
        flips = np.zeros(n, dtype=np.uint64)
        for bit in range(64):
            flips |= (rng.random(n) < 0.05).astype(np.uint64) << np.uint64(bit)
        t0 = time.perf_counter()
        indexes[kind] = HammingIndex(members ^ flips, np.arange(n, dtype=np.int64))
        build += time.perf_counter() - t0
        nbytes += indexes[kind].nbytes
        del members, flips
    times, found = [], []
    for image in images:
        queries = (hashes_of(image), hashes_of(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
        t0 = time.perf_counter()
        hits = set()
        for query in queries:
            for kind in KINDS:
                hits.update(p for p, _ in indexes[kind].search(query[kind], rules.candidate_radius))
        times.append(time.perf_counter() - t0)
        found.append(len(hits))
    out = {
        "items": n,
        "index_bytes": nbytes,
        "build_s": round(build, 1),
        "search_ms_median": float(np.median(times) * 1000),
        "search_ms_p95": float(np.quantile(times, 0.95) * 1000),
        "found_median": float(np.median(found)),
    }
    print(f"10M candidate search: {out}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--folder", type=Path, default=ROOT / "models" / "mintmark-shapes")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--ordinary", type=int, default=1000)
    gen.add_argument("--poster-seeds", type=int, default=8)
    gen.add_argument("--edit-items", type=int, default=10)
    gen.add_argument("--threads", type=int, default=os.cpu_count())
    gen.add_argument("--device", default="cpu")
    ev = sub.add_parser("evaluate")
    ev.add_argument("--images", type=Path, required=True)
    ev.add_argument("--json", type=Path)
    ev.add_argument("--records", type=Path, help="JSON lines: every image's nearest items")
    ev.add_argument("--workers", type=int, default=2)
    ev.add_argument("--synthetic", type=int, default=10_000_000)
    args = parser.parse_args()
    generate(args) if args.command == "generate" else evaluate(args)


if __name__ == "__main__":
    main()
