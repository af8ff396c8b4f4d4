"""ControlNets: registering a ControlNet folder for a base model with the kind of control image it
reads, and resolving a request's control image, kind and conditioning scale against the model
and the policy (which ControlNets, how strong). Canny edges are computed here from a photo when
the request asks; depth maps, poses and scribbles are the user's own control images (no
estimator weights are shipped)."""

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image

from audit.services import audit_append
from generation.families import FAMILIES, IMAGE_TO_IMAGE, TEXT_TO_IMAGE, family_traits
from generation.model_folders import model_folder_place
from generation.models import ControlNet, GenerativeModel
from generation.weights import WeightsError, weights_sha256
from mintmark.errors import ApiError
from mintmark.imageio import UnreadableImage, open_image
from policies.rules import PolicyRules

Kind = ControlNet.Kind
# The kinds as a schema type, so the API's JSON schema lists them (one list: the model's).
ControlKind = Literal[tuple(Kind.values)]
CONTROL_MODES = (TEXT_TO_IMAGE, IMAGE_TO_IMAGE)
DEFAULT_CONTROL_SCALE = 1.0
# What the platform computes from a photo: only Canny edges need no model weights.
PREPROCESSORS = {"canny": Kind.CANNY}
# The kinds whose control images are line drawings: one given as it is (not computed here from a
# photo) may be a training item's edges or a trace of it, so the training-data check compares
# it with the items' lines (moderation.edge_copies) as well as their pixels.
LINE_KINDS = frozenset({Kind.CANNY, Kind.SCRIBBLE})
ControlPreprocess = Literal[("", *PREPROCESSORS)]
# The thresholds of the hysteresis, as the ControlNet paper's Canny model was trained with
# (lllyasviel's annotator defaults, also diffusers' documentation).
CANNY_LOW, CANNY_HIGH = 100, 200
# The UNet config keys a ControlNet copies from the UNet it was trained on: its residuals are
# added to that UNet's blocks, so a ControlNet of another base cannot run on this one.
_SHAPE_KEYS = ("cross_attention_dim", "block_out_channels", "addition_embed_type")


def control_families() -> list[str]:
    return [name for name, family in FAMILIES.items() if family.controlnet]


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _controlnet_folder(org, local_path: str) -> tuple[Path, dict]:
    place = model_folder_place(local_path, settings.MODEL_ROOTS, settings.SHARED_MODEL_ROOTS)
    # The org's own folder (<root>/<slug>/...) or a shared root, one answer for every refusal,
    # as for adapters and model folders.
    if place is None or not (place.shared or org.slug in place.first_parts):
        raise ApiError(
            422,
            "invalid_controlnet_folder",
            "local_path is not a folder under this organization's model folder or a shared root.",
        )
    config = _read_config(place.folder / "config.json")
    if config.get("_class_name") != "ControlNetModel":
        found = config.get("_class_name") or "no diffusers config"
        raise ApiError(
            422,
            "invalid_controlnet_folder",
            f"local_path holds {found}, not a diffusers ControlNetModel (config.json).",
        )
    return place.folder, config


def _base_mismatch(base_model: GenerativeModel, config: dict) -> str | None:
    unet = _read_config(Path(base_model.local_path) / "unet" / "config.json")
    for key in _SHAPE_KEYS:
        ours, theirs = unet.get(key), config.get(key)
        if isinstance(ours, list | tuple) and isinstance(theirs, list | tuple):
            ours, theirs = list(ours), list(theirs)
        if ours != theirs:
            return f"its {key} is {theirs!r}, the UNet of {base_model} has {ours!r}"
    return None


