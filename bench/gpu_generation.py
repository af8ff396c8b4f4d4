"""GPU generation benchmark: plain diffusers, one call per request (the baseline), against the
platform's worker path (compatible queued requests batched, oldest first, up to 8 images, each
batch one `generation.pipelines.run_batch` call), same model, same GPU, same run.

    PYTHONUNBUFFERED=1 python bench/gpu_generation.py           # CUDA: SD 1.5 @ 512, SDXL @ 1024
    python bench/gpu_generation.py --models sd3,flux            # CUDA: SD3 medium, Flux-dev @ 1024
    python bench/gpu_generation.py --tiny                       # CPU smoke check, tiny pipelines

Full-size architectures (diffusers' configs of stable-diffusion-v1-5, stable-diffusion-xl-
base-1.0, stable-diffusion-3-medium-diffusers and FLUX.1-dev) with random weights, built in
memory on the GPU (fp16 for SD, bf16 for SD3 and Flux, as they are served): speed does not
depend on the weights' values, and a checkpoint of up to 33 GB on disk is not needed.
`LoadedModel` wraps the in-memory pipeline directly instead of `PipelineCache.get` loading a
folder; the one thing that load adds (a UNet in channels-last memory) is applied here the same
way. No Django, no database, no
Celery: the worker's claim of the batch and its progress writes are a few small queries per
batch and are replaced by a callback that does the same rate limiting without the query.

Prints progress, a markdown table last, and writes results.json into --out ($OUT if set)."""

import argparse
import copy
import hashlib
import io
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import diffusers
import torch
import transformers
from diffusers import (
    AutoencoderKL,
    DPMSolverMultistepScheduler,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
    SD3Transformer2DModel,
    StableDiffusion3Pipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    T5Config,
    T5EncoderModel,
)

from generation import pipelines
from generation.tiny import (
    FLUX_SCHEDULER_CONFIG,
    SD3_SCHEDULER_CONFIG,
    tiny_flux_pipeline,
    tiny_sd3_pipeline,
    tiny_sd_pipeline,
    tiny_sdxl_pipeline,
)
from generation.tokenizer import clip_tokenizer, tiny_t5_tokenizer

# What the worker reads from settings, at their defaults (platform/mintmark/settings.py).
GPU_MAX_BATCH_IMAGES = 8
GPU_BATCH_WINDOW_MS = 25
PROGRESS_MIN_INTERVAL_S = 0.25

GUIDANCE = 7.5
SCHEDULER_NAME = "dpmpp_2m"  # generation/schedulers.py: DPMSolverMultistepScheduler

# --- Architectures: the config.json values of the released diffusers folders --------------------

# stable-diffusion-v1-5/unet/config.json (the keys left out equal the class defaults).
SD15_UNET = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    center_input_sample=False,
    flip_sin_to_cos=True,
    freq_shift=0,
    down_block_types=(
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    downsample_padding=1,
    mid_block_scale_factor=1,
    act_fn="silu",
    norm_num_groups=32,
    norm_eps=1e-5,
    cross_attention_dim=768,
    attention_head_dim=8,
)

# stable-diffusion-v1-5/vae and stable-diffusion-xl-base-1.0/vae: the same network; SDXL's has
# another latent scale and is decoded in fp32 in an fp16 pipeline (force_upcast, as released).
SD_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    act_fn="silu",
    latent_channels=4,
    norm_num_groups=32,
)

# CLIP ViT-L/14 text tower: SD 1.5's text_encoder and SDXL's first text_encoder.
CLIP_L = dict(
    vocab_size=49408,
    hidden_size=768,
    intermediate_size=3072,
    num_hidden_layers=12,
    num_attention_heads=12,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
    layer_norm_eps=1e-5,
    projection_dim=768,
)

# OpenCLIP ViT-bigG/14 text tower: SDXL's text_encoder_2 (CLIPTextModelWithProjection).
CLIP_BIG_G = dict(
    vocab_size=49408,
    hidden_size=1280,
    intermediate_size=5120,
    num_hidden_layers=32,
    num_attention_heads=20,
    max_position_embeddings=77,
    hidden_act="gelu",
    layer_norm_eps=1e-5,
    projection_dim=1280,
)

