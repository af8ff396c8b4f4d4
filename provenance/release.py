"""Stamping and release: an approved asset gets its watermark (a payload reserved for it alone),
signed C2PA content credentials, and its fingerprint; only then, in one transaction, does it
become RELEASED with its file in release storage. Any failure before that leaves the asset
where it was (quarantined or held), which is the fail-closed path."""

import hashlib
import importlib
import os
import secrets
import time

import structlog
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone

from generation.models import Asset, GenerationJob
from generation.transitions import asset_transition
from licensing.models import Dataset, Licence
from mintmark.imageio import open_image
from moderation.memorization import hashes_of
from moderation.models import GateResult, Review
from policies.rules import PolicyRules
from provenance import credentials, keys, watermark
from provenance.models import Stamp
from provenance.signing import FileKeySigner, signing_passphrase
from provenance.stamping import StampingError, release_canvas, signed_png, watermarked

log = structlog.get_logger(__name__)
CLAIM_GENERATOR = "Mintmark"


def keys_dir():
    return settings.DATA_DIR / "keys"


def org_signer(org):
    """The org's content signer: from MINTMARK_SIGNER's factory (KMS/HSM) when set, else the
    org's key file made by provenance_init."""
    if settings.SIGNER_FACTORY:
        module, _, name = settings.SIGNER_FACTORY.partition(":")
        try:
            return getattr(importlib.import_module(module), name)(org)
        except Exception as exc:  # a broken KMS/HSM signer must fail closed, whatever it raised
            raise StampingError(f"MINTMARK_SIGNER {settings.SIGNER_FACTORY!r}: {exc}") from exc
    try:
        return FileKeySigner.for_org(keys_dir(), org.slug, signing_passphrase())
    except keys.KeyMissing as exc:
        raise StampingError(f"no usable signing key for {org.slug!r}: {exc}") from exc


def payload_reserve(asset: Asset) -> Stamp:
    """The asset's watermark payload: drawn at random, unique across the installation (the
    database refuses a collision and another is drawn); kept across retries."""
    existing = Stamp.objects.filter(asset=asset).first()
    if existing is not None:
        return existing
    for _ in range(20):
        try:
            with transaction.atomic():
                return Stamp.objects.create(
                    asset=asset,
                    payload=secrets.randbelow(2**watermark.PAYLOAD_BITS),
                    watermark_algorithm=watermark.ALGORITHM,
                )
        except IntegrityError:
            existing = Stamp.objects.filter(asset=asset).first()
            if existing is not None:
                return existing
    raise StampingError("could not reserve a unique watermark payload")


def generation_assertion(asset: Asset, job: GenerationJob) -> dict:
    """The custom assertion: what made this image, under which policy, past which gates."""
    datasets = Dataset.objects.filter(models_trained=job.model)
    # One entry per (dataset, licence) pair, so a reader sees which licence covers which data.
    pairs = (
        Licence.objects.filter(items__dataset__in=datasets)
        .values_list("items__dataset__name", "spdx_id", "name")
        .distinct()
    )
    licences = [
        {"dataset": dataset, "licence": spdx or name} for dataset, spdx, name in sorted(set(pairs))
    ]
    latest = GateResult.latest_per_gate(GateResult.objects.filter(asset=asset))
    verdicts = {gate: result.verdict for gate, result in latest.items()}
    prompt_gate = job.gate_results.filter(asset=None).order_by("-created_at").first()
    if prompt_gate is not None:
        verdicts["prompt"] = prompt_gate.verdict
    review = Review.objects.filter(asset=asset).first()
    return {
        "job": str(job.pk),
        "asset": str(asset.pk),
        "org": job.org.slug,
        "policy_version": job.policy.version,
        "mode": job.mode,
        "seed": asset.seed,
        "gates": verdicts,
        "review": review.decision if review else None,
        "datasets": sorted(dataset.name for dataset in datasets),
        "licences": licences,
    }


def _parent(job: GenerationJob) -> tuple[bytes, str] | None:
    if not job.input_image_key:
        return None
    return storages["quarantine"].open(job.input_image_key).read(), "image/png"


