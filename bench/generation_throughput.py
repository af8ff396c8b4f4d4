"""GPU generation throughput: plain diffusers one request at a time vs the worker's batched
path (generation.pipelines.run_batch), same model, same GPU, same run.

    python bench/generation_throughput.py            # full-size SD 1.5 (512 px) and SDXL (1024 px)
    python bench/generation_throughput.py --tiny     # CPU smoke check with the tiny builders

Full-size architectures with random fp16 weights, built in memory (speed does not depend on
the weights' values, and no weights can be downloaded). The worker's database claim and
progress writes are not in the loop: they are a few small queries per batch."""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from diffusers import (  # noqa: E402
    AutoencoderKL,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402

from generation import pipelines  # noqa: E402
from generation.tiny import tiny_sd_pipeline  # noqa: E402
from generation.tokenizer import clip_tokenizer  # noqa: E402

SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
}
PROMPTS = [
    "a red cube on a wooden table, studio light",
    "a watercolor of a lighthouse at dusk",
    "an isometric city block, pastel colours",
    "a macro photo of a dew drop on a leaf",
]


def _vae(sample_size: int, scaling: float) -> AutoencoderKL:
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        latent_channels=4,
        sample_size=sample_size,
        scaling_factor=scaling,
    )


def _clip_l() -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=49408,
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        max_position_embeddings=77,
        hidden_act="quick_gelu",
        projection_dim=768,
    )


def sd15() -> StableDiffusionPipeline:
    unet = UNet2DConditionModel(
        sample_size=64,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=768,
        attention_head_dim=8,
    )
    return StableDiffusionPipeline(
        vae=_vae(512, 0.18215),
        text_encoder=CLIPTextModel(_clip_l()),
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=DPMSolverMultistepScheduler(**SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def sdxl() -> StableDiffusionXLPipeline:
    unet = UNet2DConditionModel(
        sample_size=128,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 10),
        attention_head_dim=(5, 10, 20),
        cross_attention_dim=2048,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
    )
    big_g = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=1280,
        intermediate_size=5120,
        num_hidden_layers=32,
        num_attention_heads=20,
        max_position_embeddings=77,
        hidden_act="gelu",
        projection_dim=1280,
    )
    # One tokenizer for both encoders: SDXL's second pads with "!" instead of the end token,
    # which changes no shape and so no speed.
    return StableDiffusionXLPipeline(
        vae=_vae(1024, 0.13025),
        text_encoder=CLIPTextModel(_clip_l()),
        text_encoder_2=CLIPTextModelWithProjection(big_g),
        tokenizer=clip_tokenizer(),
        tokenizer_2=clip_tokenizer(),
        unet=unet,
        scheduler=DPMSolverMultistepScheduler(**SCHEDULER),
    )


def build(factory, device: str, dtype):
    # Initialised directly on the GPU: a CPU init of SDXL's 3.5 B parameters takes minutes.
    with torch.device(device):
        pipe = factory()
    # Schedulers keep their tables on the CPU; rebuilt outside the device context.
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.to(device=device, dtype=dtype)
    if device == "cuda":
        pipe.unet.to(memory_format=torch.channels_last)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def plain(pipe, requests, *, size, steps, device) -> list[float]:
    """The baseline: one pipeline call per request, in arrival order."""
    latencies = []
    for prompt, seed in requests:
        sync(device)
        start = time.perf_counter()
        pipe(
            prompt=prompt,
            negative_prompt="",
            width=size,
            height=size,
            num_inference_steps=steps,
            guidance_scale=7.5,
            generator=torch.Generator("cpu").manual_seed(seed),
        )
        sync(device)
        latencies.append(time.perf_counter() - start)
    return latencies