# stable-diffusion-xl-base-1.0/unet/config.json.
SDXL_UNET = dict(
    sample_size=128,
    in_channels=4,
    out_channels=4,
    center_input_sample=False,
    flip_sin_to_cos=True,
    freq_shift=0,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(320, 640, 1280),
    layers_per_block=2,
    downsample_padding=1,
    mid_block_scale_factor=1,
    act_fn="silu",
    norm_num_groups=32,
    norm_eps=1e-5,
    cross_attention_dim=2048,
    transformer_layers_per_block=(1, 2, 10),
    attention_head_dim=(5, 10, 20),
    use_linear_projection=True,
    addition_embed_type="text_time",
    addition_embed_type_num_heads=64,
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)

# stable-diffusion-v1-5/scheduler/scheduler_config.json (PNDM); the pipeline runs DPM-Solver++
# built from it, as `DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)` does.
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

# stable-diffusion-xl-base-1.0/scheduler/scheduler_config.json (Euler).
SDXL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}


# stable-diffusion-3-medium-diffusers/transformer/config.json (MMDiT, 2.0 B parameters).
SD3_TRANSFORMER = dict(
    sample_size=128,
    patch_size=2,
    in_channels=16,
    num_layers=24,
    attention_head_dim=64,
    num_attention_heads=24,
    joint_attention_dim=4096,
    caption_projection_dim=1536,
    pooled_projection_dim=2048,
    out_channels=16,
    pos_embed_max_size=192,
)

# FLUX.1-dev/transformer/config.json (19 double- and 38 single-stream blocks, 11.9 B parameters).
FLUX_TRANSFORMER = dict(
    patch_size=1,
    in_channels=64,
    num_layers=19,
    num_single_layers=38,
    attention_head_dim=128,
    num_attention_heads=24,
    joint_attention_dim=4096,
    pooled_projection_dim=768,
    guidance_embeds=True,
    axes_dims_rope=(16, 56, 56),
)

# The 16-channel VAE both ship (their latent scale and shift differ).
FLOW_VAE = dict(
    SD_VAE, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False, sample_size=1024
)

# T5 v1.1 XXL encoder (text_encoder_3 of SD3, text_encoder_2 of Flux; 4.8 B parameters).
T5_XXL = dict(
    vocab_size=32128,
    d_model=4096,
    d_kv=64,
    d_ff=10240,
    num_layers=24,
    num_heads=64,
    relative_attention_num_buckets=32,
    feed_forward_proj="gated-gelu",
    dense_act_fn="gelu_new",
    is_gated_act=True,
)

# CLIP ViT-L with projection, as SD3's text_encoder (its pooled output is projected to 768).
CLIP_L_PROJ = dict(CLIP_L, projection_dim=768)


def _sdxl_tokenizer_2():
    # SDXL's second tokenizer is CLIP's with "!" (id 0) as the pad token; a copy, because
    # clip_tokenizer() is memoized and shared.
    tokenizer = copy.deepcopy(clip_tokenizer())
    tokenizer.pad_token = "!"  # noqa: S105 (a token, not a password)
    return tokenizer


def full_sd15(device: str) -> StableDiffusionPipeline:
    # Modules are initialised directly on the device (a CPU init of SDXL's 3.5 B parameters
    # takes minutes); the scheduler keeps its tables on the CPU, as a loaded pipeline's does.
    with torch.device(device):
        vae = AutoencoderKL(**SD_VAE, sample_size=512, scaling_factor=0.18215)
        text_encoder = CLIPTextModel(CLIPTextConfig(**CLIP_L))
        unet = UNet2DConditionModel(**SD15_UNET)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=DPMSolverMultistepScheduler.from_config(SD15_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def full_sdxl(device: str, *, force_upcast: bool = True) -> StableDiffusionXLPipeline:
    """`force_upcast=False` is the config of the fp16-fixed SDXL VAE (madebyollin/sdxl-vae-fp16-
    fix: the same architecture fine-tuned so that its activations fit fp16), which deployments
    that decode in fp16 swap in; the released VAE overflows in fp16 and is decoded in fp32."""
    with torch.device(device):
        vae = AutoencoderKL(
            **SD_VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=force_upcast
        )
        text_encoder = CLIPTextModel(CLIPTextConfig(**CLIP_L))
        text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_BIG_G))
        unet = UNet2DConditionModel(**SDXL_UNET)
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=clip_tokenizer(),
        tokenizer_2=_sdxl_tokenizer_2(),
        unet=unet,
        scheduler=DPMSolverMultistepScheduler.from_config(SDXL_SCHEDULER),
        image_encoder=None,
        feature_extractor=None,
        add_watermarker=False,
    )