def watermark_key() -> bytes:
    """This installation's watermark key (DATA_DIR/keys/watermark.key, made once, 0600): a
    mark made here reads back only with it, so another installation cannot mint our payloads
    from the source code alone."""
    path = keys_dir() / "watermark.key"
    if path.exists():
        return _read_complete(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another worker made it a moment ago; everyone uses that one.
        return _read_complete(path)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    return _read_complete(path)


def watermark_key_existing() -> bytes | None:
    """The watermark key if this installation has one (verify never creates it)."""
    path = keys_dir() / "watermark.key"
    return _read_complete(path) if path.exists() else None


def _read_complete(path, attempts: int = 50) -> bytes:
    for _ in range(attempts):
        data = path.read_bytes()
        if len(data) == 32:
            return data
        time.sleep(0.01)
    raise StampingError(f"{path} is not a 32-byte watermark key")


def payload_bytes(payload: int) -> bytes:
    return payload.to_bytes((watermark.PAYLOAD_BITS + 7) // 8, "big")


def trust_anchors() -> bytes | None:
    """This installation's trust anchors (the local CA), or None before provenance_init."""
    try:
        return keys.trust_anchors_pem(keys_dir()) or None
    except keys.KeyMissing:
        return None


def _size(image) -> dict:
    # Named integers: C2PA readers show a bare integer array in a CBOR assertion as bytes.
    return {"width": image.width, "height": image.height}


def _signed_file(asset: Asset, job: GenerationJob, stamp: Stamp):
    rules = PolicyRules.model_validate(job.policy.rules)
    generated, _ = open_image(storages["quarantine"].open(asset.quarantine_key).read())
    image = release_canvas(generated)
    marked = watermarked(image, stamp.payload, watermark_key())
    manifest = credentials.manifest_definition(
        title=f"{asset.pk}.png",
        claim_generator=CLAIM_GENERATOR,
        model={"name": job.model.name, "version": job.model.version, "family": job.model.family},
        action="created" if job.mode == GenerationJob.Mode.TEXT_TO_IMAGE else "edited",
        generation={
            **generation_assertion(asset, job),
            "generated_size": _size(generated),
            "released_size": _size(image),
        },
        soft_binding={"alg": watermark.ALGORITHM, "value": payload_bytes(stamp.payload)},
        training_mining=rules.provenance.training_and_mining,
        has_parent=bool(job.input_image_key),
    )
    signer = org_signer(job.org)
    signed = signed_png(
        marked, manifest, signer, parent=_parent(job), trust_anchors=trust_anchors()
    )
    return signed, marked, keys.certificate_info(signer.certificate_chain_pem)


def release_approved(asset: Asset) -> bool:
    """A held asset needs a reviewer's approval; a quarantined one needs the newest result of
    every gate that ran on it to be a pass."""
    if asset.state == Asset.State.IN_REVIEW:
        return Review.objects.filter(asset=asset, decision=Review.Decision.APPROVE).exists()
    latest = GateResult.latest_per_gate(GateResult.objects.filter(asset=asset))
    return bool(latest) and all(result.verdict == "pass" for result in latest.values())


def asset_release(*, asset_id, actor=None) -> Asset | None:
    """Stamps and releases one approved asset; None when it is not releasable (already
    released, rejected, or its job ended). Raises StampingError when stamping failed."""
    asset = Asset.objects.select_related("job__org", "job__model", "job__policy", "job__user").get(
        pk=asset_id
    )
    job = asset.job
    if asset.state not in (Asset.State.QUARANTINED, Asset.State.IN_REVIEW):
        return None
    if job.state not in (GenerationJob.State.GATING, GenerationJob.State.IN_REVIEW):
        return None
    if not release_approved(asset):
        raise StampingError("not approved: its gates did not all pass, or no reviewer approved it")
    stamp = payload_reserve(asset)
    signed, marked, certificate = _signed_file(asset, job, stamp)
    # A name of its own per attempt: a redelivered task racing this one never overwrites or
    # deletes the file of the attempt that won.
    store = storages["release"]
    key = store.save(
        f"{job.org.slug}/{job.pk}/{asset.index}-{secrets.token_hex(4)}.png", ContentFile(signed)
    )
    fingerprint = {kind: f"{value:016x}" for kind, value in hashes_of(marked).items()}
    report = credentials.read_credentials(signed, "image/png", trust_anchors_pem=trust_anchors())
    if report.state != "trusted" or not report.manifest_label:
        # E.g. a KMS signer whose certificate is not under this installation's root: the file
        # would never verify as issued here, so it is not released.
        raise StampingError(f"the signed file does not validate: {report.state} {report.codes}")
    signed_sha256 = hashlib.sha256(signed).hexdigest()
    with transaction.atomic():
        Stamp.objects.filter(pk=stamp.pk).update(
            sha256=signed_sha256,
            manifest_label=report.manifest_label or "",
            certificate_serial=certificate.serial_hex,
            certificate_sha256=certificate.sha256,
            released_at=timezone.now(),
            **fingerprint,
        )
        released = asset_transition(
            asset_id=asset.pk,
            to=Asset.State.RELEASED,
            actor=actor,
            release_key=key,
            data={
                "payload": f"{stamp.payload:x}",
                "sha256": signed_sha256,
                "manifest": report.manifest_label,
                "certificate_serial": certificate.serial_hex,
            },
        )
        if released is None:
            # Someone else moved it first (cancelled, rejected): this release does not apply.
            transaction.set_rollback(True)
    if released is None:
        store.delete(key)
    return released
