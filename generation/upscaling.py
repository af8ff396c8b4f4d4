"""Running a batch of upscale requests on a resident upscaler (plain module, no Django): diffusers'
StableDiffusionUpscalePipeline makes each input image UPSCALE_FACTOR times larger on each side,
guided by its prompt. The worker calls this instead of `pipelines.run_batch` for upscale jobs;
loading, the scheduler swap and the batch rules are pipelines.py's."""

from collections.abc import Callable

import torch
from PIL import Image

from generation import serving
from generation.families import UPSCALE_FACTOR
from generation.pipelines import (
    UPSCALE,
    BatchSpec,
    Cancelled,
    ImageRequest,
    LoadedModel,
    OutOfMemory,
)

# The noise the pipeline adds to the input before denoising (its default and the model card's):
# more makes the output freer and less faithful to the input.
NOISE_LEVEL = 20


class _Stop(Exception):
    """Raised from the step callback: the upscale pipeline has no interrupt flag to set."""


def upscale_input_size(spec: BatchSpec) -> tuple[int, int]:
    """The input size of a batch whose output is spec.width x spec.height."""
    return spec.width // UPSCALE_FACTOR, spec.height // UPSCALE_FACTOR


def _check_requests(spec: BatchSpec, requests: list[ImageRequest]) -> None:
    if spec.mode != UPSCALE:
        raise ValueError(f"an upscale batch has mode {UPSCALE!r}, not {spec.mode!r}")
    if not requests:
        raise ValueError("a batch needs at least one request")
    size = upscale_input_size(spec)
    for index, request in enumerate(requests):
        if not isinstance(request.init_image, Image.Image):
            raise ValueError(f"request {index}: upscale needs an input image")
        if request.mask_image is not None:
            raise ValueError(f"request {index}: upscale takes no mask")
        if request.init_image.size != size:
            raise ValueError(
                f"request {index}: input image is {request.init_image.width}x"
                f"{request.init_image.height}, the batch upscales {size[0]}x{size[1]} images"
            )


def run_upscale(
    model: LoadedModel,
    spec: BatchSpec,
    requests: list[ImageRequest],
    *,
    on_step: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> list[Image.Image]:
    """Upscales every request's input image in one pipeline call and returns the images, in
    order, each spec.width x spec.height. Each image has its own generator seeded with its
    request's seed (the noise added to its input and its initial latents), so it is what the
    request alone would give. Progress and cancellation as `pipelines.run_batch`."""
    # 1. Check inputs
    _check_requests(spec, requests)
    if should_cancel is not None and should_cancel():
        raise Cancelled
    pipe = model.pipeline_for(spec.mode, spec.scheduler)

    # 2. Progress and cancellation, after every step of the denoising loop
    def step_end(step_index, timestep, latents):
        if on_step is not None:
            on_step(step_index + 1, spec.steps)
        if should_cancel is not None and should_cancel():
            raise _Stop

    # 3. Denoise and decode. Generators live on the CPU, as in run_batch, for seeds that give
    # the same image on any device.
    try:
        images = pipe(
            prompt=[request.prompt for request in requests],
            negative_prompt=[request.negative_prompt for request in requests],
            image=[request.init_image.convert("RGB") for request in requests],
            num_inference_steps=spec.steps,
            guidance_scale=spec.guidance_scale,
            noise_level=NOISE_LEVEL,
            generator=[torch.Generator("cpu").manual_seed(request.seed) for request in requests],
            output_type="pt" if model.options.device_postprocess else "pil",
            callback=step_end,
            callback_steps=1,
        ).images
        if model.options.device_postprocess:
            images = serving.to_images(images)
    except _Stop:
        raise Cancelled from None
    except torch.OutOfMemoryError as exc:
        raise OutOfMemory(str(exc)) from exc
    if len(images) != len(requests):
        raise RuntimeError(f"the pipeline returned {len(images)} images for {len(requests)}")
    size = (spec.width, spec.height)
    for image in images:
        if image.size != size:
            raise RuntimeError(f"the upscaler returned {image.size}, not {size}")
    return images
