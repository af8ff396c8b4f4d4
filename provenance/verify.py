"""Verifying an image: was it issued here, by which model, under which policy, is it intact?

Three independent witnesses answer: the C2PA manifest (validated against this installation's
trust anchors), the invisible watermark (its payload names one asset), and the fingerprint
registry (provenance/fingerprint.py: found by window vectors, confirmed pixel by pixel after
undoing crop, scale, small rotation, mirroring and tone). The verdict is one of:
- issued_here: trusted, intact credentials that name an asset released here;
- altered: some witness names an asset released here, but the credentials are missing,
  broken or untrusted (pixels changed, metadata stripped, re-encoded);
- unknown: nothing links the image to an asset released here."""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from PIL import Image

from mintmark.errors import ApiError
from mintmark.imageio import ImageTooLarge, UnreadableImage, open_image
from policies.rules import PolicyRules
from provenance import credentials, fingerprint, watermark
from provenance.models import Stamp
from provenance.registry import fingerprint_index, thumbnails
from provenance.release import trust_anchors, watermark_key_existing

ISSUED_HERE, ALTERED, UNKNOWN = "issued_here", "altered", "unknown"
MIMES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "mpo": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}
ANALYSIS_MAX_SIDE = 2048
GENERATION_ASSERTION = "org.mintmark.generation"
RELEASED_STATE = "RELEASED"  # generation's Asset.State.RELEASED


@dataclass
class Verification:
    verdict: str
    c2pa: dict
    watermark: dict
    fingerprint: dict
    # The released asset (generation's Asset, reached through its Stamp; provenance does not
    # import generation).
    asset: Any = None
    evidence: list[str] = field(default_factory=list)
    # The witnesses that named `asset` ("c2pa", "watermark", "fingerprint"), and in one sentence
    # which signal identified the image.
    identified_by: list[str] = field(default_factory=list)
    explanation: str = ""


WITNESS_NAMES = {
    "c2pa": "its content credentials",
    "watermark": "its invisible watermark",
    "fingerprint": "its fingerprint",
}


def _explanation(identified_by: list[str], disagree: bool) -> str:
    if not identified_by:
        return "No signal links this image to an image released here."
    names = [WITNESS_NAMES[witness] for witness in identified_by]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    sentence = f"Identified by {joined}."
    if disagree:
        sentence += " Another signal names a different image released here."
    elif "c2pa" not in identified_by:
        sentence += " Its content credentials did not identify it."
    return sentence


def _decode(data: bytes):
    try:
        return open_image(data, max_pixels=settings.VERIFY_MAX_PIXELS)
    except ImageTooLarge as exc:
        raise ApiError(413, "image_too_large", f"Too large to verify: {exc}.") from None
    except UnreadableImage as exc:
        raise ApiError(415, "unsupported_image", f"Not an image we can read: {exc}.") from None


def _released(asset_id):
    """The asset with this id if it was released here (and is still released), else None."""
    stamp = (
        Stamp.objects.select_related("asset__job__org", "asset__job__model", "asset__job__policy")
        .filter(asset_id=asset_id, released_at__isnull=False, asset__state=RELEASED_STATE)
        .first()
    )
    return stamp.asset if stamp is not None else None


def _c2pa(data: bytes, mime: str) -> tuple[dict, Any]:
    try:
        report = credentials.read_credentials(data, mime, trust_anchors_pem=trust_anchors())
    except ValueError as exc:
        # A format the C2PA reader does not take (GIF, BMP) or cannot parse: no credentials to
        # speak of; the watermark and fingerprint still answer.
        return {"state": "none", "detail": str(exc)[:300], "claims_asset": None}, None
    claimed = (report.assertions or {}).get(GENERATION_ASSERTION) or {}
    asset = None
    if report.state == "trusted" and claimed.get("asset"):
        asset = _released(claimed["asset"])
    return (
        {
            "state": report.state,
            "manifest_label": report.manifest_label,
            "signer": report.signer_subject if report.state == "trusted" else None,
            "codes": list(report.codes)[:20],
            "claims_asset": claimed.get("asset"),
            "parent": _parent(report),
        },
        asset,
    )


def _parent(report) -> dict | None:
    """The input the image was made from, as its credentials record it: for an upscale, the
    asset released here that it enlarges, and whether that asset's own credentials held when
    they were signed into this image (the chain of edits)."""
    parent = report.parent
    if parent is None or report.state != "trusted":
        return None
    released = None
    if parent["asset"] and parent["state"] == "trusted":
        released = _released(parent["asset"])
    return {**parent, "released_here": released is not None}


def _watermark(image) -> tuple[dict, Any]:
    key = watermark_key_existing()
    if key is None:
        return {"found": False, "detail": "this installation has released nothing yet"}, None
    reading = watermark.decode(image, key=key)
    if reading.payload is None:
        return {"found": False, "detail": reading.detail}, None
    stamp = Stamp.objects.filter(payload=reading.payload, released_at__isnull=False).first()
    asset = _released(stamp.asset_id) if stamp is not None else None
    return {
        "found": True,
        "payload": f"{reading.payload:x}",
        "confidence": round(reading.confidence, 4),
        "registered": asset is not None,
    }, asset


