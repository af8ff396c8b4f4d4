"""How a resident pipeline is made fast to serve (plain module, no Django): precision, attention
kernel, memory format, fused QKV projections, torch.compile with a compile cache on disk, batch
sizes padded up to a few compiled buckets, a cache of text-encoder outputs for repeated prompts,
and images turned into bytes on the device before one copy to the host.

Each optimization is one field of `ServingOptions`, so that the worker's settings switch them and
bench/gpu_serving.py measures what each buys. None of them changes what an image looks like
beyond rounding: tests/generation/test_serving.py holds the optimized path to the plain one."""

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from diffusers.models.attention_processor import AttnProcessor
from PIL import Image

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}
COMPILE_TARGETS = ("off", "unet", "unet+vae")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
ARTIFACTS_FILE = "artifacts.bin"


@dataclass(frozen=True)
class ServingOptions:
    """What `prepare` does to a pipeline and how `pipelines.run_batch` calls it. The defaults are
    plain diffusers: nothing is changed."""

    dtype: str = "float16"  # on CUDA; a CPU runs float32
    sdpa: bool = True  # PyTorch's scaled_dot_product_attention (diffusers' default)
    channels_last: bool = False
    fuse_qkv: bool = False
    compile: str = "off"
    compile_mode: str = "default"
    # Inductor's caches and the compile artifacts live here, so a restarted worker warm-starts.
    compile_cache_dir: Path | None = None
    # Batch sizes compiled shapes are padded up to; () runs every batch at its own size.
    buckets: tuple[int, ...] = ()
    text_cache_entries: int = 0
    # Images become uint8 on the device and cross to the host once, through pinned memory,
    # instead of as float32 arrays converted on the CPU.
    device_postprocess: bool = False

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if self.compile not in COMPILE_TARGETS:
            raise ValueError(f"compile must be one of {', '.join(COMPILE_TARGETS)}")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}")
        if self.fuse_qkv and not self.sdpa:
            raise ValueError("fused QKV projections run through SDPA: turn sdpa on")
        if any(not isinstance(size, int) or size < 1 for size in self.buckets):
            raise ValueError(f"buckets must be positive integers, not {self.buckets!r}")
        if tuple(sorted(set(self.buckets))) != tuple(self.buckets):
            raise ValueError(f"buckets must be distinct and ascending, not {self.buckets!r}")
        if self.text_cache_entries < 0:
            raise ValueError("text_cache_entries must be 0 (off) or more")

    def torch_dtype(self, device: torch.device) -> torch.dtype:
        return DTYPES[self.dtype] if device.type == "cuda" else torch.float32


