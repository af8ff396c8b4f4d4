"""Training items hidden in a bigger input or turned by an odd angle (issue #17): pasted into a
busy canvas at several sizes and places, or turned by 7 to 41 degrees on a grown canvas or
cut back to its size, each rescaled and saved as JPEG, the item is refused as an edit's image,
a control image and an upscale upload, naming it and the change undone; ordinary pictures,
collages and turned pictures that are not training items pass."""

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageFilter

from generation.submission import JobRequest, job_submit
from licensing.services import dataset_item_add
from mintmark.errors import ApiError
from tests.gating_support import encoded, picture
from tests.generation.test_controlnets import folders, setup  # noqa: F401 (fixtures)
from tests.generation.test_inputs_transformed import REQUESTS, upscaler  # noqa: F401

# A training item with no symmetry, so a turn of it is not the item.
ITEM = picture(23, 64)


@pytest.fixture
def hidden(setup):  # noqa: F811
    dataset_item_add(
        dataset=setup["posters"], actor=None, data=encoded(ITEM), licence_key="CC0-1.0"
    )


def handled(image: Image.Image, scale: float, quality: int) -> bytes:
    """Rescaled to sides that are multiples of 8 (every mode takes them) and saved as JPEG."""
    size = tuple(max(8, round(side * scale / 8) * 8) for side in image.size)
    return encoded(image.resize(size, Image.LANCZOS).convert("RGB"), "JPEG", quality=quality)


def busy_canvas(width: int, height: int, seed: int) -> Image.Image:
    """Other pictures (none of them training items) over smooth colour and noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 4, 3), np.uint8)
    canvas = Image.fromarray(coarse).resize((width, height), Image.BICUBIC)
    noisy = np.asarray(canvas) + rng.normal(0, 10, (height, width, 3))
    canvas = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    for k in range(5):
        side = int(rng.integers(height // 5, height // 2))
        place = (int(rng.integers(0, width - side)), int(rng.integers(0, height - side)))
        canvas.paste(picture(100 + seed * 10 + k, 64).resize((side, side)), place)
    return canvas


# (share of the canvas's height, where its top-left corner goes as shares of the room left)
PASTES = {
    "30 % near a corner": (0.3, (0.05, 0.9)),
    "50 % in the middle": (0.5, (0.5, 0.4)),
    "75 % at the edge": (0.75, (1.0, 0.0)),
}


def pasted(share: float, where: tuple[float, float], seed: int) -> bytes:
    canvas = busy_canvas(256, 192, seed)
    side = round(share * 192)
    x, y = round(where[0] * (256 - side)), round(where[1] * (192 - side))
    canvas.paste(ITEM.resize((side, side), Image.LANCZOS), (x, y))
    return handled(canvas, 0.8, 80)


# (angle anticlockwise, canvas grown, fill of the corners)
TURNS = {
    "7° grown, black": (7, True, (0, 0, 0)),
    "-18° cut, white": (-18, False, (255, 255, 255)),
    "33° grown, green": (33, True, (40, 160, 90)),
    "-41° cut, black": (-41, False, (0, 0, 0)),
    "12° cut, purple": (12, False, (120, 40, 160)),
}


def turned(angle: float, grown: bool, fill, item=ITEM) -> bytes:
    big = item.resize((160, 160), Image.LANCZOS)
    return handled(big.rotate(angle, Image.BICUBIC, expand=grown, fillcolor=fill), 0.8, 85)


def submit(persona, kind: str, data: bytes):
    fields = {"prompt": "a red cube", "model": "tiny", "steps": 2, **REQUESTS[kind]}
    upload = "control_image" if "control_kind" in fields else "image"
    if upload == "control_image":
        width, height = Image.open(io.BytesIO(data)).size
        fields.update(width=width, height=height)
    return job_submit(membership=persona.membership, req=JobRequest(**fields, **{upload: data}))


def assert_refused(persona, kind: str, data: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        submit(persona, kind, data)
    error = caught.value
    assert (error.status, error.code) == (422, "input_memorized"), error.detail
    assert "Posters" in error.detail
    return error


@pytest.mark.parametrize("paste", PASTES)
@pytest.mark.parametrize("kind", ["canny photo", "image-to-image", "upscale"])
def test_a_training_item_pasted_into_a_busy_picture_is_refused(
    personas,
    setup,  # noqa: F811
    upscaler,  # noqa: F811
    hidden,
    kind,
    paste,
):
    share, where = PASTES[paste]
    error = assert_refused(personas["staff"], kind, pasted(share, where, seed=1))
    item = setup["posters"].items.order_by("-created_at").first()
    assert error.extra["item"] == str(item.pk)
    assert "(region " in error.detail and " % of the image at (" in error.detail


@pytest.mark.parametrize("turn", TURNS)
def test_a_training_item_turned_by_an_odd_angle_is_refused(personas, setup, hidden, turn):  # noqa: F811
    angle, grown, fill = TURNS[turn]
    error = assert_refused(personas["staff"], "image-to-image", turned(angle, grown, fill))
    # The turn undone is named, within the search's step of the one made.
    undone = re.search(r"\(turned back ([\d.]+)° (\w+), ", error.detail)
    assert undone is not None, error.detail
    assert abs(float(undone[1]) - abs(angle)) <= 2
    assert undone[2] == ("clockwise" if angle > 0 else "anticlockwise")


@pytest.mark.parametrize("kind", ["canny photo", "upscale"])
def test_a_turned_training_item_is_refused_as_a_control_image_and_an_upscale(
    personas,
    setup,  # noqa: F811
    upscaler,  # noqa: F811
    hidden,
    kind,
):
    error = assert_refused(personas["staff"], kind, turned(-23, False, (250, 250, 250)))
    assert "(turned back" in error.detail


ORDINARY = {
    **{
        f"picture {seed}": lambda seed=seed: handled(picture(seed, 160), 0.8, 80)
        for seed in range(40, 46)
    },
    "smooth noise": lambda: handled(
        busy_canvas(256, 192, 9).filter(ImageFilter.GaussianBlur(2)), 1.0, 85
    ),
    "collage of other pictures": lambda: handled(busy_canvas(256, 192, 7), 0.8, 80),
    "another picture pasted in": lambda: pasted_other(),
    "another picture turned 17°, grown": lambda: turned(17, True, (0, 0, 0), picture(60, 64)),
    "another picture turned -29°, cut": lambda: turned(
        -29, False, (255, 255, 255), picture(61, 64)
    ),
}


def pasted_other() -> bytes:
    canvas = busy_canvas(256, 192, 3)
    canvas.paste(picture(62, 96), (120, 50))
    return handled(canvas, 0.8, 80)


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_pictures_collages_and_turned_pictures_pass(personas, setup, hidden, name):  # noqa: F811
    job = submit(personas["staff"], "image-to-image", ORDINARY[name]())
    assert job.input_checks.get().verdict == "pass"
