from datetime import datetime
from uuid import UUID

from asgiref.sync import sync_to_async
from django.core.files.storage import storages
from django.http import FileResponse
from ninja import Router, Schema, Status
from pydantic import Field

from generation.events import stream_open, stream_response
from generation.job_input import GenerationIn, job_request_from_form, job_request_parse
from generation.selectors import (
    SUBMITTERS,
    asset_released_get,
    assets_visible,
    jobs_with_outcomes,
)
from generation.submission import JobRequest, job_cancel, job_submit
from generation.summaries import asset_summary, job_summary
from mintmark.errors import ApiError, ErrorOut
from mintmark.pagination import PageQuery, page_schema, paginate
from mintmark.parsing import FORM_MEDIA_TYPE, form_data, json_body
from moderation.api import GateResultOut
from orgs.access import ALL_ROLES, require_role

router = Router(tags=["generations"])


class StampOut(Schema):
    watermark_payload: str
    watermark_algorithm: str
    manifest_label: str
    certificate_serial: str
    sha256: str
    released_at: datetime | None


class AssetOut(Schema):
    id: UUID
    job: UUID
    index: int
    seed: int
    state: str
    width: int
    height: int
    sha256: str
    phash: str
    created_at: datetime
    parent_asset: UUID | None = Field(
        description="The released asset this image upscales (mode upscale), else null."
    )
    gate_results: list[GateResultOut]
    hold_reasons: list[str] = Field(description="Why it was held for review; empty if never.")
    review: dict | None
    provenance: StampOut | None
    file_url: str | None = Field(
        description="GET it for the released file (with its credentials); null until RELEASED."
    )
    provenance_url: str = Field(
        description="GET it for the provenance record (admins, auditors, the job's owner)."
    )


class ProgressOut(Schema):
    step: int
    total: int


class ControlOut(Schema):
    name: str
    version: str
    kind: str
    scale: float
    preprocess: str = Field(description="canny when the edges were computed from a photo.")


class JobOut(Schema):
    id: UUID
    state: str
    user: str
    prompt: str
    negative_prompt: str
    model: str
    mode: str
    width: int
    height: int
    steps: int
    guidance_scale: float
    scheduler: str
    strength: float | None
    parent_asset: UUID | None = Field(
        description="upscale: the released asset upscaled; null for an upload or other modes."
    )
    controlnet: ControlOut | None = Field(description="The ControlNet conditioning, if any.")
    num_images: int
    context: str
    callback_url: str
    seeds: list[int]
    policy_version: int
    progress: ProgressOut
    error: str
    created_at: datetime
    started_at: datetime | None
    generated_at: datetime | None
    finished_at: datetime | None
    hold_reasons: list[str] = Field(description="Why its images were held for review, if any.")
    assets: list[AssetOut]


def _request_from(request) -> JobRequest:
    """The job request from a JSON body or, for the edit modes, a multipart form, each read
    through the API's body guard (media type, size, JSON depth, NUL)."""
    if request.content_type == FORM_MEDIA_TYPE:
        return job_request_from_form(*form_data(request))
    raw = json_body(request, also=(FORM_MEDIA_TYPE,))
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return job_request_parse(raw)


_BODY_DOC = {
    "requestBody": {
        "content": {
            "application/json": {"schema": GenerationIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **GenerationIn.model_json_schema()["properties"],
                        "image": {"type": "string", "format": "binary"},
                        "mask": {"type": "string", "format": "binary"},
                        "control_image": {"type": "string", "format": "binary"},
                    },
                    "required": ["prompt", "model"],
                }
            },
        },
        "required": True,
    }
}


@router.post(
    "/generations", response={202: JobOut, 429: ErrorOut, 503: ErrorOut}, openapi_extra=_BODY_DOC
)
def generations_create(request):
    """Queues a job (202). Refusals: 422 bad parameters, 409 `model_not_licensed`, 429
    `quota_exceeded`; mode `upscale` (an upscaler model, `parent_asset` or an `image` upload):
    404 for a parent asset the caller cannot read, 409 `parent_not_released` or
    `parent_not_licensed` (its model may no longer be used), 422
    `invalid_size` when the image x4 is over the policy's maximum size."""
    membership = require_role(request, SUBMITTERS)
    job = job_submit(membership=membership, req=_request_from(request))
    return Status(202, job_summary(jobs_with_outcomes(membership=membership).get(pk=job.pk)))


@router.get("/generations", response=page_schema(JobOut))
def generations_list(request, page: PageQuery):
    membership = require_role(request, ALL_ROLES)
    jobs = jobs_with_outcomes(membership=membership).order_by("-created_at")
    return paginate(jobs, page, job_summary)


@router.get("/generations/{job_id}", response=JobOut)
def generations_get(request, job_id: UUID):
    membership = require_role(request, ALL_ROLES)
    return job_summary(
        jobs_with_outcomes(membership=membership).get_for_org(membership.org, pk=job_id)
    )


@router.get(
    "/generations/{job_id}/events",
    response={200: None, 429: ErrorOut},
    openapi_extra={
        "responses": {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}}
    },
)
async def generations_events(request, job_id: UUID):
    """Server-sent events: a `job` event now and whenever state or progress changes, until the
    job ends (or after `MINTMARK_EVENT_STREAM_MAX_S`; reconnect to go on), with a `: keep-alive`
    comment line every `MINTMARK_EVENT_STREAM_KEEPALIVE_S`. Refusal: 429 `too_many_streams`
    past `MINTMARK_EVENT_STREAMS_PER_USER` open streams."""
    return stream_response(await sync_to_async(stream_open)(request, job_id))


@router.post("/generations/{job_id}/cancel", response=JobOut)
def generations_cancel(request, job_id: UUID):
    # Staff see (and so can cancel) only their own jobs; admins any job of the org.
    membership = require_role(request, SUBMITTERS)
    job = jobs_with_outcomes(membership=membership).get_for_org(membership.org, pk=job_id)
    job_cancel(job=job, actor=membership.user)
    return job_summary(jobs_with_outcomes(membership=membership).get(pk=job.pk))


@router.get("/assets/{asset_id}", response=AssetOut)
def assets_get(request, asset_id: UUID):
    membership = require_role(request, ALL_ROLES)
    return asset_summary(
        assets_visible(membership=membership).get_for_org(membership.org, pk=asset_id)
    )


@router.get("/assets/{asset_id}/file")
def assets_file(request, asset_id: UUID):
    """The released file. Anything not RELEASED is 404: quarantined files are never served."""
    membership = require_role(request, ALL_ROLES)
    asset = asset_released_get(membership=membership, asset_id=asset_id)
    handle = storages["release"].open(asset.release_key)
    return FileResponse(handle, content_type="image/png", filename=f"{asset.pk}.png")
