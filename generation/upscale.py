"""Upscale jobs: a released asset of the caller's organization (or an uploaded image) made x4
larger by a registered upscaler, as a job of its own that passes every gate again and whose
output's content credentials name the parent asset as their ingredient.

The submit service (submission.py) asks here for the job's input; the release step
(release.py) asks here what the output's C2PA parent ingredient is."""

import io
from dataclasses import dataclass

from django.core.files.storage import storages

from generation.families import UPSCALE_FACTOR, Family
from generation.models import Asset, GenerationJob, GenerativeModel, LoraAdapter
from generation.posture import model_posture
from generation.selectors import assets_visible
from mintmark.errors import ApiError
from mintmark.imageio import UnreadableImage, open_image
from orgs.models import Membership
from policies.rules import PolicyRules

# Uploads over this are refused before decoding (decompression bombs), as for edit inputs.
MAX_UPLOAD_PIXELS = 16_000_000


@dataclass(frozen=True)
class UpscaleInput:
    parent: Asset | None  # the released asset upscaled; None for an upload
    png: bytes  # the input pixels, re-encoded as PNG (never the uploaded bytes)


def upscale_parent(*, membership: Membership, asset_id) -> Asset:
    """The released asset `asset_id` if this member may read it: another organization's asset,
    or a staff member's view of a colleague's, is a 404 like a missing one; one that is not
    RELEASED is refused with its state (409 `parent_not_released`)."""
    asset = assets_visible(membership=membership).get_for_org(membership.org, pk=asset_id)
    if asset.state != Asset.State.RELEASED:
        raise ApiError(
            409,
            "parent_not_released",
            f"Asset {asset.pk} is {asset.state}: only a released image can be upscaled.",
            state=asset.state,
        )
    return asset


def _parent_licensed(parent: Asset, rules: PolicyRules) -> None:
    """An upscale is a new release of its parent's pixels, so the models that made them (the
    parent's, with its adapters, and those of the assets it was upscaled from in turn) must be
    usable under today's policy, as for any new image: a model whose licence expired or whose
    training data's owner opted out since is refused (409 `parent_not_licensed`)."""
    asset = parent
    while asset is not None:
        job = asset.job
        adapters = list(LoraAdapter.objects.filter(pk__in=[e["id"] for e in job.adapters]))
        posture = model_posture(model=job.model, rules=rules, adapters=adapters)
        if not posture.usable:
            raise ApiError(
                409,
                "parent_not_licensed",
                f"Asset {parent.pk} was made with {job.model}, which may not be used under the "
                "current policy: " + "; ".join(posture.reasons),
                reasons=posture.reasons,
            )
        asset = job.parent_asset


def _pixels(membership: Membership, req) -> tuple[Asset | None, bytes]:
    if req.parent_asset is not None and req.image is not None:
        raise ApiError(
            422, "unexpected_image", "upscale takes a parent_asset or an image upload, not both."
        )
    if req.parent_asset is not None:
        parent = upscale_parent(membership=membership, asset_id=req.parent_asset)
        # The pixels the model generated, not the released file: that one was enlarged for the
        # watermark only (provenance.stamping.release_canvas) and carries the parent's mark,
        # which the upscaler would enlarge into the output beside the output's own.
        with storages["quarantine"].open(parent.quarantine_key) as handle:
            return parent, handle.read()
    if req.image is None:
        raise ApiError(
            422, "missing_image", "upscale needs a parent_asset (a released asset) or an image."
        )
    return None, req.image


def upscale_input(
    *, membership: Membership, req, rules: PolicyRules, traits: Family
) -> UpscaleInput:
    """The input of an upscale request, checked: its image decodes (format and size caps, as an
    edit's input), its sides are multiples of the family's and, x4, within the policy's
    maximum size. Sets the request's size to the output's."""
    if req.mask is not None:
        raise ApiError(422, "unexpected_mask", "Only inpaint takes a mask.")
    if req.strength is not None:
        raise ApiError(422, "unexpected_strength", "upscale takes no strength.")
    parent, data = _pixels(membership, req)
    if parent is not None:
        _parent_licensed(parent, rules)
        # An enlargement of an image made for a deployment context is for that context too:
        # a policy that sends the context to review must not be skipped by leaving it out.
        req.context = req.context or parent.job.context
    try:
        image, _ = open_image(data, max_pixels=MAX_UPLOAD_PIXELS)
    except UnreadableImage as exc:
        raise ApiError(422, "invalid_image", f"The image: {exc}.") from None
    width, height = image.size
    multiple = traits.size_multiple
    if width % multiple or height % multiple:
        raise ApiError(
            422,
            "invalid_size",
            f"The image is {width}x{height}; the upscaler takes sides that are multiples of "
            f"{multiple}.",
        )
    out_width, out_height = width * UPSCALE_FACTOR, height * UPSCALE_FACTOR
    if out_width > rules.max_width or out_height > rules.max_height:
        raise ApiError(
            422,
            "invalid_size",
            f"The image is {width}x{height}; upscaled x{UPSCALE_FACTOR} it would be "
            f"{out_width}x{out_height}, over the policy's {rules.max_width}x{rules.max_height}: "
            f"the largest image this policy lets be upscaled is "
            f"{rules.max_width // UPSCALE_FACTOR}x{rules.max_height // UPSCALE_FACTOR}.",
        )
    if (req.width or out_width, req.height or out_height) != (out_width, out_height):
        raise ApiError(
            422,
            "size_mismatch",
            f"The image is {width}x{height}, so its upscale is {out_width}x{out_height}; the "
            f"job asks for {req.width}x{req.height}.",
        )
    req.width, req.height = out_width, out_height
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return UpscaleInput(parent=parent, png=buffer.getvalue())


def upscale_parent_file(job: GenerationJob) -> tuple[bytes, str] | None:
    """The parent asset's released file (with its own signed manifest, which the output's
    manifest then carries and validates as its parent ingredient), or None when the job did
    not upscale a released asset."""
    parent = job.parent_asset
    if parent is None:
        return None
    with storages["release"].open(parent.release_key) as handle:
        return handle.read(), "image/png"


def upscaler_offered(*, org, rules: PolicyRules) -> GenerativeModel | None:
    """The upscaler the portal's "Upscale x4" action uses: the newest ready one the policy lets
    this organization use; None when it has none."""
    upscalers = (
        GenerativeModel.objects.for_org(org)
        .filter(family=GenerativeModel.Family.UPSCALER, state=GenerativeModel.State.READY)
        .prefetch_related("trained_on")
        .order_by("-created_at")
    )
    for model in upscalers:
        if model_posture(model=model, rules=rules).usable:
            return model
    return None
