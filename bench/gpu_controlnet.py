"""ControlNet on the GPU: plain diffusers' ControlNet pipeline, one call per request (the
baseline), against the worker's path (`generation.pipelines.run_batch` with a job's ControlNet
entry: the ControlNet folder verified by digest and loaded, diffusers' ControlNet pipeline
derived from the resident model with `from_pipe`, requests of one ControlNet batched with their
own control images), same model, same GPU, same run.

    PYTHONUNBUFFERED=1 python bench/gpu_controlnet.py --out $OUT   # CUDA: SD 1.5 @ 512, SDXL @ 1024
    python bench/gpu_controlnet.py --tiny --out /tmp/cn            # CPU smoke check, tiny models

Full-size architectures with random weights, as bench/gpu_generation.py builds them (fp16), each
with a ControlNet made by `ControlNetModel.from_unet` (the shape ControlNet training starts from:
the UNet's encoder, 361 M parameters for SD 1.5, 1.25 B for SDXL) and saved as a folder, since
the worker loads ControlNets from registered folders. Measured: a lone request's latency, images
per second for `--requests` requests (plain: one call each; platform: batches of up to
`--max-batch`), and the largest pixel difference between a request's image in a batch and the
same request alone on the platform path. Prints a markdown table; writes results.json."""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_generation
import numpy as np
import torch
from diffusers import AutoPipelineForText2Image, ControlNetModel
from PIL import Image, ImageDraw

from generation import pipelines
from generation.tiny import tiny_controlnet, tiny_sd_pipeline, tiny_sdxl_pipeline
from generation.weights import weights_sha256

PROMPTS = gpu_generation.PROMPTS


def control_image(seed: int, size: int) -> Image.Image:
    """White outlines on black, as Canny edges look: a few random rectangles and ellipses."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.integers(0, size * 3 // 4, 2)
        width, height = rng.integers(size // 8, size // 4, 2)
        x1, y1 = x0 + width, y0 + height
        shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
        shape((int(x0), int(y0), int(x1), int(y1)), outline=(255, 255, 255), width=2)
    return image


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(device: str, call) -> float:
    sync(device)
    start = time.perf_counter()
    call()
    sync(device)
    return time.perf_counter() - start


def bench(name, pipe, controlnet, *, size, steps, device, requests, max_batch, folder) -> dict:
    controlnet.save_pretrained(folder, safe_serialization=True)
    entry = {"sha256": weights_sha256(folder), "path": str(folder), "scale": 1.0}
    plain = AutoPipelineForText2Image.from_pipe(pipe, controlnet=controlnet)
    plain.set_progress_bar_config(disable=True)
    model = pipelines.LoadedModel(pipe)
    # The platform runs the folder's scheduler as the job names it; plain diffusers the one the
    # pipeline was built with (the same class and config).
    scheduler = "dpmpp_2m"
    spec = pipelines.BatchSpec(
        mode="text-to-image",
        width=size,
        height=size,
        steps=steps,
        guidance_scale=gpu_generation.GUIDANCE,
        scheduler=scheduler,
        controlnet=entry,
    )
    controls = [control_image(i, size) for i in range(requests)]
    asks = [
        pipelines.ImageRequest(prompt=PROMPTS[i % len(PROMPTS)], seed=i, control_image=controls[i])
        for i in range(requests)
    ]

    def plain_call(i):
        return plain(
            prompt=asks[i].prompt,
            image=controls[i],
            width=size,
            height=size,
            num_inference_steps=steps,
            guidance_scale=gpu_generation.GUIDANCE,
            controlnet_conditioning_scale=1.0,
            generator=torch.Generator("cpu").manual_seed(asks[i].seed),
        )

    load_s = timed(device, lambda: pipelines.run_batch(model, spec, asks[:1]))  # loads it
    plain_call(0)  # warm-up
    lone_plain = statistics.median(timed(device, lambda: plain_call(0)) for _ in range(3))
    solo = {}

    def platform_one():
        solo[0] = pipelines.run_batch(model, spec, asks[:1])[0]

    lone_platform = statistics.median(timed(device, platform_one) for _ in range(3))
    plain_s = timed(device, lambda: [plain_call(i) for i in range(requests)])
    batched = []

    def platform_all():
        for start in range(0, requests, max_batch):
            batched.extend(pipelines.run_batch(model, spec, asks[start : start + max_batch]))

    platform_s = timed(device, platform_all)
    diff = np.abs(
        np.asarray(batched[0], dtype=np.int16) - np.asarray(solo[0], dtype=np.int16)
    ).max()
    return {
        "model": name,
        "size": size,
        "steps": steps,
        "requests": requests,
        "max_batch": max_batch,
        "controlnet_parameters": sum(p.numel() for p in controlnet.parameters()),
        "controlnet_load_and_first_image_s": load_s,
        "lone_plain_s": lone_plain,
        "lone_platform_s": lone_platform,
        "plain_images_per_s": requests / plain_s,
        "platform_images_per_s": requests / platform_s,
        "ratio": plain_s / platform_s,
        "batched_vs_solo_max_pixel_diff": int(diff),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke check, tiny models")
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for results.json")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=8)
    args = parser.parse_args()
    device = "cpu" if args.tiny else "cuda"

    def full(factory):
        pipe = gpu_generation.build(factory, device, torch.float16)
        return pipe, ControlNetModel.from_unet(pipe.unet).to(device, torch.float16)

    if args.tiny:
        cases = [
            ("tiny-sd15", lambda: (tiny_sd_pipeline(0), tiny_controlnet("sd15")), 32, 2),
            ("tiny-sdxl", lambda: (tiny_sdxl_pipeline(0), tiny_controlnet("sdxl")), 32, 2),
        ]
    else:
        cases = [
            ("sd15", lambda: full(gpu_generation.full_sd15), 512, 25),
            ("sdxl", lambda: full(gpu_generation.full_sdxl), 1024, 25),
        ]
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        # One model at a time on the GPU: each is built, measured and dropped.
        for name, make, size, steps in cases:
            pipe, controlnet = make()
            pipe.set_progress_bar_config(disable=True)
            pipe.scheduler = pipelines.SCHEDULERS["dpmpp_2m"].from_config(pipe.scheduler.config)
            result = bench(
                name,
                pipe,
                controlnet,
                size=size,
                steps=steps,
                device=device,
                requests=args.requests,
                max_batch=args.max_batch,
                folder=Path(scratch) / name,
            )
            print(json.dumps(result), flush=True)
            results.append(result)
            del pipe, controlnet
            pipelines.free_memory()
    device_name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"device": device_name, "results": results}, indent=2)
    )
    print(f"\n{device_name}\n")
    print(
        "| model | size, steps | lone plain s | lone platform s | plain img/s | platform img/s "
        "| platform / plain | batched vs solo max px diff |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['model']} + ControlNet | {r['size']}, {r['steps']} | {r['lone_plain_s']:.2f} "
            f"| {r['lone_platform_s']:.2f} | {r['plain_images_per_s']:.2f} "
            f"| {r['platform_images_per_s']:.2f} | {r['ratio']:.2f} "
            f"| {r['batched_vs_solo_max_pixel_diff']} |"
        )


if __name__ == "__main__":
    main()
