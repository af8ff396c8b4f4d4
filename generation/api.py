from datetime import datetime
from uuid import UUID

from ninja import Router, Schema, Status
from pydantic import Field

from generation.adapters import adapter_register
from generation.controlnets import ControlKind, controlnet_register
from generation.models import ControlNet, GenerativeModel, LoraAdapter
from generation.posture import model_posture
from generation.services import model_register
from mintmark.pagination import PageQuery, page_schema, paginate
from orgs.access import ADMIN, ALL_ROLES, require_role
from policies.selectors import policy_active_rules

router = Router(tags=["models"])


class PostureOut(Schema):
    usable: bool = Field(..., description="May be used under the org's active policy.")
    commercial: bool
    non_commercial: bool
    reasons: list[str]
    datasets: list[dict]


class ModelVerificationOut(Schema):
    bytes_done: int = Field(..., description="Bytes of weight files hashed so far.")
    bytes_total: int | None = Field(..., description="Bytes of weight files in all, once known.")
    error: str = Field(..., description="Why verification failed; empty otherwise.")
    verified_at: datetime | None


class ModelOut(Schema):
    id: UUID
    name: str
    version: str
    family: str
    state: str = Field(
        ...,
        description="verifying (its weights are being hashed), ready (usable) or failed.",
    )
    verification: ModelVerificationOut
    weights_sha256: str = Field(..., description="Empty until the model is ready.")
    trained_on: list[UUID]
    model_card: str
    created_at: datetime
    licence_posture: PostureOut


class ModelIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    version: str = Field(..., min_length=1, max_length=50)
    family: str
    local_path: str = Field(
        ...,
        min_length=1,
        max_length=1000,
        description="A diffusers folder under a model root this organization may use: its own "
        "<root>/<org-slug>/, a folder no other organization registered, or a shared root. A "
        "relative path is taken from each root in turn.",
    )
    trained_on: list[UUID] = Field(default_factory=list)
    model_card: str = Field("", max_length=100_000)


def _model_out(model: GenerativeModel, rules) -> dict:
    return {
        "id": model.id,
        "name": model.name,
        "version": model.version,
        "family": model.family,
        "state": model.state,
        "verification": {
            "bytes_done": model.verify_bytes_done,
            "bytes_total": model.verify_bytes_total,
            "error": model.verify_error,
            "verified_at": model.verified_at,
        },
        "weights_sha256": model.weights_sha256,
        "trained_on": [d.pk for d in model.trained_on.all()],
        "model_card": model.model_card,
        "created_at": model.created_at,
        "licence_posture": model_posture(model=model, rules=rules).as_dict(),
    }


@router.get("/models", response=page_schema(ModelOut))
def models_list(request, page: PageQuery):
    membership = require_role(request, ALL_ROLES)
    rules = policy_active_rules(org=membership.org)
    queryset = (
        GenerativeModel.objects.for_org(membership.org)
        .prefetch_related("trained_on")
        .order_by("-created_at")
    )
    return paginate(queryset, page, lambda m: _model_out(m, rules))


@router.post("/models", response={201: ModelOut})
def models_register(request, body: ModelIn):
    """Registers a folder under an allowed model root (README, "Model folders"). The model
    answers `verifying`: its weights are hashed by a worker, and it can be used once `ready`."""
    membership = require_role(request, ADMIN)
    model = model_register(
        org=membership.org,
        actor=request.auth,
        name=body.name,
        version=body.version,
        family=body.family,
        local_path=body.local_path,
        dataset_ids=body.trained_on,
        model_card=body.model_card,
    )
    return Status(201, _model_out(model, policy_active_rules(org=membership.org)))


@router.get("/models/{model_id}", response=ModelOut)
def models_get(request, model_id: UUID):
    membership = require_role(request, ALL_ROLES)
    model = GenerativeModel.objects.get_for_org(membership.org, pk=model_id)
    return _model_out(model, policy_active_rules(org=membership.org))


class AdapterIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    version: str = Field(..., min_length=1, max_length=50)
    local_path: str = Field(
        ...,
        min_length=1,
        max_length=1000,
        description="A folder holding pytorch_lora_weights.safetensors, under this "
        "organization's <root>/<org-slug>/ or a shared root.",
    )
    trained_on: list[UUID] = Field(
        default_factory=list, description="The datasets the adapter was fine-tuned on."
    )


class AdapterOut(Schema):
    id: UUID
    base_model: UUID
    name: str
    version: str
    weights_sha256: str
    trained_on: list[UUID]
    created_at: datetime
    licence_posture: PostureOut = Field(
        ..., description="The base model's posture with this adapter applied."
    )


def _adapter_out(adapter: LoraAdapter, rules) -> dict:
    posture = model_posture(model=adapter.base_model, rules=rules, adapters=[adapter])
    return {
        "id": adapter.id,
        "base_model": adapter.base_model_id,
        "name": adapter.name,
        "version": adapter.version,
        "weights_sha256": adapter.weights_sha256,
        "trained_on": [d.pk for d in adapter.trained_on.all()],
        "created_at": adapter.created_at,
        "licence_posture": posture.as_dict(),
    }


@router.get("/models/{model_id}/adapters", response=list[AdapterOut])
def adapters_list(request, model_id: UUID):
    membership = require_role(request, ALL_ROLES)
    model = GenerativeModel.objects.get_for_org(membership.org, pk=model_id)
    rules = policy_active_rules(org=membership.org)
    return [_adapter_out(adapter, rules) for adapter in model.adapters.order_by("name")]


@router.post("/models/{model_id}/adapters", response={201: AdapterOut})
def adapters_register(request, model_id: UUID, body: AdapterIn):
    """Registers a LoRA adapter folder for this model with its training datasets; its weights
    are hashed now (README, "LoRA adapters")."""
    membership = require_role(request, ADMIN)
    model = GenerativeModel.objects.get_for_org(membership.org, pk=model_id)
    adapter = adapter_register(
        org=membership.org,
        actor=request.auth,
        base_model=model,
        name=body.name,
        version=body.version,
        local_path=body.local_path,
        dataset_ids=body.trained_on,
    )
    return Status(201, _adapter_out(adapter, policy_active_rules(org=membership.org)))


class ControlNetIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    version: str = Field(..., min_length=1, max_length=50)
    kind: ControlKind = Field(..., description="The control images it was trained on.")
    local_path: str = Field(
        ...,
        min_length=1,
        max_length=1000,
        description="A diffusers ControlNetModel folder (config.json, safetensors) trained for "
        "this model's UNet, under this organization's <root>/<org-slug>/ or a shared root.",
    )


class ControlNetOut(Schema):
    id: UUID
    base_model: UUID
    name: str
    version: str
    kind: str
    weights_sha256: str
    created_at: datetime


def _controlnet_out(controlnet: ControlNet) -> dict:
    return {
        "id": controlnet.id,
        "base_model": controlnet.base_model_id,
        "name": controlnet.name,
        "version": controlnet.version,
        "kind": controlnet.kind,
        "weights_sha256": controlnet.weights_sha256,
        "created_at": controlnet.created_at,
    }


@router.get("/models/{model_id}/controlnets", response=list[ControlNetOut])
def controlnets_list(request, model_id: UUID):
    membership = require_role(request, ALL_ROLES)
    model = GenerativeModel.objects.get_for_org(membership.org, pk=model_id)
    return [_controlnet_out(c) for c in model.controlnets.order_by("kind", "name", "version")]


@router.post("/models/{model_id}/controlnets", response={201: ControlNetOut})
def controlnets_register(request, model_id: UUID, body: ControlNetIn):
    """Registers a ControlNet folder for this model (SD 1.x and SDXL) with the kind of control
    image it reads; its weights are hashed now (README, "ControlNet")."""
    membership = require_role(request, ADMIN)
    model = GenerativeModel.objects.get_for_org(membership.org, pk=model_id)
    controlnet = controlnet_register(
        org=membership.org,
        actor=request.auth,
        base_model=model,
        name=body.name,
        version=body.version,
        kind=body.kind,
        local_path=body.local_path,
    )
    return Status(201, _controlnet_out(controlnet))
