"""Stamping for release: an approved image gets its watermark (a payload reserved for its asset
alone), signed C2PA content credentials and its fingerprint, and the signed file is read back
before anyone may release it. The release step (generation/release.py) calls this, stores the
file and makes the state change; stamping knows nothing of jobs or assets beyond their ids."""

import hashlib
import importlib
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from provenance import credentials, fingerprint, keys, watermark
from provenance.models import Fingerprint, Stamp
from provenance.signing import FileKeySigner, signing_passphrase
from provenance.stamping import MarkedImage, StampingError, image_mark, signed_png

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


def payload_reserve(asset_id) -> Stamp:
    """The asset's watermark payload: drawn at random, unique across the installation (the
    database refuses a collision and another is drawn); kept across retries."""
    existing = Stamp.objects.filter(asset_id=asset_id).first()
    if existing is not None:
        return existing
    for _ in range(20):
        try:
            with transaction.atomic():
                return Stamp.objects.create(
                    asset_id=asset_id,
                    payload=secrets.randbelow(2**watermark.PAYLOAD_BITS),
                    watermark_algorithm=watermark.ALGORITHM,
                )
        except IntegrityError:
            existing = Stamp.objects.filter(asset_id=asset_id).first()
            if existing is not None:
                return existing
    raise StampingError("could not reserve a unique watermark payload")


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


@dataclass(frozen=True)
class ReleaseSubject:
    """What the release step hands to stamping: the quarantined image and everything the
    content credentials say about it, as plain values (stamping never looks anything up)."""

    asset_id: Any
    org: Any
    image: bytes
    model: dict
    edited: bool
    generation: dict
    training_mining: str
    parent: tuple[bytes, str] | None = None
    # The id of the released asset `parent` is the signed file of (an upscale), named in the
    # parent ingredient; None when the parent is a plain input image.
    parent_asset: str | None = None


@dataclass(frozen=True)
class StampedImage:
    """A watermarked, signed PNG that read back as trusted, and what its stamp row records
    once the release commits."""

    stamp: Stamp
    signed: bytes
    sha256: str
    manifest_label: str
    certificate: keys.CertInfo
    fingerprint: dict
    registration: fingerprint.Registration


def image_stamp(subject: ReleaseSubject, marked: MarkedImage | None = None) -> StampedImage:
    """Watermarks (with the payload reserved for the asset), signs and fingerprints one image,
    and reads the signed file back; raises StampingError when any of it fails, so nothing is
    released that would not verify as issued here. `marked` is used only if it was made from
    this very image with the asset's payload; otherwise the marking is done here."""
    stamp = payload_reserve(subject.asset_id)
    if (
        marked is None
        or marked.payload != stamp.payload
        or marked.source_sha256 != hashlib.sha256(subject.image).hexdigest()
    ):
        marked = image_mark(subject.image, stamp.payload, watermark_key())
    manifest = credentials.manifest_definition(
        title=f"{subject.asset_id}.png",
        claim_generator=CLAIM_GENERATOR,
        model=subject.model,
        action="edited" if subject.edited else "created",
        generation={
            **subject.generation,
            "generated_size": marked.generated_size,
            "released_size": marked.released_size,
        },
        soft_binding={"alg": watermark.ALGORITHM, "value": payload_bytes(stamp.payload)},
        training_mining=subject.training_mining,
        has_parent=subject.parent is not None,
    )
    signer = org_signer(subject.org)
    signed = signed_png(
        marked.png,
        marked.thumbnail,
        manifest,
        signer,
        parent=subject.parent,
        parent_asset=subject.parent_asset,
        trust_anchors=trust_anchors(),
    )
    report = credentials.read_credentials(signed, "image/png", trust_anchors_pem=trust_anchors())
    if report.state != "trusted" or not report.manifest_label:
        # E.g. a KMS signer whose certificate is not under this installation's root: the file
        # would never verify as issued here, so it is not released.
        raise StampingError(f"the signed file does not validate: {report.state} {report.codes}")
    return StampedImage(
        stamp=stamp,
        signed=signed,
        sha256=hashlib.sha256(signed).hexdigest(),
        manifest_label=report.manifest_label,
        certificate=keys.certificate_info(signer.certificate_chain_pem),
        fingerprint=marked.fingerprint,
        registration=marked.registration,
    )


def stamp_released(stamped: StampedImage) -> dict:
    """Records the stamp of a released file and registers its fingerprint (so verify knows it
    from the moment it is released); called inside the release transaction, so both are rolled
    back with it. Returns the audit data of the release."""
    Stamp.objects.filter(pk=stamped.stamp.pk).update(
        sha256=stamped.sha256,
        manifest_label=stamped.manifest_label,
        certificate_serial=stamped.certificate.serial_hex,
        certificate_sha256=stamped.certificate.sha256,
        released_at=timezone.now(),
        **stamped.fingerprint,
    )
    Fingerprint.objects.update_or_create(
        stamp_id=stamped.stamp.pk,
        defaults={
            "method": fingerprint.METHOD,
            "thumbnail": stamped.registration.thumbnail,
            "windows": stamped.registration.windows,
        },
    )
    return {
        "payload": f"{stamped.stamp.payload:x}",
        "sha256": stamped.sha256,
        "manifest": stamped.manifest_label,
        "certificate_serial": stamped.certificate.serial_hex,
    }
