"""A generation request as callers send it (the API's JSON or multipart body, the portal's
generate form), parsed into a JobRequest the same way for both; `job_submit` then checks it
against the policy."""

import json
from uuid import UUID

from django.core.files.uploadedfile import UploadedFile
from ninja import Schema
from pydantic import Field, ValidationError, field_validator

from generation.controlnets import ControlKind, ControlPreprocess
from generation.families import ALL_MODES, UPSCALE
from generation.schedulers import SCHEDULER_CLASSES
from generation.submission import JobRequest
from mintmark.errors import ApiError
from mintmark.parsing import refuse_nul
from policies.services import validation_message

UPLOADS = ("image", "mask", "control_image")
MODES = (*ALL_MODES, UPSCALE)


class AdapterIn(Schema):
    adapter: str = Field(..., min_length=1, max_length=200, description="name or name:version")
    weight: float = Field(1.0, description="LoRA scale, over 0 and at most the policy's limit")


class GenerationIn(Schema):
    prompt: str = Field(..., max_length=10_000)
    negative_prompt: str = Field("", max_length=10_000)
    model: str = Field(..., min_length=1, max_length=200, description="id, name or name:version")
    # An enum in the schema; the check stays in the submit service, which names the modes the
    # chosen model runs (422 mode_not_supported).
    mode: str = Field("text-to-image", json_schema_extra={"enum": list(MODES)})
    width: int | None = Field(None, ge=1, le=16384)
    height: int | None = Field(None, ge=1, le=16384)
    # Left out: the model family's defaults (README, "Model families").
    steps: int | None = Field(None, ge=1, le=10_000)
    guidance_scale: float | None = None
    scheduler: str | None = Field(
        None, description=f"One of {', '.join(SCHEDULER_CLASSES)}, as the model's family runs"
    )
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    num_images: int = Field(1, ge=1, le=1000)
    context: str = Field("", max_length=32)
    strength: float | None = None
    callback_url: str = Field(
        "",
        max_length=2000,
        description="http(s) URL on a host the org allows; receives the job's signed outcome "
        "events (README: Webhooks).",
    )
    parent_asset: UUID | None = Field(
        None,
        description="upscale: the id of a released asset of this organization to upscale x4 "
        "(or send an image upload instead).",
    )
    adapters: list[AdapterIn] = Field(
        default_factory=list,
        max_length=8,
        description="LoRA adapters of the chosen model to apply, in order (a form sends them "
        "as JSON text).",
    )
    control_kind: ControlKind | None = Field(
        None,
        description="ControlNet conditioning: the kind of the multipart control_image, one the "
        "model has a registered ControlNet for (text-to-image and image-to-image, SD 1.x and "
        "SDXL models).",
    )
    controlnet: str = Field(
        "",
        max_length=200,
        description="Which ControlNet of that kind (name or name:version); empty: the newest.",
    )
    control_scale: float | None = Field(
        None,
        description="ControlNet conditioning scale, over 0 up to the policy's max_scale; "
        "default 1.0.",
    )
    control_preprocess: ControlPreprocess = Field(
        "",
        description="canny: the control_image is a photo and its Canny edges are computed here "
        "(for a canny ControlNet); empty: the control_image is used as sent.",
    )

    @field_validator("adapters", mode="before")
    @classmethod
    def _adapters_from_form(cls, value):
        # A multipart form carries the list as JSON text; the API's JSON body as a list.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("adapters must be a JSON list") from None
        return value


def job_request_parse(
    raw: dict,
    *,
    image: bytes | None = None,
    mask: bytes | None = None,
    control_image: bytes | None = None,
) -> JobRequest:
    """The request from decoded fields; 422 `invalid_request` names every bad field."""
    refuse_nul(raw)
    try:
        body = GenerationIn.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", validation_message(exc)) from None
    return JobRequest(**body.model_dump(), image=image, mask=mask, control_image=control_image)


def job_request_from_form(fields, files: dict[str, UploadedFile]) -> JobRequest:
    """The request from form fields and uploads; a field left blank takes its default."""
    raw = {key: value for key, value in fields.items() if value != ""}
    uploads = {name: files[name].read() for name in UPLOADS if files.get(name) is not None}
    return job_request_parse(raw, **uploads)
