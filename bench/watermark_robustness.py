"""Robustness, quality and speed of Mintmark's watermark against the packaged embedders.

    .venv/bin/python bench/watermark_robustness.py                # about 15 minutes on 2 cores
    .venv/bin/python bench/watermark_robustness.py --quick        # a smoke run, about a minute
    .venv/bin/python bench/watermark_robustness.py --regen-model /path/to/diffusers/folder

Every method gets the same images and the same random 32-bit payloads. A payload counts as
recovered only if it is decoded exactly. The images are deterministic synthetic ones
(provenance/watermark_samples.py), since no trained model weights exist on the machines this
was written on; see bench/README.md. Prints markdown tables; nothing is written to disk.
Real outputs of the default model, at the size release stamps them, with crops, rotations,
contrast, screenshots, the fingerprint registry and false identifications, are measured by
bench/watermark_default_model.py (which writes its figures as JSON).
"""

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provenance import watermark
from provenance.watermark_samples import synthetic_image

Attack = Callable[[Image.Image], Image.Image]


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _half(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.BICUBIC)


def _crop10(image: Image.Image) -> Image.Image:
    """Cut 5 % off every side (10 % of each dimension), without resizing back."""
    dx, dy = image.width // 20, image.height // 20
    return image.crop((dx, dy, image.width - dx, image.height - dy))


ATTACKS: dict[str, Attack] = {
    "none": lambda im: im,
    "JPEG q90": lambda im: _jpeg(im, 90),
    "JPEG q75": lambda im: _jpeg(im, 75),
    "JPEG q50": lambda im: _jpeg(im, 50),
    "resize 1/2": _half,
    "q50 then 1/2": lambda im: _half(_jpeg(im, 50)),
    "1/2 then q50": lambda im: _jpeg(_half(im), 50),
    "crop 10%": _crop10,
    "bright +10%": lambda im: ImageEnhance.Brightness(im).enhance(1.1),
    "bright -10%": lambda im: ImageEnhance.Brightness(im).enhance(0.9),
}


@dataclass
class Method:
    name: str
    embed: Callable[[Image.Image, int], Image.Image]
    # (payload or None, confidence or None when the method reports none)
    decode: Callable[[Image.Image, tuple[int, int]], tuple[int | None, float | None]]
    min_side: int
    sizes: tuple[str, ...]
    # What the stamped image is compared with for PSNR: Mintmark compresses highlights first
    # (watermark.headroom), a visible tone change of its own that is not the mark's noise.
    reference: Callable[[Image.Image], Image.Image] = lambda image: image


def _imwatermark(kind: str) -> Method:
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    def bits(payload: int) -> list[int]:
        return [(payload >> (31 - i)) & 1 for i in range(32)]

    def embed(image: Image.Image, payload: int) -> Image.Image:
        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", bits(payload))
        bgr = encoder.encode(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR), kind)
        return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def decode(image: Image.Image, original_size: tuple[int, int]) -> tuple[int | None, None]:
        # These embedders are not scale-invariant: give them the original size back, which a real
        # verifier would have to guess.
        if image.size != original_size:
            image = image.resize(original_size, Image.Resampling.BICUBIC)
        bgr = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
        try:
            got = WatermarkDecoder("bits", 32).decode(bgr, kind)
        except RuntimeError:  # it refuses images under 256 x 256 pixels of area
            return None, None
        return int("".join(str(int(b)) for b in got), 2), None

    # 1024 px is left out: dwtDctSvd takes over a second per call there.
    return Method(f"imwatermark {kind}", embed, decode, 256, ("512", "256"))


def _mintmark_decode(
    image: Image.Image, _original_size: tuple[int, int]
) -> tuple[int | None, float]:
    reading = watermark.decode(image)
    return reading.payload, reading.confidence


def _mintmark() -> Method:
    return Method(
        f"Mintmark {watermark.ALGORITHM}",
        watermark.embed,
        _mintmark_decode,
        watermark.MIN_SIDE,
        ("512", "256", "1024", "128", "64", "64 up to 256"),
        lambda image: Image.fromarray(watermark.headroom(np.asarray(image.convert("RGB")))),
    )


@dataclass
class Row:
    method: str
    size: str
    images: int = 0
    refused: int = 0
    hits: dict[str, int] = field(default_factory=dict)
    psnr: list[float] = field(default_factory=list)
    encode_ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)
    confidence: dict[str, list[float]] = field(default_factory=dict)


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _payload(seed: int) -> int:
    return int(np.random.default_rng([seed, 7]).integers(0, 2**32))


