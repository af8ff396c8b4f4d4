"""Where the denoiser's GPU time goes, and what the attention kernel and cuDNN autotuning buy:
the UNet's FLOPs counted per call, its CUDA kernels grouped by class from the profiler, every
attention shape it runs timed on each SDPA backend, the eager step on each attention backend,
the VAE decode in fp16 and fp32, and the compiled step (`reduce-overhead`, as the worker
compiles), each with and without cuDNN's convolution autotuning.

    PYTHONUNBUFFERED=1 python bench/unet_kernels.py --out $OUT                # SD 1.5 @ 512
    PYTHONUNBUFFERED=1 python bench/unet_kernels.py --case sdxl --out $OUT    # SDXL @ 1024
    python bench/unet_kernels.py --smoke --out /tmp/k                        # CPU, tiny model

One UNet call is one denoising step of a batch: `--images 8` is a batch of 16 with classifier-
free guidance. bench/README.md ("unet_kernels.py") holds the figures."""

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from contextlib import nullcontext
from functools import partial
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from generation import serving  # noqa: E402

BACKENDS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
}
# Kernel name fragments, first match wins: cuDNN's attention kernels say "sdpa" and its
# convolutions "fprop"; cuBLAS's GEMMs are "gemm" or, from CUDA 12.9, "nvjet" (on a CPU the
# operators' names are classified: aten::addmm, aten::mkldnn_convolution...).
KERNEL_CLASSES = (
    ("attention", ("flash", "fmha", "sdpa", "attention")),
    ("convolution", ("fprop", "conv", "implicit", "winograd", "dgrad")),
    ("matmul", ("gemm", "nvjet", "cutlass", "xmma", "addmm", "aten::mm", "bmm")),
    ("normalization", ("norm", "moments", "welford")),
    ("Inductor fused (Triton)", ("triton",)),
)


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="sd15", choices=("sd15", "sdxl"))
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny SD pipeline, no compile")
    parser.add_argument("--images", type=int, default=0, help="per step (default 8; SDXL 4)")
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--no-compile", action="store_true", help="eager figures only")
    parser.add_argument("--deadline-s", type=float, default=540)
    return parser.parse_args(argv)


def unet_inputs(pipe, case, images: int) -> dict:
    """What the pipeline passes the UNet in one step of a batch of `images` with guidance."""
    batch, side = 2 * images, case.size // pipe.vae_scale_factor
    unet = pipe.unet
    kwargs = {
        "sample": torch.randn(batch, unet.config.in_channels, side, side, **_on(unet)),
        "timestep": torch.tensor(500, device=unet.device),
        "encoder_hidden_states": torch.randn(
            batch, 77, unet.config.cross_attention_dim, **_on(unet)
        ),
    }
    if unet.config.addition_embed_type == "text_time":
        pooled = pipe.text_encoder_2.config.projection_dim
        kwargs["added_cond_kwargs"] = {
            "text_embeds": torch.randn(batch, pooled, **_on(unet)),
            "time_ids": torch.tensor(
                [[case.size, case.size, 0, 0, case.size, case.size]] * batch
            ).to(**_on(unet)),
        }
    return kwargs


def _on(module) -> dict:
    return {"device": module.device, "dtype": module.dtype}


def attention_backends(name: str):
    """SDPA's backend order with `name` first; the others stay as fallbacks for the shapes it
    cannot serve (on a CPU, every backend but the math one and the CPU flash kernel)."""
    if name == "default":
        return nullcontext()
    order = [BACKENDS[name], *(b for k, b in BACKENDS.items() if k != name), SDPBackend.MATH]
    return sdpa_kernel(order, set_priority=True)


def seconds_per_call(fn, reps: int) -> float:
    for _ in range(2):
        fn()
    _sync()
    began = time.perf_counter()
    for _ in range(reps):
        fn()
    _sync()
    return (time.perf_counter() - began) / reps


def _sync() -> None:
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


def count_flops(unet, inputs) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        unet(**inputs)
    return counter.get_total_flops()


def attention_shapes(unet, inputs) -> Counter:
    """(batch, heads, query length, key length, head dim) of every SDPA call in one UNet call."""
    seen: Counter = Counter()
    original = F.scaled_dot_product_attention

    def recording(query, key, value, *args, **kwargs):
        b, h, lq, d = query.shape
        seen[(b, h, lq, key.shape[2], d)] += 1
        return original(query, key, value, *args, **kwargs)

    F.scaled_dot_product_attention = recording
    try:
        with torch.no_grad():
            unet(**inputs)
    finally:
        F.scaled_dot_product_attention = original
    return seen


def attention_table(shapes: Counter, on: dict) -> list[dict]:
    """Each shape on each backend: seconds a call and TFLOP/s (4·B·H·Lq·Lk·D a call)."""
    rows = []
    for (b, h, lq, lk, d), calls in sorted(shapes.items()):
        qkv = (torch.randn(b, h, lq, d, **on), *torch.randn(2, b, h, lk, d, **on))
        call = partial(F.scaled_dot_product_attention, *qkv)
        flops = 4 * b * h * lq * lk * d
        row = {"shape": [b, h, lq, lk, d], "calls_per_step": calls}
        for name, backend in BACKENDS.items():
            try:
                with sdpa_kernel([backend]):
                    seconds = seconds_per_call(call, 20)
            except RuntimeError:
                row[name] = None  # the backend does not take this shape
                continue
            row[name] = {"ms": 1000 * seconds, "tflops": flops / seconds / 1e12}
        rows.append(row)
    return rows