class _default_dtype:
    """Modules made inside are made in `dtype`: Flux's 12 B parameters in fp32 would not fit
    beside T5-XXL on an 80 GB GPU, and a CPU init of them takes minutes."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __enter__(self):
        self.previous = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc):
        torch.set_default_dtype(self.previous)


def full_sd3(device: str) -> StableDiffusion3Pipeline:
    with torch.device(device), _default_dtype(torch.bfloat16):
        transformer = SD3Transformer2DModel(**SD3_TRANSFORMER)
        vae = AutoencoderKL(**FLOW_VAE, scaling_factor=1.5305, shift_factor=0.0609)
        text_encoder = CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_L_PROJ))
        text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_BIG_G))
        text_encoder_3 = T5EncoderModel(T5Config(**T5_XXL))
    return StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler.from_config(SD3_SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        text_encoder_2=text_encoder_2,
        tokenizer_2=_sdxl_tokenizer_2(),
        text_encoder_3=text_encoder_3,
        # The tiny vocabulary's ids are a subset of T5's; the sequence is padded to the
        # pipeline's max_sequence_length (256) either way, which is what costs time.
        tokenizer_3=tiny_t5_tokenizer(),
    )


def full_flux(device: str) -> FluxPipeline:
    with torch.device(device), _default_dtype(torch.bfloat16):
        transformer = FluxTransformer2DModel(**FLUX_TRANSFORMER)
        vae = AutoencoderKL(**FLOW_VAE, scaling_factor=0.3611, shift_factor=0.1159)
        text_encoder = CLIPTextModel(CLIPTextConfig(**CLIP_L))
        text_encoder_2 = T5EncoderModel(T5Config(**T5_XXL))
    return FluxPipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler.from_config(FLUX_SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        text_encoder_2=text_encoder_2,
        tokenizer_2=tiny_t5_tokenizer(max_length=512),
    )


def tiny(builder):
    def build(device: str):
        pipe = builder(0)
        if not isinstance(pipe.scheduler, FlowMatchEulerDiscreteScheduler):
            pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
        return pipe

    return build


def build(factory, device: str, dtype: torch.dtype):
    torch.manual_seed(0)
    pipe = factory(device)
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def parameter_counts(pipe) -> dict:
    return {
        name: sum(p.numel() for p in module.parameters())
        for name, module in pipe.components.items()
        if isinstance(module, torch.nn.Module)
    }


# --- The two paths --------------------------------------------------------------------------------

PROMPTS = [
    "a red cube on a wooden table, studio light",
    "a watercolor of a lighthouse at dusk",
    "an isometric city block in pastel colours",
    "a macro photo of a dew drop on a leaf",
    "portrait of an astronaut, oil painting, dramatic light",
]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def plain_one(
    pipe, prompt: str, seed: int, *, size: int, steps: int, device: str, guidance=GUIDANCE
) -> float:
    """The baseline: one plain diffusers call for one request."""
    sync(device)
    start = time.perf_counter()
    pipe(
        prompt=prompt,
        width=size,
        height=size,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=torch.Generator("cpu").manual_seed(seed),
    )
    sync(device)
    return time.perf_counter() - start


@dataclass
class Progress:
    """generation.worker._Progress without its queries: the same clock reads and rate limits;
    the UPDATE it would send and the EXISTS it would ask are counted instead."""

    last_write: float = 0.0
    last_check: float = 0.0
    writes: int = 0
    checks: int = 0

    def on_step(self, step: int, total: int) -> None:
        now = time.monotonic()
        if step < total and now - self.last_write < PROGRESS_MIN_INTERVAL_S:
            return
        self.last_write = now
        self.writes += 1

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if now - self.last_check >= PROGRESS_MIN_INTERVAL_S:
            self.last_check = now
            self.checks += 1
        return False


@dataclass
class Job:
    prompt: str
    seed: int
    spec: pipelines.BatchSpec
    arrival: float  # seconds after the stream's start
    done: float = math.nan
    batch_size: int = 0


@dataclass
class StreamResult:
    jobs: list
    makespan: float
    batch_sizes: list = field(default_factory=list)
    batch_times: list = field(default_factory=list)
    progress_writes: int = 0
    images: list = field(default_factory=list)


def serve(model, jobs: list[Job], *, max_batch: int, window_s: float, device: str) -> StreamResult:
    """The worker loop over a stream of jobs (one image each): take the oldest queued job, add
    compatible queued jobs oldest first up to `max_batch` images; when none is queued beside it,
    wait the batch window once and look again (generation.worker._gather); run the batch as one
    run_batch call with the worker's progress and cancel callbacks."""
    pending = sorted(jobs, key=lambda job: job.arrival)
    result = StreamResult(jobs=list(pending), makespan=0.0)
    sync(device)
    start = time.perf_counter()

    def now() -> float:
        return time.perf_counter() - start

    while pending:
        queued = [job for job in pending if job.arrival <= now()]
        if not queued:
            time.sleep(max(0.0, pending[0].arrival - now()))
            continue
        primary = queued[0]

        def compatible(queued=queued, primary=primary):
            same = [job for job in queued[1:] if job.spec == primary.spec]
            return same[: max_batch - 1]

        batch = [primary, *compatible()]
        if max_batch > 1 and len(batch) == 1 and window_s:
            time.sleep(window_s)
            queued = [job for job in pending if job.arrival <= now()]
            batch = [primary, *compatible(queued)]
        progress = Progress()
        began = time.perf_counter()
        images = pipelines.run_batch(
            model,
            primary.spec,
            [pipelines.ImageRequest(prompt=job.prompt, seed=job.seed) for job in batch],
            on_step=progress.on_step,
            should_cancel=progress.should_cancel,
        )
        sync(device)
        finished = now()
        result.batch_times.append(time.perf_counter() - began)
        result.batch_sizes.append(len(batch))
        result.progress_writes += progress.writes
        result.images = images
        for job in batch:
            job.done, job.batch_size = finished, len(batch)
            pending.remove(job)
    result.makespan = now()
    return result


