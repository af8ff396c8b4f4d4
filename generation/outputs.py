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


# zlib's fastest level: the quarantined file is read back once or twice (gates, release) and
# never downloaded, and at 1024 px the default level costs the GPU worker two to three times
# the time for about 15 % less (measured in bench/README.md, "Gating beside stamping").
QUARANTINE_PNG_LEVEL = 1


def encode_image(image: Image.Image) -> EncodedImage:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=QUARANTINE_PNG_LEVEL)
    data = buffer.getvalue()
    return EncodedImage(
        png=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=image.width,
        height=image.height,
        hashes=perceptual_hashes(image),
    )