def kernel_classes(fn, device: str) -> dict:
    """Share of kernel time by class over one call of `fn` (after a warm-up): CUDA kernels, or
    on a CPU the operators."""
    activity = torch.profiler.ProfilerActivity.CUDA if device == "cuda" else None
    fn()
    _sync()
    with torch.profiler.profile(
        activities=[activity or torch.profiler.ProfilerActivity.CPU]
    ) as prof:
        fn()
        _sync()
    totals: Counter = Counter()
    names: dict[str, Counter] = {}
    for event in prof.key_averages():
        micros = event.self_device_time_total if activity else event.self_cpu_time_total
        if micros <= 0:
            continue
        label = event.key.lower()
        kind = next((k for k, parts in KERNEL_CLASSES if any(p in label for p in parts)), "other")
        totals[kind] += micros
        names.setdefault(kind, Counter())[event.key[:90]] += micros
    whole = sum(totals.values())
    return {
        "kernel_ms": whole / 1000,
        "share_pct": {k: round(100 * v / whole, 1) for k, v in totals.most_common()},
        "top_kernels": {k: dict(c.most_common(3)) for k, c in names.items()},
    }


def autotune(on: bool) -> None:
    """cuDNN times its convolution algorithms per shape (torch.backends.cudnn.benchmark)
    instead of choosing by heuristics."""
    torch.backends.cudnn.benchmark = on


def compiled_step(unet, inputs, *, tuned: bool, device: str) -> dict:
    """The UNet compiled as the worker compiles it, one step timed, its kernels classified."""
    torch._dynamo.reset()
    autotune(tuned)
    try:
        compiled = torch.compile(unet, mode="reduce-overhead", dynamic=False)
        with torch.no_grad():
            began = time.perf_counter()
            for _ in range(3):  # CUDA graphs are recorded on the second or third call
                compiled(**inputs)
            _sync()
            compile_s = time.perf_counter() - began
            seconds = seconds_per_call(lambda: compiled(**inputs), 20)
            classes = kernel_classes(lambda: compiled(**inputs), device)
    finally:
        autotune(False)
    return {"step_s": seconds, "compile_s": compile_s, "kernels": classes}


def run(args) -> None:
    import gpu_serving  # noqa: F401 - sets up the import paths serving_stages needs
    from serving_stages import Clock, Results, case_for, environment, log, matmul_tflops

    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device; use --smoke for a CPU check")
    clock = Clock(args.deadline_s)
    case = case_for(args)
    images = args.images or (2 if args.smoke else 4 if args.case == "sdxl" else 8)
    results = Results(Path(args.out), environment(device))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="mm-inductor-"))
    torch.manual_seed(0)
    pipe = case.build(device).to(dtype=torch.float16 if device == "cuda" else torch.float32)
    serving.prepare(
        pipe, serving.ServingOptions(channels_last=True, fuse_qkv=True), torch.device(device)
    )
    unet, inputs = pipe.unet, unet_inputs(pipe, case, images)
    peak = matmul_tflops(device)
    flops = count_flops(unet, inputs)
    setup = {"case": case.name, "images": images, "unet_batch": 2 * images}
    setup |= {"matmul_tflops": peak, "unet_tflop_per_call": flops / 1e12}
    results.put("setup", setup)
    log(f"setup: {setup}")

    shapes = attention_shapes(unet, inputs)
    results.put("attention_shapes", attention_table(shapes, _on(unet)))
    log(f"attention: {results.data['stages']['attention_shapes']}")

    eager = {}
    for name in ("default", "flash", "cudnn", "efficient", "default, cuDNN autotune"):
        attention = name.split(",")[0]
        with results.guarded(f"eager {name}"), torch.no_grad(), attention_backends(attention):
            autotune("autotune" in name)
            seconds = seconds_per_call(lambda: unet(**inputs), 10)
            eager[name] = {"step_s": seconds, "unet_tflops": flops / seconds / 1e12}
            if name.startswith("default"):
                eager[name]["kernels"] = kernel_classes(lambda: unet(**inputs), device)
            log(f"eager {name}: {eager[name]}")
        autotune(False)
        results.put("eager", eager)

    with results.guarded("vae decode"), torch.no_grad():
        side = case.size // pipe.vae_scale_factor
        decode = {"images": images}
        for label, dtype, tuned in (
            ("fp16", torch.float16, False),
            ("fp16, cuDNN autotune", torch.float16, True),
            ("fp32 (upcast)", torch.float32, False),
        ):
            vae = pipe.vae.to(dtype=dtype) if device == "cuda" else pipe.vae
            latents = torch.randn(images, 4, side, side, device=vae.device, dtype=vae.dtype)
            autotune(tuned)
            decode[f"{label}_s"] = seconds_per_call(partial(vae.decode, latents), 3)
            autotune(False)
        results.put("vae_decode", decode)
        log(f"VAE decode: {decode}")

    if args.no_compile or args.smoke:
        return
    compiled = {}
    for label, tuned in (("reduce-overhead", False), ("reduce-overhead, cuDNN autotune", True)):
        if clock.left() < 120:
            log(f"{label}: skipped, {clock.left():.0f} s left")
            continue
        with results.guarded(label):
            compiled[label] = compiled_step(unet, inputs, tuned=tuned, device=device)
            compiled[label]["unet_tflops"] = flops / compiled[label]["step_s"] / 1e12
            log(f"{label}: {compiled[label]}")
        results.put("compiled", compiled)


if __name__ == "__main__":
    run(parse())
