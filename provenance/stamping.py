"""Stamping an image for release, in plain code (no Django): the canvas it is released at, its
watermark, and its signed content credentials. provenance/release.py runs these for an approved
asset; bench/gpu_serving.py runs the same calls on generated images to measure what they cost."""

import hashlib
import io
from dataclasses import dataclass

from PIL import Image

from mintmark.imageio import open_image
from moderation.memorization import hashes_of
from provenance import credentials, fingerprint, watermark
from provenance.signing import SigningFailed

THUMBNAIL_PX = 256
RELEASE_MIN_SIDE = watermark.ROBUST_SIDE


class StampingError(RuntimeError):
    """Stamping could not finish (no key, signer failed, watermark refused); nothing released."""


# zlib's fastest level for the released file: the default (6) took 200-250 ms of a 512 px
# image's release on a 2-core machine, the longest step of the gating, for files 13-21 % smaller
# (bench/README.md, "The released PNG's level").
RELEASE_PNG_LEVEL = 1


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=RELEASE_PNG_LEVEL)
    return buffer.getvalue()


def thumbnail_jpeg(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def release_size(width: int, height: int) -> tuple[int, int]:
    """The size an image of width x height is released at: smaller images (the small default
    model makes 64 px ones) are enlarged by a whole factor to at least RELEASE_MIN_SIDE, where
    the watermark survives JPEG q50 and halving (bench/README.md: at 128 px it does not)."""
    short = min(width, height)
    if short >= RELEASE_MIN_SIDE:
        return width, height
    factor = -(-RELEASE_MIN_SIDE // short)
    return width * factor, height * factor


def release_canvas(image: Image.Image) -> Image.Image:
    """The image as it is released, at release_size."""
    size = release_size(image.width, image.height)
    if size == image.size:
        return image
    return image.resize(size, Image.LANCZOS)


def watermarked(canvas: Image.Image, payload: int, key: bytes) -> Image.Image:
    try:
        return watermark.embed(canvas, payload, key=key)
    except ValueError as exc:
        raise StampingError(f"watermark: {exc}") from exc


@dataclass(frozen=True)
class MarkedImage:
    """What stamping makes from the pixels and the payload alone, before anything the gates
    decide is known: the release step can have it made while the gates run, and drops it when
    they do not approve."""

    source_sha256: str
    payload: int
    generated_size: dict
    released_size: dict
    png: bytes
    thumbnail: bytes
    fingerprint: dict
    registration: fingerprint.Registration


def image_mark(image: bytes, payload: int, key: bytes) -> MarkedImage:
    """The quarantined image at its release size, watermarked with the payload, encoded, and
    fingerprinted. Plain computation: safe to run in another thread."""
    generated, _ = open_image(image)
    canvas = release_canvas(generated)
    marked = watermarked(canvas, payload, key)
    return MarkedImage(
        source_sha256=hashlib.sha256(image).hexdigest(),
        payload=payload,
        generated_size=image_size(generated),
        released_size=image_size(canvas),
        png=png_bytes(marked),
        thumbnail=thumbnail_jpeg(marked),
        fingerprint={kind: f"{value:016x}" for kind, value in hashes_of(marked).items()},
        registration=fingerprint.register(marked),
    )


def image_size(image: Image.Image) -> dict:
    # Named integers: C2PA readers show a bare integer array in a CBOR assertion as bytes.
    return {"width": image.width, "height": image.height}


def signed_png(
    png: bytes,
    thumbnail: bytes,
    manifest: dict,
    signer,
    *,
    parent: tuple[bytes, str] | None,
    trust_anchors: bytes | None,
    parent_asset: str | None = None,
) -> bytes:
    """The marked image's PNG carrying its signed manifest and its JPEG thumbnail."""
    try:
        return credentials.sign_image(
            png,
            "image/png",
            manifest,
            signer,
            parent=parent,
            parent_asset=parent_asset,
            thumbnail=(thumbnail, "image/jpeg"),
            trust_anchors_pem=trust_anchors,
        )
    except (SigningFailed, ValueError) as exc:
        raise StampingError(f"signing failed: {exc}") from exc