def platform(model, requests, *, size, steps, max_batch, device) -> list[float]:
    """The worker's path: requests that are all waiting are taken oldest first in batches of
    up to `max_batch` images, each batch one run_batch call; returns per-batch times."""
    spec = pipelines.BatchSpec(
        mode="text-to-image",
        width=size,
        height=size,
        steps=steps,
        guidance_scale=7.5,
        scheduler="dpmpp_2m",
    )
    progress = []
    times = []
    for start in range(0, len(requests), max_batch):
        batch = [
            pipelines.ImageRequest(prompt=prompt, seed=seed)
            for prompt, seed in requests[start : start + max_batch]
        ]
        sync(device)
        began = time.perf_counter()
        pipelines.run_batch(model, spec, batch, on_step=lambda step, total: progress.append(step))
        sync(device)
        times.append(time.perf_counter() - began)
    return times


def requests_for(n: int, offset: int = 0) -> list[tuple[str, int]]:
    return [(PROMPTS[i % len(PROMPTS)], 1000 + offset + i) for i in range(n)]


def bench_one(name, factory, *, size, steps, n_plain, n_platform, max_batch, device, dtype):
    print(f"[{name}] building", flush=True)
    pipe = build(factory, device, dtype)
    model = pipelines.LoadedModel(pipe)
    print(f"[{name}] warming up", flush=True)
    plain(pipe, requests_for(2, 900), size=size, steps=steps, device=device)
    platform(
        model,
        requests_for(max_batch, 950),
        size=size,
        steps=steps,
        max_batch=max_batch,
        device=device,
    )
    platform(model, requests_for(1, 990), size=size, steps=steps, max_batch=1, device=device)

    print(f"[{name}] plain diffusers, {n_plain} requests one at a time", flush=True)
    plain_lat = plain(pipe, requests_for(n_plain), size=size, steps=steps, device=device)
    print(f"[{name}] platform path, {n_platform} waiting requests", flush=True)
    batch_times = platform(
        model, requests_for(n_platform), size=size, steps=steps, max_batch=max_batch, device=device
    )
    lone = platform(model, requests_for(3, 500), size=size, steps=steps, max_batch=1, device=device)
    plain_ips = n_plain / sum(plain_lat)
    platform_ips = n_platform / sum(batch_times)
    result = {
        "model": name,
        "size": size,
        "steps": steps,
        "max_batch": max_batch,
        "plain_images_per_s": round(plain_ips, 3),
        "platform_images_per_s": round(platform_ips, 3),
        "ratio": round(platform_ips / plain_ips, 2),
        "plain_latency_p50_s": round(statistics.median(plain_lat), 3),
        "platform_lone_latency_p50_s": round(statistics.median(lone), 3),
    }
    print(json.dumps(result), flush=True)
    del model, pipe
    if device == "cuda":
        torch.cuda.empty_cache()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke check, tiny pipelines")
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for results.json")
    args = parser.parse_args()
    if args.tiny:
        cases = [("tiny-sd", tiny_sd_pipeline, 64, 4, 3, 8, 4)]
        device, dtype = "cpu", torch.float32
    else:
        cases = [
            ("sd15-512", sd15, 512, 25, 12, 48, 8),
            ("sdxl-1024", sdxl, 1024, 25, 5, 24, 8),
        ]
        device, dtype = "cuda", torch.float16
        print(torch.cuda.get_device_name(), torch.__version__, flush=True)
    results = [
        bench_one(
            name,
            factory,
            size=size,
            steps=steps,
            n_plain=n_plain,
            n_platform=n_platform,
            max_batch=max_batch,
            device=device,
            dtype=dtype,
        )
        for name, factory, size, steps, n_plain, n_platform, max_batch in cases
    ]
    print(
        "\n| model | plain diffusers, one at a time | platform path (batched) | ratio "
        "| plain latency p50 | platform lone request p50 |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['model']} | {r['plain_images_per_s']} img/s | "
            f"{r['platform_images_per_s']} img/s | {r['ratio']}x | "
            f"{r['plain_latency_p50_s']} s | {r['platform_lone_latency_p50_s']} s |"
        )
    Path(args.out, "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
