"""The watermark and the fingerprint registry on real outputs of the default model, at the size
release stamps them (64 px enlarged to 256 px by provenance.stamping.release_canvas), and on
synthetic 512 and 1024 px images released beside them.

    .venv/bin/python bench/watermark_default_model.py \\
        --corpus var/default_outputs/default_outputs_0.npz \\
        --unrelated var/default_outputs/default_outputs_{2000,4000,6000,8000}.npz \\
        --synthetic 2000 --released-synthetic 512:200 1024:50 --workers 16 \\
        --json bench/watermark_default_model.json

The corpora are made by bench/default_model_outputs.py (on a GPU machine: minutes; on the CPU
an image takes seconds). For every corpus image a random 32-bit payload is embedded exactly as
release does (`watermark.embed` with one installation key); an EmbedFailed is a release that
would have failed. Every marked image, the synthetic ones included, is registered in one
fingerprint registry (`provenance.fingerprint.register`, searched by `fingerprint.identify` as
verify does). Each attack is then applied to every marked image, followed by JPEG q85 (a
re-encode is what sharing does after an edit), and the copy counts as identified:
- by the watermark when the decoded payload is the image's own;
- by the fingerprint when the registry's confirmed match is the image's own;
- by either, when one of the two holds. A copy whose watermark or best fingerprint match names
  ANOTHER asset is counted as misidentified.
The unrelated images (other seeds and captions of the same model, and synthetic photos-like
images) are never released; any payload decoded from them, or any registry match, is a false
identification. With --twins N, the never-released twins of the first N released images of the
corpus and of each synthetic set (their own pixels, unmarked, cropped or rotated) are queried
too: the closest a never-released image can come. Work is spread over --workers processes.
"""

import argparse
import io
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.default_model_outputs import load  # noqa: E402
from provenance import fingerprint, watermark  # noqa: E402
from provenance.stamping import release_canvas  # noqa: E402
from provenance.watermark_samples import synthetic_image  # noqa: E402

KEY = b"bench installation watermark key, 32 bytes"


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _crop(share: float):
    """Cut `share` of each dimension, half off each side; not resized back."""

    def crop(image: Image.Image) -> Image.Image:
        dx, dy = round(image.width * share / 2), round(image.height * share / 2)
        return image.crop((dx, dy, image.width - dx, image.height - dy))

    return crop


def _rotate(degrees: float):
    """Rotate and cut to the largest centred upright rectangle, as editors' straighten does."""

    def rotate(image: Image.Image) -> Image.Image:
        turned = image.rotate(degrees, Image.Resampling.BICUBIC, expand=False)
        a = np.radians(abs(degrees))
        w, h = image.size
        keep = 1.0 / (np.cos(a) + np.sin(a) * max(w, h) / min(w, h))
        dx, dy = round(w * (1 - keep) / 2), round(h * (1 - keep) / 2)
        return turned.crop((dx, dy, w - dx, h - dy))

    return rotate


def _screenshot(image: Image.Image) -> Image.Image:
    """What a screenshot of the image on a 1.25x display gives: bilinear rescale up, then PNG."""
    w, h = image.size
    return image.resize((round(w * 1.25), round(h * 1.25)), Image.Resampling.BILINEAR)


def _contrast(factor: float):
    return lambda image: ImageEnhance.Contrast(image).enhance(factor)


def _brightness(factor: float):
    return lambda image: ImageEnhance.Brightness(image).enhance(factor)


ATTACKS = {
    "none": None,
    "JPEG q75": lambda image: _jpeg(image, 75),
    "JPEG q50": lambda image: _jpeg(image, 50),
    "brightness +10%": _brightness(1.1),
    "brightness -10%": _brightness(0.9),
    "contrast +10%": _contrast(1.1),
    "contrast -10%": _contrast(0.9),
    "crop 5%": _crop(0.05),
    "crop 10%": _crop(0.10),
    "crop 20%": _crop(0.20),
    "rotate 1°": _rotate(1.0),
    "rotate 2°": _rotate(2.0),
    "screenshot 1.25x": _screenshot,
}
# Every attack but "none" and the plain JPEGs is followed by JPEG q85.
REENCODE = 85