def make_jobs(n: int, spec, *, seed_base: int, rate: float | None, rng: random.Random) -> list:
    """`n` one-image jobs; all queued at t = 0 when `rate` is None, else Poisson arrivals at
    `rate` per second."""
    arrivals, t = [], 0.0
    for _ in range(n):
        arrivals.append(t if rate else 0.0)
        if rate:
            t += rng.expovariate(rate)
    return [
        Job(prompt=PROMPTS[i % len(PROMPTS)], seed=seed_base + i, spec=spec, arrival=arrivals[i])
        for i in range(n)
    ]


def fifo_latencies(arrivals: list[float], service_s: float) -> list[float]:
    """Arrival-to-finish latencies of a one-at-a-time server with a fixed service time."""
    free_at, out = 0.0, []
    for arrival in arrivals:
        free_at = max(free_at, arrival) + service_s
        out.append(free_at - arrival)
    return out


def png_ms_per_image(images) -> float:
    """What the worker does per image after the batch and this loop leaves out: PNG encode and
    sha256 (the perceptual hashes and the storage write come on top)."""
    start = time.perf_counter()
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        hashlib.sha256(buffer.getvalue()).hexdigest()
    return 1000 * (time.perf_counter() - start) / max(1, len(images))


def ablate(pipe, model, spec, *, size, steps, device, reps, max_batch, log) -> dict:
    """Where a lone request's time goes: plain call vs run_batch at one image, and run_batch at
    `max_batch` images, with the UNet contiguous and channels-last, interleaved so that drift in
    clocks or host load falls on both alike. One unrecorded round first."""
    formats = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
    times: dict[str, list[float]] = {}
    for rep in range(reps + 1):
        for fmt_name, fmt in formats.items():
            pipe.unet.to(memory_format=fmt)
            measured = {
                "plain_b1": plain_one(
                    pipe, PROMPTS[0], 5000 + rep, size=size, steps=steps, device=device
                ),
            }
            for batch in (1, max_batch):
                requests = [
                    pipelines.ImageRequest(prompt=PROMPTS[i % len(PROMPTS)], seed=6000 + i)
                    for i in range(batch)
                ]
                progress = Progress()
                sync(device)
                began = time.perf_counter()
                pipelines.run_batch(
                    model,
                    spec,
                    requests,
                    on_step=progress.on_step,
                    should_cancel=progress.should_cancel,
                )
                sync(device)
                measured[f"run_batch_b{batch}"] = time.perf_counter() - began
            if rep:
                for key, value in measured.items():
                    times.setdefault(f"{key}_{fmt_name}", []).append(round(value, 4))
        log(f"ablation round {rep}/{reps}" + (" (warm-up)" if not rep else ""))
    pipe.unet.to(memory_format=torch.channels_last)  # as PipelineCache leaves it
    return {
        "reps": reps,
        "seconds": times,
        "p50_s": {key: p50(values) for key, values in times.items()},
    }


