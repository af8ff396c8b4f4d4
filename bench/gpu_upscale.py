"""The x4 upscaler on a GPU (issue #22 part 4): plain diffusers, one image at a time, against the
platform's path on the same pipeline object (the folder loaded by generation.pipelines.
PipelineCache as the worker loads it, then generation.upscaling.run_upscale with the requests
batched), on the full-size stabilityai/stable-diffusion-x4-upscaler architecture with random
weights (nothing is downloaded), float16, SDPA, eager.

    # the tokenizer: generation.tokenizer.clip_tokenizer().save_pretrained(FOLDER), made
    # where open-clip-torch is installed; diffusers as for gpu_generation.py (bench/README.md)
    python3 bench/gpu_upscale.py --tokenizer FOLDER --out $OUT
    python bench/gpu_upscale.py --tiny   # CPU smoke run (tests/test_bench_gpu_upscale.py)

The architecture is the released folder's configs written out here (UNet: 7 input channels,
blocks 256/512/512/1024, attention over the text only in the three high-resolution blocks, 1000
noise-level class embeddings; VAE: 3 blocks decoding 4x; text: OpenCLIP ViT-H's 23-layer, 1024
wide encoder; DDIM with v-prediction)."""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DDPMScheduler,
    StableDiffusionUpscalePipeline,
    UNet2DConditionModel,
)
from PIL import Image
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from generation import pipelines, upscaling
from generation.tiny import tiny_upscaler_pipeline
from generation.weights import weights_sha256

SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "scaled_linear",
}


def full_size(tokenizer: CLIPTokenizer) -> StableDiffusionUpscalePipeline:
    unet = UNet2DConditionModel(
        sample_size=128,
        in_channels=7,
        out_channels=4,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * 3,
        up_block_types=("CrossAttnUpBlock2D",) * 3 + ("UpBlock2D",),
        block_out_channels=(256, 512, 512, 1024),
        layers_per_block=2,
        attention_head_dim=8,
        cross_attention_dim=1024,
        use_linear_projection=True,
        only_cross_attention=(True, True, True, False),
        num_class_embeds=1000,
    )
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(128, 256, 512),
        layers_per_block=2,
        latent_channels=4,
        sample_size=256,
        scaling_factor=0.08333,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=1024,
            intermediate_size=4096,
            num_hidden_layers=23,
            num_attention_heads=16,
            max_position_embeddings=77,
            hidden_act="gelu",
            projection_dim=1024,
        )
    )
    return StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tokenizer,
        unet=unet,
        low_res_scheduler=DDPMScheduler(**SCHEDULE),
        scheduler=DDIMScheduler(
            **SCHEDULE,
            prediction_type="v_prediction",
            clip_sample=False,
            set_alpha_to_one=False,
            steps_offset=1,
        ),
        max_noise_level=350,
    )


def inputs(count: int, side: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 200, side, dtype=np.float32)
    images = []
    for _ in range(count):
        pixels = (
            ramp[None, :, None] + ramp[:, None, None] * 0.3 + rng.normal(0, 20, (side, side, 3))
        )
        images.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))
    return images


def timed(call) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    began = time.perf_counter()
    call()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--tokenizer", help="a saved CLIPTokenizer folder (full size only)")
    parser.add_argument("--side", type=int, default=128, help="input side; output is 4x")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--images", type=int, default=4, help="requests per batch")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.tiny:
        args.side, args.steps, args.images = min(args.side, 16), min(args.steps, 2), 2
    device = pipelines.device_default()
    folder = Path(tempfile.mkdtemp()) / "x4"
    began = time.perf_counter()
    if args.tiny:
        tiny_upscaler_pipeline().save_pretrained(folder, safe_serialization=True)
    else:
        with torch.device(device):
            pipe = full_size(CLIPTokenizer.from_pretrained(args.tokenizer))
        pipe.to(torch.float16).save_pretrained(folder, safe_serialization=True)
        del pipe
    built = time.perf_counter() - began
    cache = pipelines.PipelineCache(max_bytes=2**40, device=device)
    began = time.perf_counter()
    model = cache.get("x4", folder, weights_sha256(folder))
    loaded = time.perf_counter() - began
    pipe = model.text_to_image
    spec = pipelines.BatchSpec(
        mode=pipelines.UPSCALE,
        width=args.side * 4,
        height=args.side * 4,
        steps=args.steps,
        guidance_scale=9.0,
        scheduler="ddim",
    )
    images = inputs(args.images, args.side)
    requests = [
        pipelines.ImageRequest(prompt=f"a photo, detail {i}", seed=i, init_image=image)
        for i, image in enumerate(images)
    ]

    def plain(request):
        # What an application does with diffusers alone: one call per image.
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        return pipe(
            prompt=request.prompt,
            image=request.init_image,
            num_inference_steps=args.steps,
            guidance_scale=9.0,
            noise_level=upscaling.NOISE_LEVEL,
            generator=torch.Generator("cpu").manual_seed(request.seed),
        ).images[0]

    plain(requests[0])  # warm-up: cuDNN algorithm choice, allocator
    upscaling.run_upscale(model, spec, requests[:1])
    plain_each = [timed(lambda r=r: plain(r)) for r in requests]
    lone = [timed(lambda: upscaling.run_upscale(model, spec, requests[:1])) for _ in range(3)]
    batch = [timed(lambda: upscaling.run_upscale(model, spec, requests)) for _ in range(2)]
    results = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "tiny": args.tiny,
        "input": f"{args.side}x{args.side}",
        "output": f"{args.side * 4}x{args.side * 4}",
        "steps": args.steps,
        "build_and_save_s": round(built, 1),
        "load_s": round(loaded, 1),
        "plain_one_at_a_time_images_per_s": round(len(requests) / sum(plain_each), 3),
        "plain_latency_p50_s": round(statistics.median(plain_each), 3),
        "platform_lone_request_p50_s": round(statistics.median(lone), 3),
        "platform_batch_images_per_s": round(len(requests) / min(batch), 3),
        "platform_batch_size": len(requests),
        "max_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if torch.cuda.is_available()
        else None,
    }
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_upscale.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