_state: dict = {}


def _attacked(name: str, image: Image.Image) -> Image.Image:
    attack = ATTACKS[name]
    if attack is None:
        return image
    out = attack(image)
    return out if name.startswith("JPEG") else _jpeg(out, REENCODE)


def _embed(job: tuple[int, np.ndarray, int]) -> tuple[int, int, np.ndarray | None, float, float]:
    index, pixels, payload = job
    canvas = release_canvas(Image.fromarray(pixels))
    started = time.perf_counter()
    try:
        marked = watermark.embed(canvas, payload, key=KEY)
    except watermark.EmbedFailed:
        return index, payload, None, 0.0, 0.0
    took = time.perf_counter() - started
    toned = watermark.headroom(np.asarray(canvas)).astype(np.float64)
    mse = float(np.mean((np.asarray(marked, np.float64) - toned) ** 2))
    return index, payload, np.asarray(marked), 10 * np.log10(255.0**2 / max(mse, 1e-9)), took


def _marked(image: Image.Image):
    """The placed watermark read that verify gives fingerprint.identify."""
    payloads = _state["payloads"]

    def agreement(key: str, placement: np.ndarray, host: np.ndarray) -> int:
        return watermark.placed_agreement(image, payloads[key], placement, key=KEY, host=host)

    return agreement


def _identify(image: Image.Image) -> tuple[int | None, str | None]:
    payload = watermark.decode(image, key=KEY).payload
    thumbnails = _state["thumbnails"]
    found = fingerprint.identify(
        fingerprint.query(image),
        _state["index"],
        lambda keys: {k: thumbnails[k] for k in keys},
        _marked(image),
    )
    return payload, (found.key if found is not None else None)


def _attack_one(job: tuple[int, np.ndarray, int]) -> dict[str, tuple[bool, bool, bool, bool]]:
    """Per attack: (by watermark, by fingerprint, watermark names another, fingerprint does)."""
    index, pixels, payload = job
    marked = Image.fromarray(pixels)
    out = {}
    for name in ATTACKS:
        got, key = _identify(_attacked(name, marked))
        out[name] = (
            got == payload,
            key == str(index),
            got is not None and got != payload,
            key is not None and key != str(index),
        )
    return out


def _unrelated_one(pixels: np.ndarray) -> tuple:
    """(a payload decoded, the fingerprint identified it, its closest candidate's distance, the
    key it named or None, placed watermark reads made, the most code bits one agreed on).
    Every candidate is confirmed, and read where it is within a MARKED distance, by the rule
    identify applies (fingerprint.needed_agreement), to give the margins."""
    return _unrelated_image(release_canvas(Image.fromarray(pixels)))


def _twin_one(job: tuple[str, np.ndarray]) -> tuple:
    """A released image's twin that was never released (its canvas, unmarked), attacked: the
    closest a never-released image can come (pixels as close as the released image's own
    attacked copy); _unrelated_one's tuple."""
    name, canvas = job
    return _unrelated_image(_attacked(name, Image.fromarray(canvas)))


def _unrelated_image(image: Image.Image) -> tuple:
    got = watermark.decode(image, key=KEY).payload
    query = fingerprint.query(image)
    thumbnails, marked = _state["thumbnails"], _marked(image)
    named, closest, reads, most = None, 1.0, 0, 0
    for key, _, mirrored in _state["index"].candidates(query):
        confirmed = fingerprint.confirm(query, thumbnails[key], mirrored)
        closest = min(closest, confirmed.distance)
        need = fingerprint.needed_agreement(confirmed.distance)
        if need is None:
            continue
        agreeing = 155
        if need:
            host = np.asarray(Image.open(io.BytesIO(thumbnails[key])).convert("RGB"))
            placement = fingerprint.refined_placement(image, host, confirmed.placement)
            agreeing = marked(key, placement, host)
            reads, most = reads + 1, max(most, agreeing)
        if named is None and agreeing >= need:
            named = key
    return got is not None, named is not None, closest, named, reads, most


