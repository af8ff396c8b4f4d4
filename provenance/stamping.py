"""Stamping an image for release, in plain code (no Django): the canvas it is released at, its
watermark, and its signed content credentials. provenance/release.py runs these for an approved
asset; bench/gpu_serving.py runs the same calls on generated images to measure what they cost."""

import io

from PIL import Image

from provenance import credentials, watermark
from provenance.signing import SigningFailed

THUMBNAIL_PX = 256
RELEASE_MIN_SIDE = watermark.ROBUST_SIDE


class StampingError(RuntimeError):
    """Stamping could not finish (no key, signer failed, watermark refused); nothing released."""


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
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
