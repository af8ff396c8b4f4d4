"""A corpus of real default-model outputs for the watermark benches (bench/watermark_*.py).

    .venv/bin/python bench/default_model_outputs.py --n 3000 --out var/default_outputs.npz
    python bench/default_model_outputs.py --n 3000 --device cuda --batch 500 --out ...

Each image i is what the platform's default request makes (models/mintmark-shapes, 25
DPM-Solver++ steps, guidance 7.5, 64 px) for a caption drawn from the model's own scene
grammar (every colour, shape, count, position, size, texture and background, held-out
combinations included) with generator seed i. The captions come from a fixed seed, so the
same --n gives the same prompts. The file holds `images` (n, 64, 64, 3) uint8, `prompts` and
`seeds`. On a loaded 2-core CPU an image takes several seconds, so 2 000 images are made on a
GPU machine (float32 there too; results differ from CPU ones only by float rounding).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import StableDiffusionPipeline

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from defaultmodel import scenes  # noqa: E402

MODEL = ROOT / "models" / "mintmark-shapes"
CAPTION_SEED = 18


def captions(n: int) -> list[str]:
    rng = np.random.default_rng(CAPTION_SEED)
    return [scenes.caption_of(scenes.sample_scene(rng, scenes.ALL), rng) for _ in range(n)]


@torch.no_grad()
def generate(n: int, device: str, batch: int, start: int = 0) -> tuple[np.ndarray, list[str]]:
    pipe = StableDiffusionPipeline.from_pretrained(MODEL, local_files_only=True).to(device)
    pipe.set_progress_bar_config(disable=True)
    prompts = captions(start + n)[start:]
    images = []
    for first in range(0, n, batch):
        chunk = prompts[first : first + batch]
        seeds = range(start + first, start + first + len(chunk))
        out = pipe(
            chunk,
            num_inference_steps=25,
            guidance_scale=7.5,
            height=64,
            width=64,
            generator=[torch.Generator(device).manual_seed(s) for s in seeds],
            output_type="np",
        ).images
        images.append(np.rint(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8))
        print(f"{first + len(chunk)}/{n} images", flush=True)
    return np.concatenate(images), prompts


def load(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    with np.load(path) as data:
        return data["images"], [str(p) for p in data["prompts"]], data["seeds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    images, prompts = generate(args.n, args.device, args.batch, args.start)
    seeds = np.arange(args.start, args.start + args.n)
    np.savez_compressed(args.out, images=images, prompts=np.array(prompts), seeds=seeds)
    print(f"{len(images)} images in {time.perf_counter() - started:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
