"""The GPU worker's inference code (plain module, no Django): load a registered model's diffusers
folder once its weights' digest checks out, keep it resident, and run a batch of compatible
requests as one denoising call whose images are each what that request alone would give.

Single-threaded by design: one worker process drives one GPU and runs one batch at a time, so
pipelines and their schedulers are swapped in place without locks."""

import gc
import inspect
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import diffusers
import torch
from diffusers import (
    AutoPipelineForImage2Image,
    AutoPipelineForInpainting,
    AutoPipelineForText2Image,
    ControlNetModel,
    DiffusionPipeline,
)
from PIL import Image

from generation import serving
from generation.schedulers import FLOW_SCHEDULERS, NOISE_SCHEDULERS, SCHEDULER_CLASSES
from generation.weights import WeightsError, folder_pipeline_class, weights_sha256

TEXT_TO_IMAGE, IMAGE_TO_IMAGE, INPAINT = "text-to-image", "image-to-image", "inpaint"
MODES = (TEXT_TO_IMAGE, IMAGE_TO_IMAGE, INPAINT)
# An upscaler's mode: its batches run in generation/upscaling.py, not run_batch.
UPSCALE = "upscale"
SPEC_MODES = (*MODES, UPSCALE)
EDIT_MODES = (IMAGE_TO_IMAGE, INPAINT)
# Modes a ControlNet conditions: diffusers has a ControlNet pipeline for each, derived from the
# mode's own pipeline (`from_pipe`) with the same modules.
CONTROL_MODES = (TEXT_TO_IMAGE, IMAGE_TO_IMAGE)
MAX_SEED = 2**63  # exclusive; the web side draws seeds below it
UPSCALER_CLASS = "StableDiffusionUpscalePipeline"

# Names a job may ask for → diffusers classes. The names live in generation/schedulers.py so the
# web process validates requests against the same list without importing torch.
SCHEDULERS: dict[str, type] = {
    name: getattr(diffusers, class_name) for name, class_name in SCHEDULER_CLASSES.items()
}


# What Stable Diffusion folders ship in their scheduler config, for folders that leave a key out:
# without them DDIM would clip its x0 prediction to [-1, 1] (meant for pixels, not latents) and
# PNDM would run Runge-Kutta warm-up steps, which fail below 4 steps.
LATENT_SCHEDULER_DEFAULTS = {
    "clip_sample": False,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
}


def scheduler_names() -> tuple[str, ...]:
    return tuple(SCHEDULERS)


class ModelLoadError(Exception):
    """The model's folder could not be turned into a pipeline; the message says why."""


class WeightsMismatch(ModelLoadError):
    """The folder's weights are not the ones the model was registered with."""


class Cancelled(Exception):
    """`should_cancel` asked the batch to stop; its images are discarded."""


class OutOfMemory(Exception):
    """The accelerator ran out of memory; a smaller batch may fit."""


