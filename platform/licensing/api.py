from datetime import datetime
from uuid import UUID

from django.conf import settings
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from licensing.models import Dataset, DatasetItem, Licence
from licensing.selectors import datasets_counted
from licensing.services import dataset_create, dataset_item_add, item_consent_record, licence_create
from mintmark.errors import ApiError
from mintmark.pagination import PageQuery, page_schema, paginate
from mintmark.parsing import UtcDatetime
from orgs.access import ADMIN, ADMIN_AUDITOR, require_role

router = Router(tags=["datasets and licences"])


class LicenceIn(Schema):
    key: str = Field(..., min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._+-]+$")
    name: str = Field(..., min_length=1, max_length=200)
    spdx_id: str = Field("", max_length=100)
    custom_text: str = Field("", max_length=200_000)
    url: str = Field("", max_length=200)
    allows_training: bool
    allows_commercial: bool
    requires_attribution: bool
    expires_at: UtcDatetime | None = None


class LicenceOut(Schema):
    id: UUID
    key: str
    name: str
    spdx_id: str
    url: str
    allows_training: bool
    allows_commercial: bool
    requires_attribution: bool
    expires_at: datetime | None
    created_at: datetime


class DatasetIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)


class DatasetOut(Schema):
    id: UUID
    name: str
    description: str
    items: int
    opted_out: int
    created_at: datetime


class ItemOut(Schema):
    id: UUID
    sha256: str
    phash: str
    dhash: str
    whash: str
    width: int
    height: int
    licence: str
    source_url: str
    creator: str
    caption: str
    consent: str
    created_at: datetime


class OptOutIn(Schema):
    requested_by: str = Field(..., min_length=1, max_length=300)
    reason: str = Field("", max_length=10_000)


class ConsentOut(Schema):
    id: UUID
    item: UUID
    kind: str
    requested_by: str
    reason: str
    created_at: datetime


def _dataset_out(dataset: Dataset) -> dict:
    return {
        "id": dataset.id,
        "name": dataset.name,
        "description": dataset.description,
        "items": dataset.items_count,
        "opted_out": dataset.opted_out_count,
        "created_at": dataset.created_at,
    }


def _item_out(item: DatasetItem) -> dict:
    fields = ("id", "sha256", "phash", "dhash", "whash", "width", "height", "source_url", "creator")
    return {
        **{name: getattr(item, name) for name in fields},
        "licence": item.licence.key,
        "caption": item.caption,
        "consent": item.consent,
        "created_at": item.created_at,
    }


@router.get("/licences", response=page_schema(LicenceOut))
def licences_list(request, page: PageQuery):
    membership = require_role(request, ADMIN_AUDITOR)
    return paginate(Licence.objects.for_org(membership.org).order_by("key"), page, lambda x: x)


@router.post("/licences", response={201: LicenceOut})
def licences_create(request, body: LicenceIn):
    membership = require_role(request, ADMIN)
    fields = body.model_dump()
    return Status(201, licence_create(org=membership.org, actor=request.auth, **fields))


@router.get("/datasets", response=page_schema(DatasetOut))
def datasets_list(request, page: PageQuery):
    membership = require_role(request, ADMIN_AUDITOR)
    return paginate(
        datasets_counted(org=membership.org).order_by("-created_at"), page, _dataset_out
    )


@router.post("/datasets", response={201: DatasetOut})
def datasets_create(request, body: DatasetIn):
    membership = require_role(request, ADMIN)
    dataset = dataset_create(
        org=membership.org, actor=request.auth, name=body.name, description=body.description
    )
    return Status(201, _dataset_out(datasets_counted(org=membership.org).get(pk=dataset.pk)))


@router.get("/datasets/{dataset_id}", response=DatasetOut)
def datasets_get(request, dataset_id: UUID):
    membership = require_role(request, ADMIN_AUDITOR)
    return _dataset_out(
        datasets_counted(org=membership.org).get_for_org(membership.org, pk=dataset_id)
    )


@router.get("/datasets/{dataset_id}/items", response=page_schema(ItemOut))
def items_list(request, dataset_id: UUID, page: PageQuery):
    membership = require_role(request, ADMIN_AUDITOR)
    dataset = Dataset.objects.get_for_org(membership.org, pk=dataset_id)
    queryset = (
        DatasetItem.objects.filter(dataset=dataset)
        .select_related("licence")
        .order_by("-created_at")
    )
    return paginate(queryset, page, _item_out)


@router.post("/datasets/{dataset_id}/items", response={201: ItemOut})
def items_add(
    request,
    dataset_id: UUID,
    image: File[UploadedFile],
    licence: Form[str],
    source_url: Form[str] = "",
    creator: Form[str] = "",
    caption: Form[str] = "",
):
    membership = require_role(request, ADMIN)
    dataset = Dataset.objects.get_for_org(membership.org, pk=dataset_id)
    if image.size > settings.MAX_UPLOAD_BYTES:
        raise ApiError(
            413, "file_too_large", f"The image is over {settings.MAX_UPLOAD_BYTES} bytes."
        )
    if len(source_url) > 2000 or len(creator) > 300 or len(caption) > 10_000:
        raise ApiError(422, "invalid_request", "source_url, creator or caption is too long.")
    item = dataset_item_add(
        dataset=dataset,
        actor=request.auth,
        data=image.read(),
        licence_key=licence,
        source_url=source_url,
        creator=creator,
        caption=caption,
    )
    return Status(201, _item_out(item))


@router.post("/datasets/{dataset_id}/items/{item_id}/opt-out", response={201: ConsentOut})
def items_opt_out(request, dataset_id: UUID, item_id: UUID, body: OptOutIn):
    membership = require_role(request, ADMIN)
    dataset = Dataset.objects.get_for_org(membership.org, pk=dataset_id)
    item = DatasetItem.objects.get_for_org(membership.org, pk=item_id, dataset=dataset)
    record = item_consent_record(
        item=item,
        actor=request.auth,
        kind="opt_out",
        requested_by=body.requested_by,
        reason=body.reason,
    )
    return Status(
        201,
        {
            "id": record.id,
            "item": item.id,
            "kind": record.kind,
            "requested_by": record.requested_by,
            "reason": record.reason,
            "created_at": record.created_at,
        },
    )
