"""The two-stage memorization check (moderation.memorization) on the default model: which copies
of training items it catches, how many ordinary outputs it holds by mistake, and what it costs
per image at 20 000 and at 10 million training items.

    .venv/bin/python bench/memorization_gate.py generate --out /tmp/mm-bench.npz   # CPU, long
    .venv/bin/python bench/memorization_gate.py evaluate --images /tmp/mm-bench.npz \\
        --json bench/data/memorization_gate.json

`generate` makes every image fresh with the shipped model (models/mintmark-shapes) on the CPU,
as the platform runs it (25 DPM-Solver++ steps, guidance 7.5, 64 px, a CPU generator per image):

- ordinary outputs: captions of held-out combinations (never in training) and captions of
  ordinary training items from a range no other bench or test uses, half each;
- the posters' own regurgitations: each poster's caption, seeds 0..N-1 (posters 0 to 4);
- image-to-image outputs built on training items (posters and ordinary items) at strengths
  0.1 to 0.5, prompted with the item's caption, plus the issue's case: a poster downscaled to
  56 px, saved as JPEG q70, edited at strength 0.1 at 56 px.

`evaluate` draws the 19 005 distinct training items (the dataset is a pure function of its seed,
so the bench redraws instead of reading the platform's storage), adds synthetic copies of
posters and random ordinary items (0.5x to 2x scale with JPEG q50 to q90, crops, shifts,
mirror), and runs `memorization_check` under the default policy on everything. A copy counts
as caught when the check names its source item; an ordinary output counts as held when the
check names any item. It then times the candidate search on a synthetic index of 10 million
hashes per kind (clustered like near-duplicate images) to extrapolate the cost at that size."""

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
# Ordinary training captions come from here on: memorization_radius.py uses the first items.
TRAIN_CAPTIONS_FROM = 12_000


