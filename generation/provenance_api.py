"""The provenance endpoints: public verification, an asset's provenance record and the signed
export. They live with generation because the record joins provenance's stamp with the job,
model, gates and review, and provenance itself reads nothing of generation."""

from uuid import UUID

from django.conf import settings
from ninja import File, Router, Schema
from ninja.files import UploadedFile

from generation.provenance_record import (
    org_provenance_records,
    provenance_readable,
    provenance_record,
)
from mintmark.errors import ApiError, ErrorOut
from orgs.access import ADMIN_AUDITOR, require_role
from orgs.auth import TokenAuth
from orgs.models import Membership
from orgs.selectors import membership_resolve
from provenance.export import export_response
from provenance.record import PROVENANCE_READERS
from provenance.verify import image_verify, public_asset

router = Router(tags=["provenance"])


class ImageVerifyOut(Schema):
    verdict: str
    identified_by: list[str]
    explanation: str
    evidence: list[str]
    c2pa: dict
    watermark: dict
    fingerprint: dict
    asset: dict | None
    provenance: dict | None = None


def _caller_membership(request) -> Membership | None:
    """The caller's membership when they identified themselves (token or session); verify is
    public, so anonymity is fine and a bad token is simply anonymous."""
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = TokenAuth().authenticate(request, header.removeprefix("Bearer ").strip())
    elif getattr(request, "user", None) is not None and request.user.is_authenticated:
        user = request.user
    if not user:
        return None
    return membership_resolve(user=user, org_slug=request.headers.get("X-Org"))


@router.post("/verify", response=ImageVerifyOut, auth=None)
def verify(request, image: File[UploadedFile]):
    """Public. Upload an image (multipart field `image`); the verdict says whether it was
    issued here (`issued_here`), issued here but changed (`altered`), or not known here
    (`unknown`), with the evidence of each witness. Auditors and admins of the owning org also
    get the full provenance record."""
    if image.size > settings.MAX_UPLOAD_BYTES:
        raise ApiError(413, "too_large", "The upload is over the size limit.")
    result = image_verify(image.read())
    asset = result.asset
    body = {
        "verdict": result.verdict,
        "identified_by": result.identified_by,
        "explanation": result.explanation,
        "evidence": result.evidence,
        "c2pa": result.c2pa,
        "watermark": result.watermark,
        "fingerprint": result.fingerprint,
        "asset": public_asset(asset) if asset is not None else None,
    }
    membership = _caller_membership(request)
    if (
        asset is not None
        and membership is not None
        and membership.org_id == asset.job.org_id
        and membership.role in ADMIN_AUDITOR
    ):
        body["provenance"] = provenance_record(asset)
    return body


@router.get("/assets/{asset_id}/provenance")
def assets_provenance(request, asset_id: UUID):
    """The full provenance record of one asset: auditors and admins of its org, and the staff
    member who made it."""
    membership = require_role(request, PROVENANCE_READERS)
    return provenance_record(provenance_readable(membership=membership, asset_id=asset_id))


@router.get(
    "/provenance/export",
    response={200: None, 409: ErrorOut},
    openapi_extra={
        "responses": {200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}}
    },
)
def provenance_export(request):
    """The org's audit log and every asset's provenance record as JSON Lines, with a trailer
    holding the chain head hash and the org's signature (`manage.py provenance_export --check`
    verifies it)."""
    membership = require_role(request, ADMIN_AUDITOR)
    return export_response(org=membership.org, records=org_provenance_records(membership.org))
