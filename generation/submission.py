"""Submitting and cancelling generation jobs: everything checked synchronously in the request
(role is the API's), so a refused request leaves no job, no file and no quota spent."""

import io
import secrets
import uuid
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction

from audit.services import audit_append
from generation.adapters import adapters_resolve
from generation.controlnets import control_resolve, controlnet_summary
from generation.families import Family, family_traits
from generation.models import GenerationJob, GenerativeModel
from generation.posture import model_posture
from generation.quota import quota_check
from generation.tasks import run_job
from generation.transitions import TERMINAL, job_transition
from generation.upscale import upscale_input
from mintmark import metrics
from mintmark.errors import ApiError
from mintmark.imageio import UnreadableImage, open_image
from moderation.input_check import input_checks_store, inputs_screen
from moderation.screening import prompt_result_store, prompt_screen, submitter_check
from orgs.models import Membership, Organization
from policies.rules import DEPLOYMENT_CONTEXTS, PolicyRules
from policies.selectors import policy_active
from webhooks.services import callback_check

Mode = GenerationJob.Mode
MAX_SEED = 2**63 - 1
# Latent diffusion works on 1/8-size latents; below 32 px there is nothing left to denoise.
MIN_SIZE = 32
# Edit inputs above this are refused before decoding (decompression bombs).
MAX_INPUT_PIXELS = 16_000_000
# What a request that leaves them out gets (a text-to-image size; an edit takes its image's).
DEFAULT_SIZE = 512
DEFAULT_STRENGTH = 0.75
MAX_GUIDANCE = 30.0


@dataclass
class JobRequest:
    prompt: str
    model: str
    mode: str = Mode.TEXT_TO_IMAGE
    negative_prompt: str = ""
    width: int | None = None
    height: int | None = None
    # Left out (None): the model family's defaults (generation/families.py).
    steps: int | None = None
    guidance_scale: float | None = None
    scheduler: str | None = None
    seed: int | None = None
    num_images: int = 1
    context: str = ""
    strength: float | None = None
    image: bytes | None = None
    mask: bytes | None = None
    callback_url: str = ""
    # [{"adapter": name or name:version, "weight": w}]
    adapters: list = field(default_factory=list)
    # upscale: the released asset to upscale (instead of an image upload)
    parent_asset: uuid.UUID | None = None
    # ControlNet conditioning (generation/controlnets.py): a control image of a kind the model
    # has a ControlNet for, optionally that ControlNet's name, its scale and a preprocessing.
    control_image: bytes | None = None
    control_kind: str | None = None
    controlnet: str = ""
    control_scale: float | None = None
    control_preprocess: str = ""


def _model_for(org: Organization, ref: str) -> GenerativeModel:
    """A model by id, by name:version, or by name (its newest version)."""
    models = GenerativeModel.objects.for_org(org)
    name, _, version = ref.partition(":")
    found = models.filter(name=name, version=version).first() if version else None
    if found is None:
        found = models.filter(name=ref).order_by("-created_at").first()
    if found is None:
        try:
            found = models.filter(pk=uuid.UUID(ref)).first()
        except ValueError:
            found = None
    if found is None:
        raise ApiError(422, "unknown_model", f"No model {ref!r} in this organization.")
    return found


def _decode(data: bytes, what: str):
    try:
        image, _ = open_image(data, max_pixels=MAX_INPUT_PIXELS)
    except UnreadableImage as exc:
        raise ApiError(422, f"invalid_{what}", f"The {what}: {exc}.") from None
    return image


def _apply_family(req: JobRequest, model: GenerativeModel) -> Family:
    """Fills what the request left out with the family's defaults and refuses what the family
    cannot do, each with its own reason."""
    traits = family_traits(model.family)
    if req.mode not in traits.modes:
        raise ApiError(
            422,
            "mode_not_supported",
            f"{model} ({traits.label}) supports the modes {', '.join(traits.modes)}.",
        )
    if req.steps is None:
        req.steps = traits.default_steps
    if req.guidance_scale is None:
        req.guidance_scale = traits.default_guidance
    if req.scheduler is None:
        req.scheduler = traits.default_scheduler
    if req.scheduler not in traits.schedulers:
        raise ApiError(
            422,
            "invalid_scheduler",
            f"{model} ({traits.label}) runs the schedulers {', '.join(traits.schedulers)}.",
        )
    if req.negative_prompt.strip() and not traits.negative_prompt:
        raise ApiError(
            422,
            "negative_prompt_not_supported",
            f"{model} ({traits.label}) takes no negative prompt.",
        )
    return traits