def device_default() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def free_memory() -> None:
    """Returns cached accelerator memory after an out-of-memory error or an eviction."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass(frozen=True)
class BatchSpec:
    """Everything that must be equal for requests (of the same model) to share a pipeline call."""

    mode: str
    width: int
    height: int
    steps: int
    guidance_scale: float
    scheduler: str
    strength: float | None = None
    # LoRA adapters applied to every image: [{"sha256", "path", "weight", ...}], as jobs hold
    # them. Part of the spec's equality, so requests with other adapters never share a call;
    # left out of its hash (a list is unhashable; equal specs still hash alike).
    adapters: list = field(default_factory=list, hash=False)
    # The ControlNet every image is conditioned through ({"sha256", "path", "scale", ...} as
    # jobs hold it; {} for none): equal for requests that share a call, so left out of the hash.
    controlnet: dict = field(default_factory=dict, hash=False)

    def __post_init__(self):
        if self.mode not in SPEC_MODES:
            raise ValueError(f"unknown mode {self.mode!r}; known: {', '.join(SPEC_MODES)}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not _is_int(value) or value < 8 or value % 8:
                raise ValueError(f"{name} must be a positive multiple of 8, not {value!r}")
        if not _is_int(self.steps) or self.steps < 1:
            raise ValueError(f"steps must be at least 1, not {self.steps!r}")
        guidance = self.guidance_scale
        if not isinstance(guidance, int | float) or not math.isfinite(guidance) or guidance < 0:
            raise ValueError(f"guidance_scale must be 0 or more, not {self.guidance_scale!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(
                f"unknown scheduler {self.scheduler!r}; known: {', '.join(scheduler_names())}"
            )
        if self.mode in (TEXT_TO_IMAGE, UPSCALE):
            if self.strength is not None:
                raise ValueError("strength applies only to image-to-image and inpaint")
        elif self.strength is None or not 0 < self.strength <= 1:
            raise ValueError(f"{self.mode} needs a strength in (0, 1], not {self.strength!r}")
        elif self.denoising_steps < 1:
            # diffusers runs int(steps * strength) steps of an edit and fails when that is 0.
            raise ValueError(
                f"steps * strength must be at least 1 ({self.steps} * {self.strength} is not)"
            )
        for entry in self.adapters:
            if not isinstance(entry, dict) or not {"sha256", "path", "weight"} <= entry.keys():
                raise ValueError(f"an adapter needs sha256, path and weight, not {entry!r}")
        if self.controlnet:
            if not {"sha256", "path", "scale"} <= self.controlnet.keys():
                raise ValueError(
                    f"a controlnet needs sha256, path and scale, not {self.controlnet!r}"
                )
            if self.mode not in CONTROL_MODES:
                raise ValueError(f"a ControlNet conditions {' and '.join(CONTROL_MODES)} only")

    @property
    def denoising_steps(self) -> int:
        """Scheduler steps actually run: an edit starts part-way, at `strength` of the noise."""
        if self.strength is None:
            return self.steps
        return min(int(self.steps * self.strength), self.steps)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class ImageRequest:
    """One image of a batch: its own prompt and seed, and for edits its input image and mask."""

    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    init_image: Image.Image | None = None
    mask_image: Image.Image | None = None
    # The ControlNet's control image, when the batch has a ControlNet.
    control_image: Image.Image | None = None

    def __post_init__(self):
        if not _is_int(self.seed) or not 0 <= self.seed < MAX_SEED:
            raise ValueError(f"seed must be an integer in [0, 2**63), not {self.seed!r}")


def _scheduler_base_config(config) -> dict:
    config = dict(config)
    if "shift" in config:
        return config  # a flow-matching schedule: the noise-schedule keys below mean nothing
    # Keys the folder left out are listed in `_use_default_values`, and `from_config` drops them
    # so that each class uses its own default; the latent-diffusion defaults must not be dropped.
    used_defaults = set(config.get("_use_default_values", ()))
    for key, value in LATENT_SCHEDULER_DEFAULTS.items():
        if key not in config or key in used_defaults:
            config[key] = value
            used_defaults.discard(key)
    config["_use_default_values"] = sorted(used_defaults)
    return config


def _module_bytes(module: torch.nn.Module) -> int:
    tensors = chain(module.parameters(), module.buffers())
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


class LoadedModel:
    """A resident model: its text-to-image pipeline and, derived on first use, the
    image-to-image and inpainting pipelines on the same weights (`from_pipe` shares the
    components; nothing is copied). `options` say how batches are run (serving.py); the
    pipeline must already have been prepared with them."""

    def __init__(
        self,
        pipeline: DiffusionPipeline,
        *,
        sha256: str = "",
        options: serving.ServingOptions | None = None,
    ):
        self.sha256 = sha256
        self.options = options or serving.ServingOptions()
        # Rectified-flow models (SD3, Flux) run only flow-matching schedulers, noise-prediction
        # models (SD 1.x, SDXL) only the others: the folder's own scheduler says which.
        self.flow = "FlowMatch" in type(pipeline.scheduler).__name__
        self.schedulers = FLOW_SCHEDULERS if self.flow else NOISE_SCHEDULERS
        # The text cache calls the UNet pipelines' `encode_prompt`; SD3's and Flux's take other
        # arguments and return other tuples, so they encode in the call.
        entries = self.options.text_cache_entries if hasattr(pipeline, "unet") else 0
        self.text_cache = serving.TextEmbeddingCache(entries) if entries else None
        self._pipelines: dict[str, DiffusionPipeline] = {TEXT_TO_IMAGE: pipeline}
        # Every scheduler is built from the folder's own scheduler config (its noise schedule,
        # prediction type, timestep spacing), never from whichever one was swapped in last.
        self._scheduler_config = _scheduler_base_config(pipeline.scheduler.config)
        self._schedulers: dict[tuple[str, str], object] = {}
        self._adapters: set[str] = set()
        # ControlNet pipelines by (mode, ControlNet digest): each wraps the mode's pipeline's
        # modules with one resident ControlNet.
        self._control_pipelines: dict[tuple[str, str], DiffusionPipeline] = {}
        pipeline.set_progress_bar_config(disable=True)
        self.nbytes = sum(
            _module_bytes(component)
            for component in pipeline.components.values()
            if isinstance(component, torch.nn.Module)
        )

    @property
    def text_to_image(self) -> DiffusionPipeline:
        return self._pipelines[TEXT_TO_IMAGE]

    def use_adapters(self, adapters: list) -> None:
        """Applies exactly these LoRA adapters (each at its weight) to the model's shared
        modules, loading each folder on first use once its weights' digest matches; with none,
        LoRA is switched off. Loaded adapters stay resident, keyed by digest."""
        pipe = self.text_to_image
        names, weights = [], []
        for entry in adapters:
            name = "lora_" + entry["sha256"][:16]
            if name not in self._adapters:
                folder = Path(entry["path"])
                try:
                    actual = weights_sha256(folder)
                except (WeightsError, OSError) as exc:
                    raise ModelLoadError(f"adapter {folder}: {exc}") from exc
                if actual != entry["sha256"]:
                    raise WeightsMismatch(
                        f"adapter weights in {folder} have sha256 {actual}, "
                        f"registered {entry['sha256']}"
                    )
                try:
                    pipe.load_lora_weights(folder, adapter_name=name)
                except Exception as exc:
                    raise ModelLoadError(f"adapter {folder}: {type(exc).__name__}: {exc}") from exc
                self._adapters.add(name)
            names.append(name)
            weights.append(float(entry["weight"]))
        if names:
            pipe.enable_lora()
            pipe.set_adapters(names, adapter_weights=weights)
        elif self._adapters:
            pipe.disable_lora()

    def with_controlnet(self, pipe: DiffusionPipeline, mode: str, entry: dict):
        """`pipe` (the mode's pipeline, its scheduler set) conditioned through the ControlNet
        `entry` names: diffusers' ControlNet pipeline of the same modules, the ControlNet loaded
        on first use once its weights' digest matches and kept resident."""
        key = (mode, entry["sha256"])
        control_pipe = self._control_pipelines.get(key)
        if control_pipe is None:
            controlnet = next(
                (
                    cached.controlnet
                    for (_, sha), cached in self._control_pipelines.items()
                    if sha == entry["sha256"]
                ),
                None,
            ) or self._load_controlnet(entry)
            auto = (
                AutoPipelineForText2Image if mode == TEXT_TO_IMAGE else AutoPipelineForImage2Image
            )
            try:
                control_pipe = auto.from_pipe(pipe, controlnet=controlnet)
            except ValueError as exc:
                raise ModelLoadError(
                    f"{type(pipe).__name__} has no ControlNet {mode} pipeline: {exc}"
                ) from exc
            control_pipe.set_progress_bar_config(disable=True)
            self._control_pipelines[key] = control_pipe
        control_pipe.scheduler = pipe.scheduler
        return control_pipe

    def _load_controlnet(self, entry: dict) -> ControlNetModel:
        folder = Path(entry["path"])
        try:
            actual = weights_sha256(folder)
        except (WeightsError, OSError) as exc:
            raise ModelLoadError(f"controlnet {folder}: {exc}") from exc
        if actual != entry["sha256"]:
            raise WeightsMismatch(
                f"controlnet weights in {folder} have sha256 {actual}, registered {entry['sha256']}"
            )
        unet = self.text_to_image.unet
        try:
            controlnet = ControlNetModel.from_pretrained(
                folder, dtype=unet.dtype, local_files_only=True
            ).to(unet.device)
        except Exception as exc:
            free_memory()
            raise ModelLoadError(f"controlnet {folder}: {type(exc).__name__}: {exc}") from exc
        self.nbytes += _module_bytes(controlnet)
        return controlnet

    def pipeline_for(self, mode: str, scheduler_name: str) -> DiffusionPipeline:
        """The pipeline for `mode`, with the named scheduler set on it.

        The scheduler is swapped in place on a pipeline shared by every batch of this model;
        that is safe only because a worker runs one batch at a time. Each (mode, scheduler)
        pair keeps its own scheduler instance: schedulers carry per-call state (step and begin
        index, multistep history), which pipelines of different modes must not share."""
        if mode not in SPEC_MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(SPEC_MODES)}")
        upscaler = type(self.text_to_image).__name__ == UPSCALER_CLASS
        if (mode == UPSCALE) != upscaler:
            raise ModelLoadError(
                f"{type(self.text_to_image).__name__} cannot run {mode}: only an upscaler "
                "upscales, and an upscaler does nothing else"
            )
        if scheduler_name not in self.schedulers:
            raise ValueError(
                f"{type(self.text_to_image).__name__} runs the schedulers "
                f"{', '.join(self.schedulers)}, not {scheduler_name!r}"
            )
        pipe = self.text_to_image if upscaler else self._pipelines.get(mode)
        if pipe is None:
            auto = (
                AutoPipelineForImage2Image if mode == IMAGE_TO_IMAGE else AutoPipelineForInpainting
            )
            try:
                pipe = auto.from_pipe(self.text_to_image)
            except ValueError as exc:
                name = type(self.text_to_image).__name__
                raise ModelLoadError(f"{name} has no {mode} pipeline: {exc}") from exc
            pipe.set_progress_bar_config(disable=True)
            self._pipelines[mode] = pipe
        scheduler = self._schedulers.get((mode, scheduler_name))
        if scheduler is None:
            scheduler = SCHEDULERS[scheduler_name].from_config(self._scheduler_config)
            self._schedulers[(mode, scheduler_name)] = scheduler
        pipe.scheduler = scheduler
        return pipe


