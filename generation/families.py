"""What each model family can do and what a request gets when it leaves a field out (plain module,
no torch, so the web process validates requests and builds its forms from it).

UNet families (SD 1.x, SDXL) predict noise and run every noise scheduler; SD3 and Flux are
flow-matching transformers that run only the flow-matching Euler scheduler, and their latents are
cut into 2x2 patches, so a side must be a multiple of 16 (8 of the VAE x 2). Flux-dev is
guidance-distilled: `guidance_scale` feeds its guidance embedding and it has no negative
prompt. The step and guidance defaults are the ones each family's model card gives."""

from dataclasses import dataclass

from generation.schedulers import FLOW_SCHEDULERS, NOISE_SCHEDULERS

TEXT_TO_IMAGE, IMAGE_TO_IMAGE, INPAINT = "text-to-image", "image-to-image", "inpaint"
ALL_MODES = (TEXT_TO_IMAGE, IMAGE_TO_IMAGE, INPAINT)
# An upscaler's only mode (generation/upscale.py): an image (a released asset or an upload) made
# UPSCALE_FACTOR times larger on each side.
UPSCALE = "upscale"
UPSCALE_FACTOR = 4


@dataclass(frozen=True)
class Family:
    label: str
    modes: tuple[str, ...]
    schedulers: tuple[str, ...]
    default_scheduler: str
    default_steps: int
    default_guidance: float
    # Used when the folder's configs do not say (generation.weights.folder_native_size does).
    default_size: int
    size_multiple: int = 8
    negative_prompt: bool = True
    # Takes a registered ControlNet (generation/controlnets.py): the UNet families do.
    controlnet: bool = False


FAMILIES = {
    "sd15": Family(
        "Stable Diffusion 1.x",
        ALL_MODES,
        NOISE_SCHEDULERS,
        "dpmpp_2m",
        25,
        7.5,
        512,
        controlnet=True,
    ),
    "sdxl": Family(
        "Stable Diffusion XL",
        ALL_MODES,
        NOISE_SCHEDULERS,
        "dpmpp_2m",
        25,
        7.5,
        1024,
        controlnet=True,
    ),
    "sd3": Family(
        "Stable Diffusion 3", ALL_MODES, FLOW_SCHEDULERS, "flow_euler", 28, 7.0, 1024, 16
    ),
    "flux": Family(
        "Flux", ALL_MODES, FLOW_SCHEDULERS, "flow_euler", 28, 3.5, 1024, 16, negative_prompt=False
    ),
    "other": Family(
        "Other latent diffusion", ALL_MODES, NOISE_SCHEDULERS, "dpmpp_2m", 25, 7.5, 512
    ),
    # Stable Diffusion x4 upscaler: DDIM with its v-prediction schedule at guidance 9 (the
    # pipeline's default), 50 steps (its documented default; its signature says 75, over the
    # default policy's max_steps). Its default size is the input side it was trained on; the
    # input's sides must be multiples of 8 (its UNet halves the latent three times).
    "upscaler": Family("Upscaler x4", (UPSCALE,), NOISE_SCHEDULERS, "ddim", 50, 9.0, 128),
}


def family_traits(family: str) -> Family:
    return FAMILIES.get(family, FAMILIES["other"])


# The pipeline classes (model_index.json's `_class_name`) of the transformer families and the
# upscaler, whose weights the text-to-image UNet families' code cannot run and the other way
# round.
_PIPELINE_PREFIXES = {
    "sd3": "StableDiffusion3",
    "flux": "Flux",
    "upscaler": "StableDiffusionUpscale",
}


def family_mismatch(family: str, pipeline_class: str) -> str | None:
    """Why a folder whose pipeline is `pipeline_class` cannot be registered as `family`; None
    when it can (a folder without a class is left to the loader to judge)."""
    if not pipeline_class:
        return None
    for name, prefix in _PIPELINE_PREFIXES.items():
        if pipeline_class.startswith(prefix) != (family == name):
            return f"the folder holds a {pipeline_class}, not a {family_traits(family).label} model"
    return None


def scheduler_groups() -> list[dict]:
    """The schedulers by the families that run them, for forms: [{"label", "names"}]."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for family in FAMILIES.values():
        groups.setdefault(family.schedulers, []).append(family.label)
    return [{"label": ", ".join(labels), "names": names} for names, labels in groups.items()]