def _check_parameters(req: JobRequest, rules: PolicyRules, multiple: int = 8) -> None:
    prompt = req.prompt.strip()
    if not prompt:
        raise ApiError(422, "invalid_prompt", "The prompt is empty.")
    if len(prompt) > rules.prompt.max_length:
        raise ApiError(
            422,
            "invalid_prompt",
            f"The prompt has {len(prompt)} characters; "
            f"the policy allows {rules.prompt.max_length}.",
        )
    if len(req.negative_prompt) > rules.prompt.max_length:
        raise ApiError(422, "invalid_prompt", "The negative prompt is too long.")
    for name, value, limit in (
        ("width", req.width, rules.max_width),
        ("height", req.height, rules.max_height),
    ):
        if value is None or value < MIN_SIZE or value % multiple:
            raise ApiError(
                422,
                "invalid_size",
                f"{name} must be a multiple of {multiple}, at least {MIN_SIZE}.",
            )
        if value > limit:
            raise ApiError(422, "invalid_size", f"{name} {value} is over the policy's {limit}.")
    if not 1 <= req.steps <= rules.max_steps:
        raise ApiError(422, "invalid_steps", f"steps must be 1 to {rules.max_steps}.")
    if not 1 <= req.num_images <= rules.max_images_per_job:
        raise ApiError(
            422, "invalid_num_images", f"num_images must be 1 to {rules.max_images_per_job}."
        )
    if not 0.0 <= req.guidance_scale <= MAX_GUIDANCE:
        raise ApiError(
            422, "invalid_guidance", f"guidance_scale must be between 0 and {MAX_GUIDANCE:g}."
        )
    if req.seed is not None and not 0 <= req.seed <= MAX_SEED - req.num_images:
        raise ApiError(422, "invalid_seed", f"seed must be 0 to {MAX_SEED - req.num_images}.")
    if req.context and req.context not in DEPLOYMENT_CONTEXTS:
        raise ApiError(
            422, "invalid_context", f"context must be one of {', '.join(DEPLOYMENT_CONTEXTS)}."
        )


def _check_inputs(req: JobRequest) -> tuple[bytes | None, bytes | None]:
    """Decodes edit inputs, takes the job's size from the image when none was given, and
    returns the inputs re-encoded as PNG (never the uploaded bytes)."""
    if req.mode == Mode.TEXT_TO_IMAGE:
        if req.image is not None or req.mask is not None:
            raise ApiError(422, "unexpected_image", "text-to-image takes no image or mask.")
        return None, None
    if req.image is None:
        raise ApiError(422, "missing_image", f"{req.mode} needs an image upload.")
    image = _decode(req.image, "image")
    req.width = req.width or image.width
    req.height = req.height or image.height
    if (image.width, image.height) != (req.width, req.height):
        raise ApiError(
            422,
            "size_mismatch",
            f"The image is {image.width}x{image.height}; the job asks for "
            f"{req.width}x{req.height}.",
        )
    mask = None
    if req.mode == Mode.INPAINT:
        if req.mask is None:
            raise ApiError(422, "missing_mask", "inpaint needs a mask upload.")
        mask = _decode(req.mask, "mask")
        if mask.size != image.size:
            raise ApiError(
                422,
                "mask_size_mismatch",
                f"The mask is {mask.width}x{mask.height}; "
                f"the image is {image.width}x{image.height}.",
            )
    elif req.mask is not None:
        raise ApiError(422, "unexpected_mask", "Only inpaint takes a mask.")
    if req.strength is None:
        req.strength = DEFAULT_STRENGTH
    if not 0.0 < req.strength <= 1.0:
        raise ApiError(422, "invalid_strength", "strength must be in (0, 1].")
    if int(req.steps * req.strength) < 1:
        # An edit runs int(steps x strength) denoising steps; zero would return the input.
        raise ApiError(422, "invalid_strength", "steps x strength must be at least 1.")
    return _png(image), (_png(mask) if mask is not None else None)


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def default_side(model) -> int:
    """The side a text-to-image request without a size gets: the size the model was trained
    at (its folder's configs say which), else its family's."""
    return model.native_size or family_traits(model.family).default_size


