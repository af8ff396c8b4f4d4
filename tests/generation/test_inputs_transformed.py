"""Input images that are training items in disguise: a greyscale copy of a training item keeps
everything a control image, an upscale or an edit takes from it (Canny edges read brightness
only), so the training-data check refuses it as it refuses the item itself, for every input
kind; the release gate's comparison judges a greyscale output the same way."""

import pytest
from PIL import Image, ImageOps

from generation.submission import JobRequest, job_submit
from generation.tiny import save_tiny_pipeline
from mintmark.errors import ApiError
from moderation import copy_detection
from tests.gating_support import encoded, picture
from tests.generation.test_controlnets import POSTER, folders, setup  # noqa: F401 (fixtures)
from tests.generation.test_upscale import register_upscaler

GREY_POSTER = encoded(POSTER.image().resize((32, 32), Image.LANCZOS).convert("L"))
# Colour changes a person undoes exactly: the picture comes back, Canny edges are the item's.
_RGB = POSTER.image().resize((32, 32), Image.LANCZOS).convert("RGB")
UNDOABLE = {
    "inverted": encoded(ImageOps.invert(_RGB)),
    "channels swapped": encoded(Image.merge("RGB", _RGB.split()[::-1])),
}
REQUESTS = {
    "canny photo": {"control_kind": "canny", "control_preprocess": "canny"},
    "depth map": {"control_kind": "depth"},
    "image-to-image": {"mode": "image-to-image", "strength": 0.5},
    "upscale": {"mode": "upscale", "model": "x4"},
}


@pytest.fixture
def upscaler(setup, tmp_path):  # noqa: F811
    folder = save_tiny_pipeline(tmp_path / "x4", "upscaler")
    return register_upscaler(setup["org"], folder, datasets=[setup["posters"]])


def assert_refused_as_a_training_item(persona, kind: str, data: bytes) -> ApiError:
    fields = {"prompt": "a red cube", "model": "tiny", "steps": 2, **REQUESTS[kind]}
    upload = "control_image" if "control_kind" in fields else "image"
    if upload == "control_image":
        fields.update(width=32, height=32)
    with pytest.raises(ApiError) as caught:
        job_submit(membership=persona.membership, req=JobRequest(**fields, **{upload: data}))
    error = caught.value
    assert (error.status, error.code) == (422, "input_memorized"), error.detail
    assert "Posters" in error.detail
    return error


@pytest.mark.parametrize("kind", REQUESTS)
def test_a_greyscale_training_item_is_refused_as_every_input(personas, setup, upscaler, kind):  # noqa: F811
    assert_refused_as_a_training_item(personas["staff"], kind, GREY_POSTER)


def test_a_greyscale_copy_is_as_close_to_its_item_as_the_item_and_others_stay_far():
    item = picture(5, 64)
    grey = item.convert("L")
    canonical = copy_detection.canonical
    copy = copy_detection.compare(canonical(grey), canonical(item))
    assert copy.distance < 0.03
    # Compared in brightness only, an unrelated greyscale picture stays unrelated.
    other = copy_detection.compare(canonical(picture(6, 64).convert("L")), canonical(item))
    assert other.distance > 0.1


@pytest.mark.parametrize("change", UNDOABLE)
@pytest.mark.parametrize("kind", ["canny photo", "image-to-image", "upscale"])
def test_an_inverted_or_channel_swapped_training_item_is_refused(
    personas,
    setup,  # noqa: F811
    upscaler,
    kind,
    change,
):
    error = assert_refused_as_a_training_item(personas["staff"], kind, UNDOABLE[change])
    # The refusal names the change it undid.
    assert ("(inverted)" if change == "inverted" else "(channels BGR)") in error.detail


def test_an_ordinary_picture_passes_every_colour_undone_view(personas, setup, upscaler):  # noqa: F811
    fields = {"prompt": "a red cube", "model": "tiny", "steps": 2, **REQUESTS["image-to-image"]}
    job = job_submit(
        membership=personas["staff"].membership,
        req=JobRequest(**fields, image=encoded(picture(11, 64).resize((32, 32)))),
    )
    assert job.input_checks.get().verdict == "pass"
