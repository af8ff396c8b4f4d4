import json
import time
from datetime import datetime
from uuid import UUID

from django.core.files.storage import storages
from django.http import FileResponse, StreamingHttpResponse
from ninja import Router, Schema, Status
from pydantic import Field, ValidationError

from generation.models import Asset, GenerationJob
from generation.selectors import assets_visible, jobs_visible
from generation.submission import JobRequest, job_cancel, job_submit
from generation.transitions import TERMINAL
from mintmark.errors import ApiError
from mintmark.pagination import PageQuery, page_schema, paginate
from mintmark.parsing import refuse_nul
from moderation.api import GateResultOut, gate_result_out
from moderation.models import GateResult
from orgs.access import ALL_ROLES, require_role
from orgs.models import Membership
from policies.services import validation_message

router = Router(tags=["generations"])
Role = Membership.Role
SUBMITTERS = frozenset({Role.ADMIN, Role.STAFF})
EVENTS_POLL_S = 0.5
EVENTS_MAX_S = 300


class GenerationIn(Schema):
    prompt: str = Field(..., max_length=10_000)
    negative_prompt: str = Field("", max_length=10_000)
    model: str = Field(..., min_length=1, max_length=200, description="id, name or name:version")
    mode: str = "text-to-image"
    width: int | None = Field(None, ge=1, le=16384)
    height: int | None = Field(None, ge=1, le=16384)
    steps: int = Field(25, ge=1, le=10_000)
    guidance_scale: float = 7.5
    scheduler: str = "dpmpp_2m"
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    num_images: int = Field(1, ge=1, le=1000)
    context: str = Field("", max_length=32)
    strength: float | None = None


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
    gate_results: list[GateResultOut]
    review: dict | None
    provenance: StampOut | None


class ProgressOut(Schema):
    step: int
    total: int


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
    num_images: int
    context: str
    seeds: list[int]
    policy_version: int
    progress: ProgressOut
    error: str
    created_at: datetime
    started_at: datetime | None
    generated_at: datetime | None
    finished_at: datetime | None
    assets: list[AssetOut]


def _asset_out(asset: Asset) -> dict:
    return {
        "id": asset.id,
        "job": asset.job_id,
        "index": asset.index,
        "seed": asset.seed,
        "state": asset.state,
        "width": asset.width,
        "height": asset.height,
        "sha256": asset.sha256,
        "phash": asset.phash,
        "created_at": asset.created_at,
        "gate_results": _latest_results(asset),
        "review": _review_summary(asset),
        "provenance": _stamp_out(asset),
    }


def _latest_results(asset: Asset) -> list[dict]:
    latest = GateResult.latest_per_gate(asset.gate_results.all())
    return [gate_result_out(result) for result in latest.values()]


def _review_summary(asset: Asset) -> dict | None:
    review = getattr(asset, "review", None)
    if review is None:
        return None
    return {"decision": review.decision, "reason": review.reason, "at": review.created_at}


def _stamp_out(asset: Asset) -> dict | None:
    stamp = getattr(asset, "stamp", None)
    if stamp is None or stamp.released_at is None:
        return None
    return {
        "watermark_payload": f"{stamp.payload:x}",
        "watermark_algorithm": stamp.watermark_algorithm,
        "manifest_label": stamp.manifest_label,
        "certificate_serial": stamp.certificate_serial,
        "sha256": stamp.sha256,
        "released_at": stamp.released_at,
    }


def _job_out(job: GenerationJob) -> dict:
    fields = (
        "id",
        "state",
        "prompt",
        "negative_prompt",
        "mode",
        "width",
        "height",
        "steps",
        "guidance_scale",
        "scheduler",
        "strength",
        "num_images",
        "context",
        "seeds",
        "error",
        "created_at",
        "started_at",
        "generated_at",
        "finished_at",
    )
    return {
        **{name: getattr(job, name) for name in fields},
        "user": job.user.username,
        "model": str(job.model),
        "policy_version": job.policy.version,
        "progress": {"step": job.progress_step, "total": job.progress_total},
        "assets": [_asset_out(asset) for asset in job.assets.all()],
    }