def _placed_note(print_out: dict, identified_by: list[str]) -> str:
    if "fingerprint" not in identified_by or print_out.get("watermark_bits") is None:
        return ""
    return " The fingerprint placed it on the released image, and the watermark reads there."


def _placed_mark(image):
    """The watermark read where the fingerprint placed the image on a candidate (a crop or a
    rotation moves the frame that the blind read needs): how many of that asset's payload's
    code bits the image carries there, or None when there is no payload to look for."""
    key = watermark_key_existing()
    if key is None:
        return None

    def agreement(asset_id: str, placement, host) -> int | None:
        payload = (
            Stamp.objects.filter(asset_id=asset_id, released_at__isnull=False)
            .values_list("payload", flat=True)
            .first()
        )
        if payload is None:
            return None
        return watermark.placed_agreement(image, payload, placement, key=key, host=host)

    return agreement


def _fingerprint(image) -> tuple[dict, Any]:
    found = fingerprint.identify(
        fingerprint.query(image), fingerprint_index(), thumbnails, _placed_mark(image)
    )
    if found is None:
        return {"found": False}, None
    confirmed = found.confirmation
    return {
        "found": True,
        "distance": round(confirmed.distance, 4),
        "max_distance": fingerprint.MAX_DISTANCE,
        # Up to this distance the pixels alone identify; beyond it the watermark must also read
        # where the fingerprint placed the image: watermark_bits of 155 agree, at least
        # watermark_bits_needed (null: the pixels alone decided).
        "alone_distance": fingerprint.ALONE_DISTANCE,
        "watermark_bits": found.agreement,
        "watermark_bits_needed": fingerprint.needed_agreement(confirmed.distance) or None,
        "visible_share": round(1.0 / confirmed.zoom**2, 3),
        "mirrored": confirmed.mirrored,
    }, _released(found.key)


def image_verify(data: bytes) -> Verification:
    if not data:
        raise ApiError(422, "empty_image", "The upload is empty.")
    image, fmt = _decode(data)
    # Hashes and the watermark read a few hundred pixels; a huge upload is reduced first so
    # that one request cannot hold a worker for long.
    if max(image.size) > ANALYSIS_MAX_SIDE:
        image.thumbnail((ANALYSIS_MAX_SIDE, ANALYSIS_MAX_SIDE), Image.BILINEAR)
    c2pa_out, by_manifest = _c2pa(data, MIMES.get(fmt, f"image/{fmt}"))
    mark_out, by_mark = _watermark(image)
    print_out, by_print = _fingerprint(image)
    named = {a.pk: a for a in (by_manifest, by_mark, by_print) if a is not None}
    evidence = []
    if by_manifest is not None:
        evidence.append(f"content credentials ({c2pa_out['state']}) name the asset")
    if by_mark is not None:
        evidence.append("the watermark names the asset")
    if by_print is not None:
        evidence.append(
            f"the fingerprint matches at pixel distance {print_out['distance']} "
            f"(at most {print_out['max_distance']})"
        )
        if print_out["watermark_bits"] is not None:
            evidence.append(
                f"where the fingerprint places the image, its watermark carries "
                f"{print_out['watermark_bits']} of the asset's 155 code bits "
                f"(at least {print_out['watermark_bits_needed']})"
            )
    if len(named) > 1:
        # Witnesses disagree: report it rather than pick one.
        evidence.append("the witnesses name different assets")
    asset = by_manifest or by_mark or by_print
    if asset is None:
        verdict = UNKNOWN
    elif c2pa_out["state"] == "trusted" and by_manifest is not None and len(named) == 1:
        verdict = ISSUED_HERE
    else:
        verdict = ALTERED
    identified_by = [
        witness
        for witness, found in (
            ("c2pa", by_manifest),
            ("watermark", by_mark),
            ("fingerprint", by_print),
        )
        if asset is not None and found is not None and found.pk == asset.pk
    ]
    return Verification(
        verdict,
        c2pa_out,
        mark_out,
        print_out,
        asset,
        evidence,
        identified_by,
        _explanation(identified_by, len(named) > 1) + _placed_note(print_out, identified_by),
    )


def public_asset(asset) -> dict:
    """What the owning org's policy lets an anonymous caller learn about the asset."""
    job = asset.job
    disclosed = PolicyRules.model_validate(job.policy.rules).provenance.public_disclosure
    out: dict = {"id": str(asset.pk), "ai_generated": True}
    if "org" in disclosed:
        out["org"] = job.org.name
    if "model" in disclosed:
        out["model"] = f"{job.model.name}:{job.model.version}"
    if "created_at" in disclosed:
        out["created_at"] = asset.created_at.isoformat()
    if "policy_version" in disclosed:
        out["policy_version"] = job.policy.version
    if "datasets" in disclosed:
        out["datasets"] = sorted(job.model.trained_on.values_list("name", flat=True))
    return out
