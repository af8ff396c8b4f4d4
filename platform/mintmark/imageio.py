"""Opening untrusted image bytes (plain module): refuse what is not an image, is truncated, or
would decompress to more pixels than the cap, before any of it is decoded in full."""

import io
import warnings

from PIL import Image

DEFAULT_MAX_PIXELS = 64_000_000


class UnreadableImage(ValueError):
    pass


class ImageTooLarge(UnreadableImage):
    """More pixels than the caller's cap: refused before decoding (decompression bombs)."""


def open_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Image.Image, str]:
    """The image as RGB, and its format ('png', 'jpeg', …)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > max_pixels:
                    raise ImageTooLarge(
                        f"image is {probe.width}x{probe.height}, over the {max_pixels:,} pixel cap"
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return image.convert("RGB"), (image.format or "").lower()
    except UnreadableImage:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLarge(f"image is over the pixel cap: {exc}") from None
    except Image.UnidentifiedImageError:
        # Pillow's own message names the in-memory buffer's address, nothing the caller can use.
        raise UnreadableImage("not a readable image: not an image format Pillow knows") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"not a readable image: {exc}") from None