def _regeneration(marked: dict, payloads: dict, n: int, strength: float) -> dict:
    """Image-to-image through the default model itself at a low strength (bench/
    watermark_robustness.py's Regenerator: resized to the model's 64 px, 20 steps, empty
    prompt), in this process: it repaints every pixel."""
    from bench.watermark_robustness import Regenerator

    regenerate = Regenerator(str(ROOT / "models" / "mintmark-shapes"), strength)
    hits = []
    for index in sorted(marked)[:n]:
        got, key = _identify(regenerate(Image.fromarray(marked[index]), index))
        hits.append(
            (
                got == payloads[index],
                key == str(index),
                got not in (None, payloads[index]),
                key not in (None, str(index)),
            )
        )
    cells = np.array(hits)
    return {
        "watermark": float(cells[:, 0].mean()),
        "fingerprint": float(cells[:, 1].mean()),
        "either": float((cells[:, 0] | cells[:, 1]).mean()),
        "misidentified_by_watermark": int(cells[:, 2].sum()),
        "misidentified_by_fingerprint": int(cells[:, 3].sum()),
        "images": len(hits),
        "strength": strength,
    }


def _registry(marked: dict, payloads: dict) -> None:
    registered = {str(k): fingerprint.register(Image.fromarray(v)) for k, v in marked.items()}
    _state["index"] = fingerprint.Index([(k, r.windows) for k, r in registered.items()])
    _state["thumbnails"] = {k: r.thumbnail for k, r in registered.items()}
    _state["payloads"] = {str(k): p for k, p in payloads.items()}


def _rows(per_image: list[dict], keys: list[int]) -> dict:
    """Each attack's shares, and the keys of the images that neither signal identified."""
    table = {}
    for name in ATTACKS:
        cells = np.array([result[name] for result in per_image])
        either = cells[:, 0] | cells[:, 1]
        table[name] = {
            "watermark": float(cells[:, 0].mean()),
            "fingerprint": float(cells[:, 1].mean()),
            "either": float(either.mean()),
            "misidentified_by_watermark": int(cells[:, 2].sum()),
            "misidentified_by_fingerprint": int(cells[:, 3].sum()),
            "missed": [key for key, hit in zip(keys, either, strict=True) if not hit],
        }
    return table


TWIN_ATTACKS = ["crop 5%", "crop 10%", "crop 20%", "rotate 1°", "rotate 2°"]


def _twins(n: int, images: np.ndarray, sets: list) -> list[tuple[str, np.ndarray]]:
    """The unmarked canvases of the first n released corpus images and of each synthetic set,
    under each of TWIN_ATTACKS."""
    canvases = [np.asarray(release_canvas(Image.fromarray(px))) for px in images[:n]]
    canvases += [px for _, items in sets for _, px in items[:n]]
    return [(name, canvas) for canvas in canvases for name in TWIN_ATTACKS]