class PipelineCache:
    """Models kept resident on `device`, least recently used evicted once their total size
    passes `max_bytes` (the model just loaded always stays, even alone over the limit).

    Eviction happens after a load, so `max_bytes` must leave room on the device for one more
    model while the others are still resident. Each model is prepared with `options`
    (serving.py: precision, attention, memory format, fused projections, compilation); a model
    compiled on CUDA runs one short batch per bucket at its native size before it is used, so
    that compiling (or loading compiled code from the cache) happens at load, not in a user's
    request."""

    def __init__(
        self,
        max_bytes: int,
        device: str | torch.device = "cpu",
        dtype=None,
        options: serving.ServingOptions | None = None,
    ):
        self.max_bytes = max_bytes
        self.device = torch.device(device)
        self.options = options or serving.ServingOptions()
        self.dtype = dtype if dtype is not None else self.options.torch_dtype(self.device)
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()

    def __contains__(self, key) -> bool:
        return str(key) in self._models

    def __len__(self) -> int:
        return len(self._models)

    def keys(self) -> list[str]:
        """Resident models' keys, least recently used first."""
        return list(self._models)

    @property
    def total_bytes(self) -> int:
        return sum(model.nbytes for model in self._models.values())

    def get(self, key, folder, expected_sha256: str) -> LoadedModel:
        """The resident model under `key`, loading it from `folder` first if needed.

        The folder's weights are hashed and compared with `expected_sha256` before anything
        is loaded from it, so a swapped or altered folder never runs under a registered model's
        name. A resident model is not re-hashed: its weights were read when they matched."""
        key = str(key)
        model = self._models.get(key)
        if model is not None and model.sha256 == expected_sha256:
            self._models.move_to_end(key)
            return model
        if model is not None:
            self._evict(key)
        model = self._load(Path(folder), expected_sha256)
        self._models[key] = model
        while self.total_bytes > self.max_bytes and len(self._models) > 1:
            self._evict(next(iter(self._models)))
        return model

    def _evict(self, key: str) -> None:
        del self._models[key]
        free_memory()

    def _load(self, folder: Path, expected_sha256: str) -> LoadedModel:
        try:
            actual = weights_sha256(folder)
        except (WeightsError, OSError) as exc:
            raise ModelLoadError(str(exc)) from exc
        if actual != expected_sha256:
            raise WeightsMismatch(
                f"weights in {folder} have sha256 {actual}, registered {expected_sha256}"
            )
        # An upscaler has no text-to-image pipeline to derive others from: it loads as itself.
        upscaler = folder_pipeline_class(folder) == UPSCALER_CLASS
        loader = DiffusionPipeline if upscaler else AutoPipelineForText2Image
        try:
            # `dtype`, not `torch_dtype`: diffusers 0.42 deprecates the latter.
            pipe = loader.from_pretrained(
                folder,
                dtype=_dtype_for(folder, self.dtype),
                local_files_only=True,
                **_without_safety_checker(folder),
            )
            pipe.to(self.device)
        except Exception as exc:
            # Anything from a corrupt model_index.json to a missing component or an
            # out-of-memory while moving to the device: the model cannot be used as it is.
            free_memory()  # what a half-moved pipeline left on the device
            raise ModelLoadError(f"{type(exc).__name__}: {exc}") from exc
        serving.prepare(pipe, self.options, self.device)
        model = LoadedModel(pipe, sha256=actual, options=self.options)
        if self.options.compile != "off" and self.device.type == "cuda" and not upscaler:
            warm_up(model)
            serving.compile_cache_save(self.options.compile_cache_dir)
        return model


