"""Content and perceptual hashes of an image file, and the fingerprint of its lines (plain
module, no Django)."""

import hashlib
from dataclasses import dataclass

import imagehash
from PIL import Image

from mintmark.imageio import UnreadableImage, open_image
from mintmark.line_drawings import edge_fingerprint

__all__ = ["ImageHashes", "UnreadableImage", "image_hashes", "perceptual_hashes"]


@dataclass(frozen=True)
class ImageHashes:
    sha256: str
    phash: str
    dhash: str
    whash: str
    edge_fingerprint: str
    width: int
    height: int
    format: str


def perceptual_hashes(image: Image.Image) -> dict[str, str]:
    """64-bit pHash, dHash and wHash as 16 hex digits each."""
    return {
        "phash": str(imagehash.phash(image)),
        "dhash": str(imagehash.dhash(image)),
        "whash": str(imagehash.whash(image)),
    }


def image_hashes(data: bytes) -> ImageHashes:
    rgb, fmt = open_image(data)
    return ImageHashes(
        sha256=hashlib.sha256(data).hexdigest(),
        **perceptual_hashes(rgb),
        edge_fingerprint=edge_fingerprint(rgb),
        width=rgb.width,
        height=rgb.height,
        format=fmt,
    )
