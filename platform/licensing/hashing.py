"""Content and perceptual hashes of an image file (plain module, no Django)."""

import hashlib
import io
import warnings
from dataclasses import dataclass

import imagehash
from PIL import Image

# Refuse decompression bombs outright rather than let Pillow merely warn about them.
MAX_PIXELS = 64_000_000


class UnreadableImage(ValueError):
    pass


@dataclass(frozen=True)
class ImageHashes:
    sha256: str
    phash: str
    dhash: str
    whash: str
    width: int
    height: int
    format: str


def image_hashes(data: bytes) -> ImageHashes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise UnreadableImage(
                        f"image is {probe.width}x{probe.height}, over the {MAX_PIXELS:,} pixel cap"
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                fmt = image.format or ""
                rgb = image.convert("RGB")
    except UnreadableImage:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"not a readable image: {exc}") from None
    return ImageHashes(
        sha256=hashlib.sha256(data).hexdigest(),
        phash=str(imagehash.phash(rgb)),
        dhash=str(imagehash.dhash(rgb)),
        whash=str(imagehash.whash(rgb)),
        width=rgb.width,
        height=rgb.height,
        format=fmt.lower(),
    )