def bucket_size(count: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket holding `count` images; `count` itself when none does (or no
    buckets are set): a batch is never cut, only padded."""
    if count < 1:
        raise ValueError("a batch holds at least one image")
    return next((size for size in buckets if size >= count), count)


def prepare(pipe, options: ServingOptions, device: torch.device) -> None:
    """Applies `options` to a pipeline already on `device`, in place. Memory format and
    compilation apply on CUDA only: a CPU (tests, the dev demo) runs them eager."""
    if not options.sdpa:
        for module in (denoiser(pipe), pipe.vae):
            module.set_attn_processor(AttnProcessor())
    if options.fuse_qkv:
        denoiser(pipe).fuse_qkv_projections()
        pipe.vae.fuse_qkv_projections()
    if device.type != "cuda":
        return
    if options.channels_last:
        denoiser(pipe).to(memory_format=torch.channels_last)
    if options.compile != "off":
        compile_cache_use(options.compile_cache_dir)
        compile_modules(pipe, options)


def compile_modules(pipe, options: ServingOptions, *, backend: str = "inductor") -> None:
    """Compiles the UNet (and the VAE decoder) in place, so the edit pipelines that share the
    modules use the compiled code too. Shapes are static: each (batch bucket, size) compiles once
    and is then reused, which buckets keep to a handful."""
    # One entry per shape: buckets times the sizes jobs ask for, well over the default of 8.
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    kwargs = compile_kwargs(options, backend)
    denoiser(pipe).compile(**kwargs)
    if options.compile == "unet+vae" and decoder_compilable(pipe):
        # The decoder module, not `vae.decode`: the pipelines pass the per-image generators to
        # `decode`, and new generator objects each call would fail the compiled guards.
        pipe.vae.decoder.compile(**kwargs)


def denoiser(pipe) -> torch.nn.Module:
    """The network run at every step: the UNet of SD 1.x and SDXL, the transformer of SD3 and
    Flux (the "unet" of COMPILE_TARGETS names either)."""
    unet = getattr(pipe, "unet", None)
    return unet if unet is not None else pipe.transformer


def decoder_compilable(pipe) -> bool:
    """False for a VAE that its pipeline upcasts to float32 around every decode (SDXL
    pipelines do when the VAE's config says `force_upcast`, as released; SD 1.x pipelines never
    do, whatever the config says): its weights are new tensors each call, which compiled
    code and CUDA graphs would have to re-record, so that decoder runs eager."""
    vae = pipe.vae
    upcasts = hasattr(pipe, "upcast_vae") and getattr(vae.config, "force_upcast", False)
    return not (upcasts and vae.dtype == torch.float16)


def compile_kwargs(options: ServingOptions, backend: str = "inductor") -> dict:
    kwargs = {"backend": backend, "dynamic": False}
    if backend == "inductor":
        kwargs["mode"] = options.compile_mode
    return kwargs


def compile_cache_use(folder: Path | None) -> None:
    """Points Inductor's on-disk caches (compiled graphs, Triton kernels) at `folder` and loads
    the artifacts a previous worker saved there, so that compiling a known shape is a cache hit."""
    if folder is None:
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder / "inductor")
    artifacts = folder / ARTIFACTS_FILE
    if artifacts.is_file():
        torch.compiler.load_cache_artifacts(artifacts.read_bytes())


def compile_cache_save(folder: Path | None) -> int:
    """Saves this process's compile artifacts (bytes written; 0 when there are none)."""
    if folder is None:
        return 0
    saved = torch.compiler.save_cache_artifacts()
    if saved is None:
        return 0
    data, _ = saved
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{ARTIFACTS_FILE}.{os.getpid()}"
    partial.write_bytes(data)
    partial.replace(folder / ARTIFACTS_FILE)  # another worker reads a whole file or the old one
    return len(data)


@dataclass
class TextEmbeddingCache:
    """Text-encoder outputs per text, least recently used dropped past `max_entries`. Prompts
    and negative prompts share entries: diffusers encodes both the same way (padded to the
    tokenizer's length, no clip skip), so a negative prompt is looked up like a prompt."""

    max_entries: int
    hits: int = 0
    misses: int = 0
    _entries: OrderedDict = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._entries)

    def embeddings(self, pipe, prompts: list[str], negatives: list[str], device) -> dict:
        """The pipeline keywords that replace `prompt` and `negative_prompt`: the embeddings
        (and SDXL's pooled embeddings) of each text, from the cache or encoded now."""
        texts = list(dict.fromkeys([*prompts, *negatives]))
        missing = [text for text in texts if text not in self._entries]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        found = {text: self._entries[text] for text in texts if text in self._entries}
        if missing:
            found.update(zip(missing, _encode(pipe, missing, device), strict=True))
        for text in texts:
            self._entries[text] = found[text]
            self._entries.move_to_end(text)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        kwargs = {
            "prompt_embeds": torch.cat([found[text][0] for text in prompts]),
            "negative_prompt_embeds": torch.cat([found[text][0] for text in negatives]),
        }
        if found[prompts[0]][1] is not None:
            kwargs["pooled_prompt_embeds"] = torch.cat([found[text][1] for text in prompts])
            kwargs["negative_pooled_prompt_embeds"] = torch.cat(
                [found[text][1] for text in negatives]
            )
        return kwargs


def _encode(pipe, texts: list[str], device) -> list[tuple]:
    """One text-encoder call for `texts`; per text, (embeddings, pooled embeddings or None)."""
    encoded = pipe.encode_prompt(
        prompt=texts, device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
    )
    # SD pipelines return (embeds, negative); SDXL ones (embeds, negative, pooled, negative).
    embeds, pooled = encoded[0], encoded[2] if len(encoded) == 4 else None
    return [
        (embeds[i : i + 1], pooled[i : i + 1] if pooled is not None else None)
        for i in range(len(texts))
    ]


def to_images(batch: torch.Tensor) -> list[Image.Image]:
    """Images in [0, 1] (N, C, H, W, as diffusers returns with output_type="pt") to PIL: scaled
    and rounded on the device as diffusers' numpy path does, then one uint8 copy to the host
    through pinned memory (a quarter of the bytes of the float32 arrays diffusers copies)."""
    data = (batch.float() * 255).round().clamp(0, 255).to(torch.uint8)
    data = data.permute(0, 2, 3, 1).contiguous()
    if data.is_cuda:
        host = torch.empty(data.shape, dtype=torch.uint8, pin_memory=True)
        host.copy_(data, non_blocking=True)
        torch.cuda.current_stream(data.device).synchronize()
        data = host
    pixels = data.numpy()
    return [Image.fromarray(np.array(image)) for image in pixels]