def controlnet_register(
    *,
    org,
    actor,
    base_model: GenerativeModel,
    name: str,
    version: str,
    kind: str,
    local_path: str,
) -> ControlNet:
    """Registers a ControlNet folder for `base_model` (a model of the org, of a family that
    takes ControlNets), for control images of `kind`; its weights are hashed now and checked
    again by the worker before it loads them."""
    if base_model.org_id != org.pk:
        raise ApiError(422, "unknown_model", "The base model is not a model of this organization.")
    traits = family_traits(base_model.family)
    if not traits.controlnet:
        raise ApiError(
            422,
            "controlnet_not_supported",
            f"{base_model} ({traits.label}) takes no ControlNet; ControlNets run on "
            + ", ".join(FAMILIES[name].label for name in control_families())
            + " models.",
        )
    if not name.strip() or not version.strip():
        raise ApiError(422, "invalid_controlnet", "A ControlNet needs a name and a version.")
    if kind not in Kind.values:
        raise ApiError(
            422, "invalid_control_kind", f"kind must be one of {', '.join(Kind.values)}."
        )
    folder, config = _controlnet_folder(org, local_path)
    mismatch = _base_mismatch(base_model, config)
    if mismatch:
        raise ApiError(
            422,
            "controlnet_base_mismatch",
            f"The ControlNet was not trained for {base_model}: {mismatch}.",
        )
    try:
        digest = weights_sha256(folder, max_bytes=settings.MODEL_MAX_BYTES)
    except WeightsError as exc:
        raise ApiError(422, "invalid_controlnet_folder", str(exc)) from None
    with transaction.atomic():
        if ControlNet.objects.filter(org=org, name=name, version=version).exists():
            raise ApiError(409, "controlnet_exists", f"ControlNet {name}:{version} already exists.")
        controlnet = ControlNet.objects.create(
            org=org,
            base_model=base_model,
            name=name,
            version=version,
            kind=kind,
            local_path=str(folder),
            weights_sha256=digest,
        )
        audit_append(
            org=org,
            actor=actor,
            action="controlnet.registered",
            subject=controlnet,
            data={
                "name": name,
                "version": version,
                "kind": kind,
                "base_model": str(base_model),
                "local_path": str(folder),
                "weights_sha256": digest,
            },
        )
    return controlnet


def controlnets_offered(org, model: GenerativeModel) -> list[ControlNet]:
    """The ControlNets a job on `model` may name, by kind then newest first."""
    if not family_traits(model.family).controlnet:
        return []
    return list(
        ControlNet.objects.for_org(org).filter(base_model=model).order_by("kind", "-created_at")
    )


def canny_edges(image: Image.Image) -> Image.Image:
    """White Canny edges on black, three channels, as Canny ControlNets read them."""
    gray = np.asarray(image.convert("L"))
    edges = cv2.Canny(gray, CANNY_LOW, CANNY_HIGH)
    return Image.fromarray(np.stack([edges] * 3, axis=-1))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class ControlChoice:
    controlnet: ControlNet
    scale: float
    preprocess: str
    # The upload re-encoded (what the training-data check reads) and the control image the
    # worker conditions on (the same, or its Canny edges).
    upload_png: bytes
    control_png: bytes

    @property
    def line_drawing(self) -> bool:
        return self.controlnet.kind in LINE_KINDS and not self.preprocess

    def as_job_entry(self) -> dict:
        controlnet = self.controlnet
        return {
            "id": str(controlnet.pk),
            "name": controlnet.name,
            "version": controlnet.version,
            "kind": controlnet.kind,
            "scale": self.scale,
            "preprocess": self.preprocess,
            "sha256": controlnet.weights_sha256,
            "path": controlnet.local_path,
        }


def _controlnet_for(org, model: GenerativeModel, kind: str, ref: str) -> ControlNet:
    offered = controlnets_offered(org, model)
    if ref:
        name, _, version = ref.partition(":")
        named = [c for c in offered if c.name == name and (not version or c.version == version)]
        if not named:
            raise ApiError(
                422,
                "unknown_controlnet",
                f"No ControlNet {ref!r} for {model} in this organization.",
            )
        if named[0].kind != kind:
            raise ApiError(
                422,
                "control_kind_not_offered",
                f"ControlNet {named[0]} reads {named[0].kind} images, not {kind}.",
            )
        return named[0]
    found = next((c for c in offered if c.kind == kind), None)
    if found is None:
        kinds = sorted({c.kind for c in offered})
        raise ApiError(
            422,
            "control_kind_not_offered",
            f"{model} has no ControlNet for {kind} images; it offers "
            + (", ".join(kinds) if kinds else "none")
            + ".",
        )
    return found


