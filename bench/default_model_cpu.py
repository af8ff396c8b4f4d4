"""CPU speed of the default model (models/mintmark-shapes) and of drawing and hashing its dataset.

    .venv/bin/python bench/default_model_cpu.py                 # 25 steps at 64 px, 3 repeats
    .venv/bin/python bench/default_model_cpu.py --dataset 2000  # also draw + hash 2 000 items

The model part loads the folder with a bare `StableDiffusionPipeline.from_pretrained` (float32,
the folder's DPM-Solver++ scheduler) and times whole `pipe(...)` calls: 25 steps, guidance
7.5 (classifier-free guidance, so the UNet runs on a batch of 2), one 64 px image. In the same
run it times the parts: one text encoding, one UNet call on the guidance batch, one VAE
decode, so the split is visible. The dataset part draws training items, encodes each as PNG
and hashes the bytes with `licensing.hashing.image_hashes` (sha256, pHash, dHash, wHash), what
`manage.py import_dataset` does per item, and extrapolates to the 20 000-item set.

The load average before and after is printed: on a shared machine the figures are only as good
as the quiet they were taken in."""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from defaultmodel import scenes  # noqa: E402
from licensing.hashing import image_hashes  # noqa: E402

PROMPT = "three small striped red stars at the top on a black background"


def _median_time(work, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


@torch.no_grad()
def bench_model(folder: Path, steps: int, repeats: int) -> None:
    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)

    def generate(n_steps: int = steps):
        return pipe(
            PROMPT,
            num_inference_steps=n_steps,
            guidance_scale=7.5,
            height=64,
            width=64,
            generator=torch.Generator("cpu").manual_seed(0),
        ).images[0]

    generate(3)  # first call: allocator and kernel warm-up, not timed
    median, best = _median_time(generate, repeats)
    ids = pipe.tokenizer(
        [PROMPT, ""], padding="max_length", max_length=pipe.tokenizer.model_max_length,
        return_tensors="pt",
    ).input_ids  # fmt: skip
    hidden = pipe.text_encoder(ids)[0]
    latents = torch.randn(2, pipe.unet.config.in_channels, 16, 16)
    text, _ = _median_time(lambda: pipe.text_encoder(ids), repeats)
    unet, _ = _median_time(lambda: pipe.unet(latents, 500, hidden), max(repeats, 5))
    decode, _ = _median_time(lambda: pipe.vae.decode(latents[:1]), repeats)
    print(f"pipe({steps} steps, 64 px, guidance 7.5): median {median:.2f} s, best {best:.2f} s")
    print(
        f"  parts: text encoder {text * 1000:.0f} ms (both prompts), "
        f"UNet {unet * 1000:.0f} ms a step x {steps} = {unet * steps:.2f} s, "
        f"VAE decode {decode * 1000:.0f} ms; UNet share {unet * steps / median:.0%}"
    )


def bench_dataset(n: int) -> None:
    drawing = encoding = hashing = 0.0
    for index in range(n):
        started = time.perf_counter()
        item = scenes.training_item(index)
        drawn = time.perf_counter()
        buffer = io.BytesIO()
        item.image.save(buffer, format="PNG")
        encoded = time.perf_counter()
        image_hashes(buffer.getvalue())
        hashed = time.perf_counter()
        drawing += drawn - started
        encoding += encoded - drawn
        hashing += hashed - encoded
    total = drawing + encoding + hashing
    scale = scenes.DEFAULT_SIZE / n
    print(
        f"dataset, {n} items, one process: draw {drawing / n * 1000:.2f} ms, PNG "
        f"{encoding / n * 1000:.2f} ms, hashes {hashing / n * 1000:.2f} ms an item; "
        f"{scenes.DEFAULT_SIZE} items: {total * scale:.0f} s (draw {drawing * scale:.0f} s, "
        f"PNG {encoding * scale:.0f} s, hash {hashing * scale:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "models" / "mintmark-shapes")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--dataset", type=int, default=0, help="also draw and hash N items")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, load {os.getloadavg()}")
    bench_model(args.folder, args.steps, args.repeats)
    if args.dataset:
        bench_dataset(args.dataset)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