def _dtype_for(folder: Path, dtype):
    """Flux's activations overflow float16 (its images come out black or NaN); it was trained
    and is served in bfloat16, which has float32's range."""
    if dtype == torch.float16 and folder_pipeline_class(folder).startswith("Flux"):
        return torch.bfloat16
    return dtype


def _without_safety_checker(folder: Path) -> dict:
    """SD 1.x folders may ship diffusers' safety checker, which blacks out flagged images
    silently and records nothing. Mintmark's image gate judges every output instead, with the
    org's thresholds and an audited result, so the built-in one is not loaded."""
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return {}  # from_pretrained reports a broken folder with its own message
    if index.get("_class_name") == UPSCALER_CLASS:
        # The x4 upscaler's pipeline takes no `requires_safety_checker`, and its invisible
        # watermarker would put a mark that is not this platform's into every output.
        return {"safety_checker": None, "watermarker": None}
    if "safety_checker" in index:
        return {"safety_checker": None, "requires_safety_checker": False}
    return {}


def _check_requests(spec: BatchSpec, requests: list[ImageRequest]) -> None:
    if not requests:
        raise ValueError("a batch needs at least one request")
    size = (spec.width, spec.height)
    for index, request in enumerate(requests):
        control = request.control_image
        if bool(spec.controlnet) != (control is not None):
            raise ValueError(f"request {index}: a control image goes with a ControlNet, and only")
        if control is not None and control.size != size:
            raise ValueError(
                f"request {index}: control image is {control.width}x{control.height}, "
                f"the batch is {spec.width}x{spec.height}"
            )
        init, mask = request.init_image, request.mask_image
        if spec.mode == TEXT_TO_IMAGE:
            if init is not None or mask is not None:
                raise ValueError(f"request {index}: text-to-image takes no input image or mask")
            continue
        if not isinstance(init, Image.Image):
            raise ValueError(f"request {index}: {spec.mode} needs an input image")
        if init.size != size:
            # Resizing here would silently change what the user asked to edit.
            raise ValueError(
                f"request {index}: input image is {init.width}x{init.height}, "
                f"the batch is {spec.width}x{spec.height}"
            )
        if spec.mode == INPAINT:
            if not isinstance(mask, Image.Image):
                raise ValueError(f"request {index}: inpaint needs a mask")
            if mask.size != init.size:
                raise ValueError(
                    f"request {index}: mask is {mask.width}x{mask.height}, "
                    f"input image is {init.width}x{init.height}"
                )
        elif mask is not None:
            raise ValueError(f"request {index}: image-to-image takes no mask")