def control_resolve(*, org, model: GenerativeModel, req, rules: PolicyRules, max_pixels: int):
    """The request's ControlNet conditioning (a ControlChoice), or None when it asks for none.
    Fills the job's size from the control image when the request gave none; refuses with 422
    and the reason: a family or mode without ControlNets, a kind the model has no ControlNet
    for, one the policy does not allow, a scale out of bounds, a preprocessing the kind cannot
    use, a missing, unreadable or oversized control image, or one of another size."""
    asked = req.control_image is not None or req.control_kind or req.controlnet
    if not asked:
        if req.control_scale is not None or req.control_preprocess:
            raise ApiError(
                422,
                "missing_control_kind",
                "control_scale and control_preprocess need a control_kind and a control_image.",
            )
        return None
    traits = family_traits(model.family)
    if not traits.controlnet:
        raise ApiError(
            422,
            "controlnet_not_supported",
            f"{model} ({traits.label}) takes no ControlNet; ControlNets run on "
            + ", ".join(FAMILIES[name].label for name in control_families())
            + " models.",
        )
    if req.mode not in CONTROL_MODES:
        raise ApiError(
            422,
            "controlnet_not_supported",
            f"ControlNet conditioning works with {' and '.join(CONTROL_MODES)}, not {req.mode}.",
        )
    if not req.control_kind:
        raise ApiError(422, "missing_control_kind", "A control image needs a control_kind.")
    if req.control_image is None:
        raise ApiError(
            422, "missing_control_image", f"control_kind {req.control_kind} needs a control_image."
        )
    controlnet = _controlnet_for(org, model, req.control_kind, req.controlnet or "")
    allowed = rules.controlnets.allowed
    if allowed and not {controlnet.name, str(controlnet)} & set(allowed):
        raise ApiError(
            422, "controlnet_not_allowed", f"The policy does not allow ControlNet {controlnet}."
        )
    scale = DEFAULT_CONTROL_SCALE if req.control_scale is None else float(req.control_scale)
    limit = rules.controlnets.max_scale
    if not 0 < scale <= limit:
        raise ApiError(
            422,
            "invalid_control_scale",
            f"control_scale must be over 0 and at most {limit:g} (the policy's limit).",
        )
    preprocess = req.control_preprocess or ""
    if preprocess and PREPROCESSORS.get(preprocess) != controlnet.kind:
        raise ApiError(
            422,
            "invalid_control_preprocess",
            f"Only canny edges are computed here; a {controlnet.kind} ControlNet needs your own "
            f"{Kind(controlnet.kind).label.lower()} as the control image.",
        )
    try:
        image, _ = open_image(req.control_image, max_pixels=max_pixels)
    except UnreadableImage as exc:
        raise ApiError(422, "invalid_control_image", f"The control image: {exc}.") from None
    req.width = req.width or image.width
    req.height = req.height or image.height
    if image.size != (req.width, req.height):
        raise ApiError(
            422,
            "control_size_mismatch",
            f"The control image is {image.width}x{image.height}; the job asks for "
            f"{req.width}x{req.height}.",
        )
    control = canny_edges(image) if preprocess else image
    return ControlChoice(controlnet, scale, preprocess, _png(image), _png(control))


def controlnet_summary(job) -> dict | None:
    """The ControlNet that conditioned a job, as its records name it (its folder left out)."""
    if not job.controlnet:
        return None
    keys = ("name", "version", "kind", "scale", "preprocess", "sha256")
    return {key: job.controlnet[key] for key in keys}