def p50(values) -> float:
    return statistics.median(values)


def bench_model(
    case: dict, *, device: str, dtype, poisson: bool, ablate_reps: int, rng: random.Random
) -> dict:
    name, size, steps = case["name"], case["size"], case["steps"]
    n_plain, n_platform, max_batch = case["n_plain"], case["n_platform"], case["max_batch"]
    guidance, scheduler = case.get("guidance", GUIDANCE), case.get("scheduler", SCHEDULER_NAME)
    dtype = case.get("dtype", dtype)
    window_s = GPU_BATCH_WINDOW_MS / 1000

    def log(message: str) -> None:
        print(f"[{name}] {message}", flush=True)

    log("building")
    began = time.perf_counter()
    pipe = build(case["factory"], device, dtype)
    counts = parameter_counts(pipe)
    log(
        f"built in {time.perf_counter() - began:.1f} s; parameters (M): "
        + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in counts.items())
    )

    # (a) plain diffusers
    log("baseline warm-up (2 calls)")
    for i in range(2):
        plain_one(
            pipe, PROMPTS[i], 900 + i, size=size, steps=steps, device=device, guidance=guidance
        )
    plain = []
    for i in range(n_plain):
        prompt = PROMPTS[i % len(PROMPTS)]
        plain.append(
            plain_one(
                pipe, prompt, 1000 + i, size=size, steps=steps, device=device, guidance=guidance
            )
        )
        log(f"baseline {i + 1}/{n_plain}: {plain[-1]:.3f} s")
    plain_ips = n_plain / sum(plain)

    # (b) the platform path: what PipelineCache._load does after from_pretrained (the dtype is
    # already set; a UNet goes channels-last on CUDA), then the worker's loop.
    if device == "cuda" and hasattr(pipe, "unet"):
        pipe.unet.to(memory_format=torch.channels_last)
    model = pipelines.LoadedModel(pipe)
    spec = pipelines.BatchSpec(
        mode=pipelines.TEXT_TO_IMAGE,
        width=size,
        height=size,
        steps=steps,
        guidance_scale=guidance,
        scheduler=scheduler,
    )
    log(f"platform warm-up (a batch of {max_batch}, a batch of 1)")
    serve(
        model,
        make_jobs(max_batch, spec, seed_base=950, rate=None, rng=rng),
        max_batch=max_batch,
        window_s=0,
        device=device,
    )
    serve(
        model,
        make_jobs(1, spec, seed_base=990, rate=None, rng=rng),
        max_batch=1,
        window_s=0,
        device=device,
    )

    log(f"platform: {n_platform} requests queued at t=0")
    burst = serve(
        model,
        make_jobs(n_platform, spec, seed_base=2000, rate=None, rng=rng),
        max_batch=max_batch,
        window_s=window_s,
        device=device,
    )
    log(f"batches {burst.batch_sizes}, times {[round(t, 3) for t in burst.batch_times]}")
    platform_ips = n_platform / burst.makespan

    # A lone request: arrives at an empty queue; the worker waits the batch window once,
    # finds no company and runs a batch of 1.
    lone, lone_run_batch = [], []
    for i in range(3):
        result = serve(
            model,
            make_jobs(1, spec, seed_base=3000 + i, rate=None, rng=rng),
            max_batch=max_batch,
            window_s=window_s,
            device=device,
        )
        lone.append(result.jobs[0].done - result.jobs[0].arrival)
        lone_run_batch.append(result.batch_times[0])
    log(f"lone requests: {[round(t, 3) for t in lone]} s (run_batch alone {lone_run_batch})")
    png_ms = png_ms_per_image(burst.images)

    out = {
        "model": name,
        "size": size,
        "steps": steps,
        "scheduler": type(model.pipeline_for(spec.mode, scheduler).scheduler).__name__,
        "guidance_scale": guidance,
        "dtype": str(dtype),
        "max_batch": max_batch,
        "parameters_millions": {k: round(v / 1e6, 1) for k, v in counts.items()},
        "plain_requests": n_plain,
        "plain_seconds": [round(t, 4) for t in plain],
        "plain_images_per_s": plain_ips,
        "plain_latency_p50_s": p50(plain),
        "platform_requests": n_platform,
        "platform_makespan_s": burst.makespan,
        "platform_batch_sizes": burst.batch_sizes,
        "platform_batch_seconds": [round(t, 4) for t in burst.batch_times],
        "platform_images_per_s": platform_ips,
        "ratio": platform_ips / plain_ips,
        "platform_lone_latency_p50_s": p50(lone),
        "platform_lone_run_batch_p50_s": p50(lone_run_batch),
        "batch_window_ms": GPU_BATCH_WINDOW_MS,
        "progress_writes_per_batch": burst.progress_writes / len(burst.batch_sizes),
        "png_encode_sha256_ms_per_image_not_timed": png_ms,
    }

    if poisson:
        # Arrivals at twice what the baseline serves: a one-at-a-time server falls behind
        # without bound; the batching worker keeps up if its throughput is over 2x.
        rate = 2 * plain_ips
        log(f"platform: {n_platform} Poisson arrivals at {rate:.2f}/s")
        stream_jobs = make_jobs(n_platform, spec, seed_base=4000, rate=rate, rng=rng)
        stream = serve(model, stream_jobs, max_batch=max_batch, window_s=window_s, device=device)
        latencies = [job.done - job.arrival for job in stream.jobs]
        arrivals = [job.arrival for job in stream.jobs]
        out.update(
            poisson_rate_per_s=rate,
            poisson_last_arrival_s=arrivals[-1],
            poisson_makespan_s=stream.makespan,
            poisson_batch_sizes=stream.batch_sizes,
            poisson_latency_p50_s=p50(latencies),
            poisson_latency_max_s=max(latencies),
            poisson_plain_fifo_latency_p50_s=p50(fifo_latencies(arrivals, p50(plain))),
            poisson_plain_fifo_latency_max_s=max(fifo_latencies(arrivals, p50(plain))),
        )
        log(
            f"batches {stream.batch_sizes}; latency p50 {out['poisson_latency_p50_s']:.2f} s "
            f"(plain FIFO with the measured service time: "
            f"{out['poisson_plain_fifo_latency_p50_s']:.2f} s)"
        )
    if ablate_reps and hasattr(pipe, "unet"):
        log(f"ablation: memory format x path, {ablate_reps} rounds")
        out["ablation"] = ablate(
            pipe,
            model,
            spec,
            size=size,
            steps=steps,
            device=device,
            reps=ablate_reps,
            max_batch=max_batch,
            log=log,
        )
        log(json.dumps(out["ablation"]["p50_s"]))
    log(json.dumps({k: v for k, v in out.items() if not isinstance(v, list | dict)}))

    del model, pipe
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