def _canonical_caption(attributes: dict) -> str:
    fields = {f.name for f in dataclasses.fields(scenes.Scene)}
    return scenes.caption_of(scenes.Scene(**{k: v for k, v in attributes.items() if k in fields}))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def generate(args) -> None:
    import torch
    from diffusers import AutoPipelineForImage2Image, StableDiffusionPipeline

    from defaultmodel import evaluate

    started = time.monotonic()
    torch.set_num_threads(args.threads)
    pipe = StableDiffusionPipeline.from_pretrained(args.folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    half = args.ordinary // 2
    heldout = [
        _canonical_caption(item.attributes)
        for item in scenes.iter_scenes(half, HELDOUT_SEED + 11, scenes.HELD_OUT_ONLY)
    ]
    train_items = [
        i for i in range(TRAIN_CAPTIONS_FROM, scenes.DEFAULT_SIZE) if scenes.poster_of(i) is None
    ][: args.ordinary - half]
    captions = heldout + [scenes.training_item(i).caption for i in train_items]
    seeds = [500_000 + k for k in range(len(captions))]
    ordinary = evaluate.generate(pipe, captions, seeds, guidance_scale=GUIDANCE, batch=16)
    print(f"ordinary: {len(ordinary)}, {time.monotonic() - started:.0f} s", flush=True)
    poster_caps = [m.caption for m in MEMORIZED for _ in range(args.poster_seeds)]
    poster_seeds = [s for _ in MEMORIZED for s in range(args.poster_seeds)]
    posters = evaluate.generate(pipe, poster_caps, poster_seeds, guidance_scale=GUIDANCE, batch=16)
    poster_items = [m.index for m in MEMORIZED for _ in range(args.poster_seeds)]
    print(f"posters: {len(posters)}, {time.monotonic() - started:.0f} s", flush=True)

    edit = AutoPipelineForImage2Image.from_pipe(pipe)
    edit.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(17)
    sources = [m.index for m in MEMORIZED] + [
        int(i)
        for i in rng.choice(np.arange(TRAIN_CAPTIONS_FROM), args.edit_items, replace=False)
        if scenes.poster_of(int(i)) is None
    ]
    edits, edit_items, edit_labels = [], [], []
    for index in sources:
        item = scenes.training_item(index)
        for strength in STRENGTHS:
            out = edit(
                item.caption,
                image=item.image,
                strength=strength,
                num_inference_steps=STEPS,
                guidance_scale=GUIDANCE,
                generator=torch.Generator("cpu").manual_seed(index),
                output_type="np",
            ).images[0]
            edits.append((out * 255).round().clip(0, 255).astype(np.uint8))
            edit_items.append(index)
            edit_labels.append(f"img2img s{strength}")
    # The case: a poster at 56 px, JPEG q70, edited at strength 0.1 at its own size.
    small = []
    for m in MEMORIZED:
        upload = _jpeg(m.image().resize((56, 56), Image.Resampling.LANCZOS), 70)
        out = edit(
            m.caption,
            image=upload,
            strength=0.1,
            num_inference_steps=STEPS,
            guidance_scale=GUIDANCE,
            generator=torch.Generator("cpu").manual_seed(m.poster),
            output_type="np",
        ).images[0]
        small.append((out * 255).round().clip(0, 255).astype(np.uint8))
    print(f"edits: {len(edits) + len(small)}, {time.monotonic() - started:.0f} s", flush=True)
    np.savez_compressed(
        args.out,
        ordinary=ordinary,
        ordinary_kind=np.array(["held-out"] * len(heldout) + ["training"] * len(train_items)),
        posters=posters,
        poster_items=np.array(poster_items),
        edits=np.stack(edits),
        edit_items=np.array(edit_items),
        edit_labels=np.array(edit_labels),
        small=np.stack(small),
        small_items=np.array([m.index for m in MEMORIZED]),
        seconds=time.monotonic() - started,
    )


def training_set(workers: int) -> tuple[list[int], np.ndarray]:
    indices = [i for i in range(scenes.DEFAULT_SIZE) if export.is_first_copy(i)]
    items = export.draw(indices, scenes.DEFAULT_SEED, workers=workers)
    return indices, np.stack([np.asarray(item.image.convert("RGB")) for item in items])


def synthetic_copies(
    pixels: np.ndarray, keys: list[int], rng
) -> list[tuple[str, int, Image.Image]]:
    """Copies a person would call copies: rescaled and re-compressed, cropped, shifted,
    mirrored; of every poster and of random ordinary items."""
    position = {k: p for p, k in enumerate(keys)}
    ordinary = [k for k in keys if scenes.poster_of(k) is None]
    sources = [m.index for m in MEMORIZED] + [int(k) for k in rng.choice(ordinary, 25, False)]
    out = []
    for key in sources:
        item = Image.fromarray(pixels[position[key]])
        for scale in (0.5, 0.75, 1.5, 2.0):
            side = round(64 * scale)
            for quality in (50, 70, 90):
                resized = item.resize((side, side), Image.Resampling.LANCZOS)
                out.append((f"scale {scale}x JPEG q{quality}", key, _jpeg(resized, quality)))
        for crop in (2, 4, 6):
            out.append(
                (f"crop {crop} px each side", key, item.crop((crop, crop, 64 - crop, 64 - crop)))
            )
            out.append(
                (
                    f"crop {crop} px each side, resized",
                    key,
                    item.crop((crop, crop, 64 - crop, 64 - crop)).resize((64, 64)),
                )
            )
        for shift in (2, 4):
            moved = np.roll(np.asarray(item), shift, axis=1)
            moved[:, :shift] = moved[:, shift : shift + 1]
            out.append((f"shift {shift} px", key, Image.fromarray(moved)))
        out.append(
            ("mirror, JPEG q70", key, _jpeg(item.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 70))
        )
    return out


def evaluate(args) -> None:
    from moderation.copy_detection import canonical
    from moderation.memorization import KINDS, HashCatalog, hashes_of, memorization_check
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

    print(f"catalog {len(keys)} items, {time.monotonic() - started:.0f} s", flush=True)
    rules = MemorizationRules()
    data = np.load(args.images)
    rng = np.random.default_rng(23)
    groups: dict[str, list] = {}

    def check(group: str, image: Image.Image, source: int | None) -> None:
        t0 = time.perf_counter()
        report = memorization_check(image, catalog, loader, rules)
        seconds = time.perf_counter() - t0
        named = [c.candidate.key for c in report.copies]
        best = report.compared[0].similarity if report.compared else None
        hit = str(source) in named if source is not None else bool(named)
        groups.setdefault(group, []).append((hit, seconds, best, report.search.found))

    for array, kind in zip(data["ordinary"], data["ordinary_kind"], strict=True):
        check(f"ordinary: {kind} captions", Image.fromarray(array), None)
    for array, item in zip(data["posters"], data["poster_items"], strict=True):
        check(
            f"model's own copy: poster {scenes.poster_of(int(item))}",
            Image.fromarray(array),
            int(item),
        )
    for array, item, label in zip(
        data["edits"], data["edit_items"], data["edit_labels"], strict=True
    ):
        what = "poster" if scenes.poster_of(int(item)) is not None else "ordinary item"
        check(f"{label}, {what}", Image.fromarray(array), int(item))
    for array, item in zip(data["small"], data["small_items"], strict=True):
        check(
            "img2img s0.1 of a 56 px JPEG q70 poster (the issue's case)",
            Image.fromarray(array),
            int(item),
        )
    for label, item, image in synthetic_copies(pixels, keys, rng):
        what = "poster" if scenes.poster_of(item) is not None else "ordinary item"
        check(f"{label}, {what}", image, item)

    results = {"rules": rules.model_dump(), "groups": {}}
    print("| set | images | caught / held | nearest similarity min / median | ms p50 / p95 |")
    print("| --- | --- | --- | --- | --- |")
    for group, rows in groups.items():
        hits = [r[0] for r in rows]
        ms = np.array([r[1] for r in rows]) * 1000
        sims = [r[2] for r in rows if r[2] is not None]
        results["groups"][group] = {
            "images": len(rows),
            "rate": float(np.mean(hits)),
            "similarity_min": float(min(sims)) if sims else None,
            "similarity_median": float(np.median(sims)) if sims else None,
            "ms_median": float(np.median(ms)),
            "ms_p95": float(np.quantile(ms, 0.95)),
        }
        g = results["groups"][group]
        sim = (
            f"{g['similarity_min']:.3f} / {g['similarity_median']:.3f}" if sims else "none compared"
        )
        print(
            f"| {group} | {len(rows)} | {sum(hits)} ({g['rate']:.1%}) | {sim} | "
            f"{g['ms_median']:.1f} / {g['ms_p95']:.1f} |",
            flush=True,
        )
    results["ten_million"] = ten_million(args, data["ordinary"][:50], rules)
    results["seconds"] = round(time.monotonic() - started)
    results["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def ten_million(args, images: np.ndarray, rules) -> dict:
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
    for array in images:
        image = Image.fromarray(array)
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
    ev = sub.add_parser("evaluate")
    ev.add_argument("--images", type=Path, required=True)
    ev.add_argument("--json", type=Path)
    ev.add_argument("--workers", type=int, default=2)
    ev.add_argument("--synthetic", type=int, default=10_000_000)
    args = parser.parse_args()
    generate(args) if args.command == "generate" else evaluate(args)


if __name__ == "__main__":
    main()