def native_size(pipe: DiffusionPipeline) -> int:
    """The side the model was trained at: its UNet's (or SD3's and Flux's default) latent size
    times the VAE's scale."""
    unet = getattr(pipe, "unet", None)
    latent = unet.config.sample_size if unet is not None else pipe.default_sample_size
    return latent * pipe.vae_scale_factor


def warm_up(model: LoadedModel, *, size: int | None = None, steps: int = 2) -> dict[int, float]:
    """One short text-to-image batch per bucket (or of one image without buckets), so every
    compiled shape at `size` (default: the native size) is built before a request needs it.
    Returns the seconds each batch size took."""
    side = size or native_size(model.text_to_image)
    spec = BatchSpec(
        mode=TEXT_TO_IMAGE,
        width=side,
        height=side,
        steps=steps,
        guidance_scale=7.5,
        scheduler=model.schedulers[0],
    )
    seconds = {}
    for count in model.options.buckets or (1,):
        requests = [ImageRequest(prompt="warm-up", seed=index) for index in range(count)]
        began = time.perf_counter()
        run_batch(model, spec, requests)
        seconds[count] = time.perf_counter() - began
    return seconds


def _takes_size(pipe: DiffusionPipeline) -> bool:
    return "height" in inspect.signature(type(pipe).__call__).parameters