def table(results: list[dict]) -> str:
    lines = [
        "| model | plain diffusers, one at a time "
        "| platform path (largest batch) | ratio b/a "
        "| plain latency p50 | platform lone request p50 (run_batch alone) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['plain_images_per_s']:.3f} img/s "
            f"| {r['platform_images_per_s']:.3f} img/s (≤ {r['max_batch']}) "
            f"| **{r['ratio']:.2f}x** "
            f"| {r['plain_latency_p50_s']:.3f} s | {r['platform_lone_latency_p50_s']:.3f} s "
            f"({r['platform_lone_run_batch_p50_s']:.3f} s) |"
        )
    if any("poisson_rate_per_s" in r for r in results):
        lines += [
            "",
            "| model | Poisson arrivals | platform latency p50 / max "
            "| plain one-at-a-time FIFO latency p50 / max (from its measured service time) |",
            "| --- | --- | --- | --- |",
        ]
        for r in results:
            if "poisson_rate_per_s" not in r:
                continue
            lines.append(
                f"| {r['model']} | {r['platform_requests']} at {r['poisson_rate_per_s']:.2f}/s "
                f"| {r['poisson_latency_p50_s']:.2f} s / {r['poisson_latency_max_s']:.2f} s "
                f"| {r['poisson_plain_fifo_latency_p50_s']:.2f} s / "
                f"{r['poisson_plain_fifo_latency_max_s']:.2f} s |"
            )
    ablated = [r for r in results if "ablation" in r]
    if ablated:
        lines += [
            "",
            "| model (p50 of interleaved rounds) | UNet memory | plain, 1 image "
            f"| run_batch, 1 image | run_batch, batch of {ablated[0]['max_batch']} (per image) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in ablated:
            t = r["ablation"]["p50_s"]
            for fmt in ("contiguous", "channels_last"):
                batch = t[f"run_batch_b{r['max_batch']}_{fmt}"]
                lines.append(
                    f"| {r['model']} ({r['ablation']['reps']} rounds) | {fmt} "
                    f"| {t[f'plain_b1_{fmt}']:.3f} s | {t[f'run_batch_b1_{fmt}']:.3f} s "
                    f"| {batch:.3f} s ({batch / r['max_batch']:.3f} s) |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke check, tiny pipelines")
    parser.add_argument(
        "--models", default="sd15,sdxl", help="comma-separated: sd15, sdxl, sd3, flux"
    )
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for results.json")
    parser.add_argument("--no-poisson", action="store_true", help="skip the Poisson stream")
    parser.add_argument("--sd15", default="16,64", help="baseline,platform request counts")
    parser.add_argument("--sdxl", default="6,24", help="baseline,platform request counts")
    parser.add_argument("--sd3", default="4,8", help="baseline,platform request counts")
    parser.add_argument("--flux", default="2,4", help="baseline,platform request counts")
    parser.add_argument(
        "--flow-batch",
        type=int,
        default=4,
        help="largest batch for SD3 and Flux (compute-bound at 1024 px: bigger batches add "
        "time, not throughput)",
    )
    parser.add_argument(
        "--ablate",
        default="0,0",
        help="sd15,sdxl rounds of the memory-format x path ablation (0: none)",
    )
    args = parser.parse_args()

    families = ("sd15", "sdxl", "sd3", "flux")
    counts = {name: tuple(int(x) for x in getattr(args, name).split(",")) for name in families}
    # SD3 and Flux: their model cards' steps and guidance, the flow-matching scheduler, bf16.
    flow = {
        "sd3": dict(guidance=7.0, scheduler="flow_euler"),
        "flux": dict(guidance=3.5, scheduler="flow_euler"),
    }
    if args.tiny:
        device, dtype = "cpu", torch.float32
        factories = {
            "sd15": tiny(tiny_sd_pipeline),
            "sdxl": tiny(tiny_sdxl_pipeline),
            "sd3": tiny(tiny_sd3_pipeline),
            "flux": tiny(tiny_flux_pipeline),
        }
        cases = {
            name: dict(
                name=f"tiny-{name}",
                factory=factories[name],
                size=32,
                steps=3,
                n_plain=2,
                n_platform=6,
                max_batch=4,
                **flow.get(name, {}),
            )
            for name in factories
        }
    else:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device; use --tiny for a CPU smoke check")
        device, dtype = "cuda", torch.float16
        cases = {
            "sd15": dict(name="SD 1.5, 512 px", factory=full_sd15, size=512, steps=25),
            "sdxl": dict(name="SDXL, 1024 px", factory=full_sdxl, size=1024, steps=25),
            "sd3": dict(name="SD3 medium, 1024 px", factory=full_sd3, size=1024, steps=28),
            "flux": dict(name="Flux-dev, 1024 px", factory=full_flux, size=1024, steps=28),
        }
        for name, case in cases.items():
            case.update(
                n_plain=counts[name][0],
                n_platform=counts[name][1],
                max_batch=args.flow_batch if name in flow else GPU_MAX_BATCH_IMAGES,
                **flow.get(name, {}),
            )
            if name in flow:
                case["dtype"] = torch.bfloat16

    env = {
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "dtype": str(dtype),
    }
    print(json.dumps(env), flush=True)
    rng = random.Random(1234)
    ablate_reps = dict(zip(("sd15", "sdxl"), map(int, args.ablate.split(",")), strict=True))
    ablate_reps.update(sd3=0, flux=0)  # the ablation switches a UNet's memory format
    results = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        results.append(
            bench_model(
                cases[name],
                device=device,
                dtype=dtype,
                poisson=not args.no_poisson,
                ablate_reps=ablate_reps[name],
                rng=rng,
            )
        )
        # After each model, so that a run cut short keeps what it measured.
        (out / "results.json").write_text(json.dumps({"env": env, "results": results}, indent=2))
    print()
    print(table(results), flush=True)


if __name__ == "__main__":
    main()