class Regenerator:
    """Image-to-image through a diffusers pipeline at a low strength: it repaints the pixels."""

    def __init__(self, path: str, strength: float) -> None:
        import torch
        from diffusers import AutoPipelineForImage2Image

        self.torch = torch
        self.pipe = AutoPipelineForImage2Image.from_pretrained(path).to("cpu")
        self.pipe.set_progress_bar_config(disable=True)
        scale = getattr(self.pipe, "vae_scale_factor", 8)
        self.size = int(self.pipe.unet.config.sample_size) * scale
        self.strength = strength

    def __call__(self, image: Image.Image, seed: int) -> Image.Image:
        small = image.resize((self.size, self.size), Image.Resampling.BICUBIC)
        out = self.pipe(
            prompt="",
            image=small,
            strength=self.strength,
            num_inference_steps=20,
            guidance_scale=1.0,
            generator=self.torch.Generator("cpu").manual_seed(seed),
        ).images[0]
        return out.convert("RGB")


def _phash_matches(a: Image.Image, b: Image.Image, threshold: int) -> bool:
    import imagehash

    return imagehash.phash(a) - imagehash.phash(b) <= threshold


def run_method(
    method: Method, images: list[tuple[int, Image.Image]], size: str, regen: dict | None
) -> Row:
    row = Row(method.name, size)
    for seed, image in images:
        payload = _payload(seed)
        row.images += 1
        if min(image.size) < method.min_side:
            row.refused += 1
            continue
        t0 = time.perf_counter()
        try:
            marked = method.embed(image, payload)
        except ValueError:
            row.refused += 1
            continue
        row.encode_ms.append(1000 * (time.perf_counter() - t0))
        row.psnr.append(psnr(method.reference(image), marked))
        for name, attack in ATTACKS.items():
            attacked = attack(marked)
            t0 = time.perf_counter()
            got, confidence = method.decode(attacked, image.size)
            if confidence is not None:
                row.confidence.setdefault(name, []).append(confidence)
            if name == "none":
                row.decode_ms.append(1000 * (time.perf_counter() - t0))
            row.hits[name] = row.hits.get(name, 0) + (got == payload)
        if regen is not None:
            regenerated = regen["model"](marked, seed)
            by_mark = method.decode(regenerated, image.size)[0] == payload
            by_hash = _phash_matches(image, regenerated, regen["threshold"])
            row.hits["regen: watermark"] = row.hits.get("regen: watermark", 0) + by_mark
            row.hits["regen: phash"] = row.hits.get("regen: phash", 0) + by_hash
            row.hits["regen: either"] = row.hits.get("regen: either", 0) + (by_mark or by_hash)
    return row


def false_positives(images: list[Image.Image], marked: list[Image.Image]) -> tuple[int, int]:
    """Payloads read from unwatermarked images, and from marked ones with another key."""
    hits = sum(watermark.decode(im).payload is not None for im in images)
    wrong_key = b"a different organisation's key"
    hits += sum(watermark.decode(im, key=wrong_key).payload is not None for im in marked)
    return hits, len(images) + len(marked)


def interleaved_timing(methods: list[Method], images: list[tuple[int, Image.Image]]) -> None:
    """Median encode and decode ms per method, taking turns image by image so that load from
    other processes falls on every method alike; prints ratios to the first method."""
    times: dict[str, tuple[list[float], list[float]]] = {m.name: ([], []) for m in methods}
    for seed, image in images:
        for method in methods:
            t0 = time.perf_counter()
            marked = method.embed(image, _payload(seed))
            t1 = time.perf_counter()
            method.decode(marked, image.size)
            t2 = time.perf_counter()
            times[method.name][0].append(1000 * (t1 - t0))
            times[method.name][1].append(1000 * (t2 - t1))
    base = statistics.median(a + b for a, b in zip(*times[methods[0].name], strict=True))
    print(f"\nInterleaved timing, {len(images)} images at {images[0][1].width} px, one process:\n")
    print("| method | encode ms | decode ms | encode + decode ms | relative |")
    print("| --- | --- | --- | --- | --- |")
    for name, (enc, dec) in times.items():
        both = statistics.median(a + b for a, b in zip(enc, dec, strict=True))
        print(
            f"| {name} | {statistics.median(enc):.1f} | {statistics.median(dec):.1f} "
            f"| {both:.1f} | {both / base:.2f} |"
        )


def _fmt_rate(row: Row, name: str) -> str:
    done = row.images - row.refused
    if done == 0:
        return "refused"
    return f"{row.hits.get(name, 0) / done:.3f}"


def print_table(rows: list[Row], regen_note: str) -> None:
    attack_cols = list(ATTACKS)
    head = ["method", "size", "n", *attack_cols, "regen (mark / phash / either)", "PSNR mean (min)"]
    head += ["encode ms", "decode ms"]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join("---" for _ in head) + " |")
    for row in rows:
        done = row.images - row.refused
        n = f"{done}" + (f" ({row.refused} refused)" if row.refused else "")
        cells = [row.method, row.size, n, *(_fmt_rate(row, a) for a in attack_cols)]
        if "regen: watermark" in row.hits and done:
            cells.append(
                " / ".join(
                    _fmt_rate(row, k) for k in ("regen: watermark", "regen: phash", "regen: either")
                )
            )
        else:
            cells.append(regen_note)
        if done:
            cells.append(f"{statistics.mean(row.psnr):.1f} ({min(row.psnr):.1f})")
            cells.append(f"{statistics.median(row.encode_ms):.0f}")
            cells.append(f"{statistics.median(row.decode_ms):.0f}")
        else:
            cells += ["-", "-", "-"]
        print("| " + " | ".join(cells) + " |")


