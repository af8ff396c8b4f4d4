"""What the GPU worker keeps of a generated image before it is gated (plain module, no Django):
its PNG bytes, their sha256 and the image's perceptual hashes."""

import hashlib
import io
from dataclasses import dataclass

from PIL import Image

from licensing.hashing import perceptual_hashes


@dataclass(frozen=True)
class EncodedImage:
    png: bytes
    sha256: str
    width: int
    height: int
    hashes: dict[str, str]


def encode_image(image: Image.Image) -> EncodedImage:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    return EncodedImage(
        png=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=image.width,
        height=image.height,
        hashes=perceptual_hashes(image),
    )