def _synthetic_set(spec: str, offset: int) -> tuple[str, list]:
    """`SIZE:N`: N synthetic images of SIZE px (provenance.watermark_samples), keys from
    `offset` on so they never collide with the corpus's."""
    size, n = (int(part) for part in spec.split(":"))
    return f"synthetic {size} px", [
        (offset + i, np.asarray(synthetic_image(90_000 + offset + i, size))) for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="released set (npz)")
    parser.add_argument("--embed-only", type=Path, nargs="*", default=[], help="more corpora")
    parser.add_argument("--unrelated", type=Path, nargs="*", default=[])
    parser.add_argument("--synthetic", type=int, default=6000, help="unrelated synthetic images")
    parser.add_argument(
        "--released-synthetic",
        nargs="*",
        default=[],
        metavar="SIZE:N",
        help="also release N synthetic SIZE px images (own rows in the table)",
    )
    parser.add_argument("--n", type=int, default=0, help="first n of the corpus (0: all)")
    parser.add_argument(
        "--twins",
        type=int,
        default=0,
        help="also query the never-released twins (unmarked, cropped or rotated) of the first N "
        "released images of the corpus and of each synthetic set",
    )
    parser.add_argument(
        "--attacked",
        type=int,
        default=0,
        help="attack only the first N released images of the corpus (0: all); all are "
        "registered, so the false identifications are against the whole registry",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--regen", type=int, default=0, help="regenerate the first N marked images (img2img)"
    )
    parser.add_argument("--regen-strength", type=float, default=0.25)
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()
    images, _, seeds = load(args.corpus)
    if args.n:
        images, seeds = images[: args.n], seeds[: args.n]
    rng = np.random.default_rng(18)
    jobs = [(i, images[i], int(rng.integers(0, 2**32))) for i in range(len(images))]
    extra = [im for path in args.embed_only for im in load(path)[0]]
    extra_jobs = [(-1 - i, im, int(rng.integers(0, 2**32))) for i, im in enumerate(extra)]
    specs = args.released_synthetic
    sets = [_synthetic_set(spec, 1_000_000 * (k + 1)) for k, spec in enumerate(specs)]
    set_jobs = [(i, im, int(rng.integers(0, 2**32))) for _, items in sets for i, im in items]

    with ProcessPoolExecutor(args.workers) as pool:
        embedded = list(pool.map(_embed, jobs + extra_jobs, chunksize=32))
        embedded_sets = list(pool.map(_embed, set_jobs, chunksize=4))
    failures = [(int(seeds[i]) if i >= 0 else i, p) for i, p, m, _, _ in embedded if m is None]
    marked = {i: m for i, _, m, _, _ in embedded if m is not None and i >= 0}
    psnrs = [q for i, _, m, q, _ in embedded if m is not None]
    embed_s = [t for _, _, m, _, t in embedded if m is not None]
    print(f"embedded {len(embedded)} images, {len(failures)} failures: {failures[:20]}", flush=True)
    marked_sets = {i: m for i, _, m, _, _ in embedded_sets if m is not None}
    set_failures = [i for i, _, m, _, _ in embedded_sets if m is None]

    # One registry holds every released image: the corpus and the synthetic sets.
    payloads = {i: p for i, p, m, _, _ in embedded + embedded_sets if m is not None and i >= 0}
    _registry({**marked, **marked_sets}, payloads)
    with ProcessPoolExecutor(args.workers) as pool:
        attacked = list(marked)[: args.attacked or None]
        per_image = list(
            pool.map(_attack_one, [(i, marked[i], payloads[i]) for i in attacked], chunksize=16)
        )
        set_keys = {name: [i for i, _ in items if i in marked_sets] for name, items in sets}
        per_set = {
            name: list(
                pool.map(
                    _attack_one,
                    [(i, marked_sets[i], payloads[i]) for i in set_keys[name]],
                    chunksize=2,
                )
            )
            for name, _ in sets
        }
    n = len(per_image)
    table = _rows(per_image, attacked)

    if args.regen:
        table["regeneration"] = _regeneration(marked, payloads, args.regen, args.regen_strength)

    unrelated = [im for path in args.unrelated for im in load(path)[0]]
    synthetic = [
        np.asarray(synthetic_image(s, 256)) for s in range(60_000, 60_000 + args.synthetic)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        false = list(pool.map(_unrelated_one, unrelated + synthetic, chunksize=64))
    twins = _twins(args.twins, images, sets)
    with ProcessPoolExecutor(args.workers) as pool:
        twin_results = list(pool.map(_twin_one, twins, chunksize=4))
    flags = np.array([f[:2] for f in false] or [(False, False)], dtype=bool)
    model_false, synth_false = flags[: len(unrelated)], flags[len(unrelated) :]
    closest = np.array([f[2] for f in false] or [1.0])
    reads = np.array([f[4] for f in false] or [0])
    most = np.array([f[5] for f in false] or [0])
    # Which unrelated image the fingerprint took for which released one, to look at.
    named = [
        {"unrelated": i, "model_output": i < len(unrelated), "registered": f[3], "distance": f[2]}
        for i, f in enumerate(false)
        if f[3] is not None
    ]
    result = {
        "corpus": str(args.corpus),
        "images": n,
        "embedded": len(embedded),
        "embed_failures": failures,
        "psnr_vs_headroom": {
            "mean": float(np.mean(psnrs)),
            "min": float(np.min(psnrs)),
            "p1": float(np.percentile(psnrs, 1)),
        },
        "embed_ms_median": 1000 * float(np.median(embed_s)),
        "attacks": table,
        "released_synthetic": {
            name: {"images": len(rows), "attacks": _rows(rows, set_keys[name])}
            for name, rows in per_set.items()
        },
        "released_synthetic_embed_failures": set_failures,
        "reencode_after_attack": f"JPEG q{REENCODE}",
        "fingerprint": {
            "method": fingerprint.METHOD,
            "alone_distance": fingerprint.ALONE_DISTANCE,
            "marked": fingerprint.MARKED,
            "registered": len(marked) + len(marked_sets),
        },
        "unrelated": {
            "default_model_outputs": len(unrelated),
            "synthetic_256px": len(synthetic),
            "false_by_watermark": int(model_false[:, 0].sum() + synth_false[:, 0].sum()),
            "false_by_fingerprint_model_outputs": int(model_false[:, 1].sum()),
            "false_by_fingerprint_synthetic": int(synth_false[:, 1].sum()),
            "false_by_fingerprint_named": named,
            # How close the closest candidate came, against fingerprint.ALONE_DISTANCE.
            "closest_distance": {
                "min": float(closest.min()),
                "p01": float(np.percentile(closest, 0.1)),
                "p1": float(np.percentile(closest, 1)),
            },
            # Candidates within a MARKED distance read for the watermark where they were placed,
            # and the most code bits (of 155) any of them agreed on (chance: 77.5).
            "placed_reads": int(reads.sum()),
            "placed_most_agreeing": int(most.max()),
        },
        "never_released_twins": {
            "queries": len(twin_results),
            "attacks": TWIN_ATTACKS,
            "false_by_watermark": sum(bool(t[0]) for t in twin_results),
            "false_by_fingerprint": sum(bool(t[1]) for t in twin_results),
            "false_by_fingerprint_named": [
                {"query": i, "attack": twins[i][0], "registered": t[3], "distance": t[2]}
                for i, t in enumerate(twin_results)
                if t[3] is not None
            ],
            "within_old_limit_0_04": sum(t[2] <= 0.04 for t in twin_results),
            "placed_reads": sum(t[4] for t in twin_results),
            "placed_most_agreeing": max((t[5] for t in twin_results), default=0),
        },
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "seconds": round(time.perf_counter() - started),
    }
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


HEADER = (
    "| attack (then JPEG q85) | watermark | fingerprint | either | named another (mark/print) |"
)


def _print_rows(title: str, rows: dict) -> None:
    print(f"\n{title}\n")
    print(HEADER)
    print("| --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        print(
            f"| {name} | {row['watermark']:.3f} | {row['fingerprint']:.3f} | {row['either']:.3f} "
            f"| {row['misidentified_by_watermark']} / {row['misidentified_by_fingerprint']} |"
        )


def print_table(result: dict) -> None:
    _print_rows(
        f"{result['images']} default-model outputs at 256 px ({result['embedded']} embedded, "
        f"{len(result['embed_failures'])} embed failures); PSNR against the headroom-toned image "
        f"mean {result['psnr_vs_headroom']['mean']:.1f} dB, "
        f"min {result['psnr_vs_headroom']['min']:.1f}",
        result["attacks"],
    )
    for name, released in result.get("released_synthetic", {}).items():
        _print_rows(f"{released['images']} {name} images", released["attacks"])
    u = result["unrelated"]
    print(
        f"\nUnrelated images: {u['default_model_outputs']} other default-model outputs and "
        f"{u['synthetic_256px']} synthetic 256 px images; false identifications by the watermark "
        f"{u['false_by_watermark']}, by the fingerprint {u['false_by_fingerprint_model_outputs']} "
        f"(model outputs) and {u['false_by_fingerprint_synthetic']} (synthetic)."
    )


if __name__ == "__main__":
    main()