def _jobs(membership):
    return (
        jobs_visible(membership=membership)
        .select_related("user", "model", "policy")
        .prefetch_related("assets__gate_results", "assets__stamp", "assets__review")
    )


def _request_from(request) -> JobRequest:
    """The job request from a JSON body or, for the edit modes, a multipart form."""
    files = {}
    if request.content_type == "multipart/form-data":
        raw = {key: value for key, value in request.POST.items() if value != ""}
        for name in ("image", "mask"):
            upload = request.FILES.get(name)
            if upload is not None:
                files[name] = upload.read()
    else:
        try:
            raw = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
        if not isinstance(raw, dict):
            raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    refuse_nul(raw)
    try:
        body = GenerationIn.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", validation_message(exc)) from None
    return JobRequest(**body.model_dump(), image=files.get("image"), mask=files.get("mask"))


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
                    },
                    "required": ["prompt", "model"],
                }
            },
        },
        "required": True,
    }
}


@router.post("/generations", response={202: JobOut}, openapi_extra=_BODY_DOC)
def generations_create(request):
    """Queues a job (202). Refusals: 422 bad parameters, 409 `model_not_licensed`, 429
    `quota_exceeded`."""
    membership = require_role(request, SUBMITTERS)
    job = job_submit(membership=membership, req=_request_from(request))
    return Status(202, _job_out(_jobs(membership).get(pk=job.pk)))


@router.get("/generations", response=page_schema(JobOut))
def generations_list(request, page: PageQuery):
    membership = require_role(request, ALL_ROLES)
    jobs = _jobs(membership).order_by("-created_at")
    return paginate(jobs, page, _job_out)


@router.get("/generations/{job_id}", response=JobOut)
def generations_get(request, job_id: UUID):
    membership = require_role(request, ALL_ROLES)
    return _job_out(_jobs(membership).get_for_org(membership.org, pk=job_id))


@router.get("/generations/{job_id}/events")
def generations_events(request, job_id: UUID):
    """Server-sent events: a `job` event whenever state or progress changes, until the job
    ends (or after five minutes; reconnect to go on)."""
    membership = require_role(request, ALL_ROLES)
    job = _jobs(membership).get_for_org(membership.org, pk=job_id)

    def stream():
        last = None
        deadline = time.monotonic() + EVENTS_MAX_S
        while True:
            current = GenerationJob.objects.filter(pk=job.pk).values(
                "state", "progress_step", "progress_total", "error"
            )[0]
            if current != last:
                last = current
                payload = {
                    "id": str(job.pk),
                    "state": current["state"],
                    "progress": {
                        "step": current["progress_step"],
                        "total": current["progress_total"],
                    },
                    "error": current["error"],
                }
                yield f"event: job\ndata: {json.dumps(payload)}\n\n"
            if current["state"] in TERMINAL or time.monotonic() > deadline:
                return
            time.sleep(EVENTS_POLL_S)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@router.post("/generations/{job_id}/cancel", response=JobOut)
def generations_cancel(request, job_id: UUID):
    # Staff see (and so can cancel) only their own jobs; admins any job of the org.
    membership = require_role(request, SUBMITTERS)
    job = _jobs(membership).get_for_org(membership.org, pk=job_id)
    job_cancel(job=job, actor=membership.user)
    return _job_out(_jobs(membership).get(pk=job.pk))


@router.get("/assets/{asset_id}", response=AssetOut)
def assets_get(request, asset_id: UUID):
    membership = require_role(request, ALL_ROLES)
    return _asset_out(
        assets_visible(membership=membership).get_for_org(membership.org, pk=asset_id)
    )


@router.get("/assets/{asset_id}/file")
def assets_file(request, asset_id: UUID):
    """The released file. Anything not RELEASED is 404: quarantined files are never served."""
    membership = require_role(request, ALL_ROLES)
    asset = assets_visible(membership=membership).get_for_org(
        membership.org, pk=asset_id, state=Asset.State.RELEASED
    )
    handle = storages["release"].open(asset.release_key)
    return FileResponse(handle, content_type="image/png", filename=f"{asset.pk}.png")