def run_batch(
    model: LoadedModel,
    spec: BatchSpec,
    requests: list[ImageRequest],
    *,
    on_step: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> list[Image.Image]:
    """Runs every request as one pipeline call and returns their images, in order.

    Each image gets its own generator seeded with its request's seed, so its initial noise
    (and, for edits, its VAE sample and any ancestral noise) is what it would be alone.
    `on_step(done, total)` follows the denoising loop; `total` is the loop's true length
    (an edit runs int(steps * strength) steps; second-order schedulers take extra passes).
    When `should_cancel()` returns True the loop stops at the next step and `Cancelled` is
    raised.

    With buckets set (compiled models) the batch is padded up to its bucket with copies of its
    last request, whose images are dropped: the compiled shape is reused instead of compiling
    a new one, and each real image is still what its request alone would give."""
    # 1. Check inputs
    _check_requests(spec, requests)
    if should_cancel is not None and should_cancel():
        raise Cancelled
    pipe = model.pipeline_for(spec.mode, spec.scheduler)
    if spec.controlnet:
        pipe = model.with_controlnet(pipe, spec.mode, spec.controlnet)
    model.use_adapters(spec.adapters)
    wanted = len(requests)
    padded = serving.bucket_size(wanted, model.options.buckets)
    requests = requests + [requests[-1]] * (padded - wanted)

    # 2. Prepare arguments. Generators live on the CPU: the same seed gives the same initial
    # noise on any device, which is what makes a seed reproducible for provenance.
    prompts = [request.prompt for request in requests]
    negatives = [request.negative_prompt for request in requests]
    if model.text_cache is not None:
        texts = model.text_cache.embeddings(pipe, prompts, negatives, pipe._execution_device)
    else:
        texts = {"prompt": prompts, "negative_prompt": negatives}
    kwargs = {
        **texts,
        "num_inference_steps": spec.steps,
        "guidance_scale": spec.guidance_scale,
        "generator": [torch.Generator("cpu").manual_seed(request.seed) for request in requests],
        "output_type": "pt" if model.options.device_postprocess else "pil",
    }
    if spec.mode != IMAGE_TO_IMAGE or _takes_size(pipe):
        # SD's image-to-image pipelines take their size from the input image (checked above);
        # SD3's and Flux's resize it to `height` x `width`, 1024 px unless told.
        kwargs.update(width=spec.width, height=spec.height)
    if spec.mode in EDIT_MODES:
        kwargs["image"] = [request.init_image.convert("RGB") for request in requests]
        kwargs["strength"] = spec.strength
    if spec.mode == INPAINT:
        kwargs["mask_image"] = [request.mask_image.convert("L") for request in requests]
    if spec.controlnet:
        # The text-to-image ControlNet pipelines take the control images as `image`; the
        # image-to-image ones take the edit's base there and the control images beside it.
        control_key = "image" if spec.mode == TEXT_TO_IMAGE else "control_image"
        kwargs[control_key] = [request.control_image.convert("RGB") for request in requests]
        kwargs["controlnet_conditioning_scale"] = float(spec.controlnet["scale"])

    # 3. Progress and cancellation, checked after every step of the denoising loop
    cancelled = False

    def step_end(pipeline, step_index, timestep, callback_kwargs):
        nonlocal cancelled
        if on_step is not None:
            total = getattr(pipeline, "_num_timesteps", None) or spec.denoising_steps
            on_step(step_index + 1, total)
        if should_cancel is not None and not cancelled and should_cancel():
            cancelled = True
            # diffusers' pipelines skip the remaining steps once `_interrupt` is set.
            pipeline._interrupt = True
        return {}

    # 4. Denoise and decode
    try:
        images = pipe(**kwargs, callback_on_step_end=step_end).images
        if cancelled:
            raise Cancelled
        if model.options.device_postprocess:
            images = serving.to_images(images)
    except torch.OutOfMemoryError as exc:
        raise OutOfMemory(str(exc)) from exc
    if len(images) != len(requests):
        raise RuntimeError(f"the pipeline returned {len(images)} images for {len(requests)}")
    return images[:wanted]