def job_submit(*, membership: Membership, req: JobRequest) -> GenerationJob:
    """Checks a request against the org's active policy, the model's licence posture and the
    quota, then creates the job (QUEUED) and queues it for a GPU worker once committed."""
    org, user = membership.org, membership.user
    if req.mode not in Mode.values:
        raise ApiError(422, "invalid_mode", f"mode must be one of {', '.join(Mode.values)}.")
    submitter_check(org=org, user=user)
    policy = policy_active(org=org)
    rules = PolicyRules.model_validate(policy.rules)
    model = _model_for(org, req.model)
    if model.state != GenerativeModel.State.READY:
        raise ApiError(
            409,
            "model_not_verified",
            f"{model} cannot be used until its weights are verified (it is {model.state}).",
        )
    choices = adapters_resolve(org=org, model=model, requested=req.adapters, rules=rules)
    adapters = [choice.adapter for choice in choices]
    posture = model_posture(model=model, rules=rules, adapters=adapters)
    if not posture.usable:
        with_adapters = f" with {', '.join(map(str, adapters))}" if adapters else ""
        raise ApiError(
            409,
            "model_not_licensed",
            f"{model}{with_adapters} may not be used under policy v{policy.version}: "
            + "; ".join(posture.reasons),
            reasons=posture.reasons,
        )
    traits = _apply_family(req, model)
    control = control_resolve(
        org=org, model=model, req=req, rules=rules, max_pixels=MAX_INPUT_PIXELS
    )
    if req.mode == Mode.TEXT_TO_IMAGE:
        req.width = req.width or default_side(model)
        req.height = req.height or default_side(model)
    if req.mode == Mode.UPSCALE:
        upscaled = upscale_input(membership=membership, req=req, rules=rules, traits=traits)
        parent, image_png, mask_png = upscaled.parent, upscaled.png, None
    elif req.parent_asset is not None:
        raise ApiError(422, "unexpected_parent_asset", "Only upscale takes a parent_asset.")
    else:
        parent, (image_png, mask_png) = None, _check_inputs(req)
    _check_parameters(req, rules, traits.size_multiple)
    callback_url = callback_check(org=org, url=req.callback_url)
    verdict = prompt_screen(
        org=org,
        user=user,
        prompt=req.prompt.strip(),
        rules=rules,
        negative_prompt=req.negative_prompt,
    )
    inputs = inputs_screen(
        org=org,
        user=user,
        model=model,
        rules=rules,
        inputs={
            **({"image": image_png} if image_png else {}),
            **({"control_image": control.upload_png} if control else {}),
        },
        line_drawings=("control_image",) if control and control.line_drawing else (),
        adapters=adapters,
        skip_assets=(parent.pk,) if parent is not None else (),
    )
    first_seed = req.seed if req.seed is not None else secrets.randbelow(MAX_SEED - 64)
    with transaction.atomic():
        Organization.objects.select_for_update().only("id").get(pk=org.pk)
        quota_check(org=org, user=user, rules=rules, images=req.num_images)
        job = GenerationJob(
            org=org,
            user=user,
            model=model,
            policy=policy,
            prompt=req.prompt.strip(),
            negative_prompt=req.negative_prompt,
            mode=req.mode,
            width=req.width,
            height=req.height,
            steps=req.steps,
            guidance_scale=req.guidance_scale,
            scheduler=req.scheduler,
            strength=req.strength if req.mode != Mode.TEXT_TO_IMAGE else None,
            num_images=req.num_images,
            context=req.context,
            callback_url=callback_url,
            seeds=[first_seed + i for i in range(req.num_images)],
            adapters=[choice.as_job_entry() for choice in choices],
            controlnet=control.as_job_entry() if control else {},
            quota_images=req.num_images,
            parent_asset=parent,
        )
        store = storages["quarantine"]
        if image_png is not None:
            job.input_image_key = store.save(f"inputs/{job.pk}/image.png", ContentFile(image_png))
        if mask_png is not None:
            job.mask_image_key = store.save(f"inputs/{job.pk}/mask.png", ContentFile(mask_png))
        if control is not None:
            job.control_image_key = store.save(
                f"inputs/{job.pk}/control.png", ContentFile(control.control_png)
            )
        job.save(force_insert=True)
        prompt_result_store(job=job, verdict=verdict)
        input_checks_store(job=job, screen=inputs)
        audit_append(
            org=org,
            actor=user,
            action="generation.submitted",
            subject=job,
            data={
                "model": str(model),
                "policy_version": policy.version,
                "mode": job.mode,
                "prompt": job.prompt,
                "negative_prompt": job.negative_prompt,
                "size": [job.width, job.height],
                "steps": job.steps,
                "guidance_scale": job.guidance_scale,
                "scheduler": job.scheduler,
                "strength": job.strength,
                "seeds": job.seeds,
                "context": job.context,
                "callback_url": job.callback_url,
                "parent_asset": str(parent.pk) if parent is not None else None,
                "adapters": [
                    {key: entry[key] for key in ("name", "version", "weight", "sha256")}
                    for entry in job.adapters
                ],
                "controlnet": controlnet_summary(job),
                "prompt_gate": {
                    "verdict": verdict.verdict,
                    "category": verdict.category,
                    "version": verdict.gate_version,
                },
            },
        )
        metrics.job_entered(state=GenerationJob.State.QUEUED)
        transaction.on_commit(lambda: run_job.delay(str(job.pk)))
    return job


def job_cancel(*, job: GenerationJob, actor) -> GenerationJob:
    if job.state in TERMINAL:
        raise ApiError(409, "job_finished", f"The job already ended {job.state}.")
    cancelled = job_transition(job_id=job.pk, to=GenerationJob.State.CANCELLED, actor=actor)
    if cancelled is None:
        job.refresh_from_db()
        raise ApiError(409, "job_finished", f"The job already ended {job.state}.")
    return cancelled
