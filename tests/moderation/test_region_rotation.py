"""The region and rotation views of the input check (plain module): a pasted picture's box is
found to within a pixel, a picture turned and cut back is compared without the corners it
lacks, and the coarse bound lets a view's copy through."""

import io

import numpy as np
from PIL import Image

from moderation import copy_detection, region_rotation
from tests.gating_support import encoded, picture

ITEM = picture(23, 64)
canonical = copy_detection.canonical


def jpeg(image: Image.Image, quality: int = 80) -> Image.Image:
    return Image.open(io.BytesIO(encoded(image.convert("RGB"), "JPEG", quality=quality)))


def test_a_pasted_picture_is_cut_out_to_within_a_pixel():
    canvas = picture(70, 320).resize((400, 320))
    canvas.paste(ITEM.resize((150, 150), Image.LANCZOS), (173, 41))
    views = region_rotation.region_views(jpeg(canvas), 128)
    found = [view for view in views if view.undone.endswith("% of the image at (173, 41)")]
    assert found, [view.undone for view in views]
    view = found[0]
    assert view.undone.startswith(("region 37 %", "region 38 %"))
    assert abs(view.image.width - view.image.height) <= 1
    similarity = 1 - copy_detection.compare(canonical(view.image), canonical(ITEM)).distance
    assert similarity > 0.97


def test_a_picture_turned_and_cut_is_compared_without_its_missing_corners():
    big = ITEM.resize((192, 192), Image.LANCZOS)
    cut = jpeg(big.rotate(30, Image.BICUBIC, expand=False, fillcolor=(255, 0, 255)))
    view = region_rotation.turned_back(np.asarray(cut.resize((128, 128))), 30, grown=False)
    assert view.undone == "turned back 30° clockwise, its corners cut"
    item = canonical(ITEM)
    masked = copy_detection.compare(canonical(view.image), item, mask=view.mask)
    whole = copy_detection.compare(canonical(view.image), item)
    assert 1 - masked.distance > 0.96
    # Its painted-in corners are not the item's: compared whole, it is not a copy.
    assert 1 - whole.distance < 0.94
    # An unrelated picture stays far through the same mask.
    other = copy_detection.compare(canonical(picture(71, 128)), item, mask=view.mask)
    assert 1 - other.distance < 0.85
    assert copy_detection.coarse_distance(canonical(view.image), item, view.mask) < 0.05


def test_a_picture_turned_on_a_grown_canvas_comes_back_whole():
    big = ITEM.resize((160, 160), Image.LANCZOS)
    grown = jpeg(big.rotate(-16, Image.BICUBIC, expand=True, fillcolor=(0, 0, 0)))
    small = grown.copy()
    small.thumbnail((128, 128))
    view = region_rotation.turned_back(np.asarray(small), -16, grown=True)
    assert view.undone == "turned back 16° anticlockwise, out of its grown canvas"
    assert view.mask is None
    assert 1 - copy_detection.compare(canonical(view.image), canonical(ITEM)).distance > 0.96