def print_confidence(rows: list[Row]) -> None:
    """How far from failing the reads were: the decoder's confidence is the share of the code's
    correction capacity left unused (1.0: no wrong symbol; reads fail past 10 wrong symbols,
    about 0.17). Failed reads count as 0."""
    print("\nMintmark reading confidence, median / 1st percentile / lowest:\n")
    cols = list(ATTACKS)
    print("| size | " + " | ".join(cols) + " |")
    print("| --- | " + " | ".join("---" for _ in cols) + " |")
    for row in rows:
        if not row.confidence:
            continue
        cells = []
        for name in cols:
            values = np.array(row.confidence[name])
            low = np.percentile(values, 1)
            cells.append(f"{np.median(values):.2f} / {low:.2f} / {values.min():.2f}")
        print(f"| {row.size} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n512", type=int, default=200, help="images at 512 px")
    parser.add_argument("--n256", type=int, default=50, help="images at 256 px")
    parser.add_argument("--n1024", type=int, default=25, help="images at 1024 px")
    parser.add_argument("--nsmall", type=int, default=50, help="images at 128 px and at 64 px")
    parser.add_argument("--nfp", type=int, default=500, help="extra unwatermarked images (256 px)")
    parser.add_argument("--ntiming", type=int, default=30, help="512 px images for the timing")
    parser.add_argument("--quick", action="store_true", help="a few images of each kind")
    parser.add_argument("--regen-model", help="diffusers folder for the regeneration attack")
    parser.add_argument("--regen-strength", type=float, default=0.25)
    parser.add_argument("--phash-threshold", type=int, default=10, help="Hamming, of 64 bits")
    parser.add_argument("--no-baselines", action="store_true", help="skip imwatermark rows")
    args = parser.parse_args()
    if args.quick:
        args.n512, args.n256, args.n1024, args.nsmall, args.nfp = 8, 4, 2, 4, 20
        args.ntiming = 8

    regen = None
    regen_note = "not run"
    if args.regen_model:
        model = Regenerator(args.regen_model, args.regen_strength)
        regen = {"model": model, "threshold": args.phash_threshold}
        regen_note = "-"
        print(f"regeneration: {args.regen_model} at {model.size} px, strength {model.strength}")

    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} CPUs", flush=True)
    t_start = time.perf_counter()
    small = [(s, synthetic_image(s, 64)) for s in range(40_000, 40_000 + args.nsmall)]
    sets = {
        "512": [(s, synthetic_image(s, 512)) for s in range(args.n512)],
        "256": [(s, synthetic_image(s, 256)) for s in range(10_000, 10_000 + args.n256)],
        "1024": [(s, synthetic_image(s, 1024)) for s in range(20_000, 20_000 + args.n1024)],
        "128": [(s, synthetic_image(s, 128)) for s in range(30_000, 30_000 + args.nsmall)],
        "64": small,
        # What a small model's output could be released as: upscaled before it is stamped.
        "64 up to 256": [(s, im.resize((256, 256), Image.Resampling.LANCZOS)) for s, im in small],
    }
    methods = [_mintmark()]
    if not args.no_baselines:
        methods = [_imwatermark("dwtDct"), _imwatermark("dwtDctSvd"), *methods]
    rows = []
    for method in methods:
        for size in method.sizes:
            images = sets[size]
            print(f"  {method.name} @ {size} px ...", file=sys.stderr, flush=True)
            rows.append(run_method(method, images, size, regen))

    print(f"\nload average at end: {os.getloadavg()}, {time.perf_counter() - t_start:.0f} s\n")
    print_table(rows, regen_note)
    print_confidence(rows)

    interleaved_timing(methods[::-1], sets["512"][: args.ntiming])
    print(f"load average after timing: {os.getloadavg()}")

    clean = [im for size in ("512", "256", "1024") for _, im in sets[size]]
    clean += [synthetic_image(s, 256) for s in range(50_000, 50_000 + args.nfp)]
    marked = [watermark.embed(im, _payload(s)) for s, im in sets["512"]]
    hits, trials = false_positives(clean, marked)
    print(
        f"\nFalse positives (Mintmark): {hits} of {trials} decodes returned a payload "
        f"({len(clean)} unwatermarked images, {len(marked)} marked images read with a wrong key); "
        f"theoretical rate per decode {watermark.false_positive_rate():.1e}."
    )


if __name__ == "__main__":
    main()
