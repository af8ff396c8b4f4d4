"""The gates attacked end to end, as an outside tester does (#17): input images that are
training items in disguise are refused whatever way they are turned, and a policy cannot switch an
image-safety score's block off by misspelling its name."""

import json

import pytest
from PIL import Image

from licensing.services import dataset_item_add
from moderation.image_safety_clip import ConceptTable
from policies.models import Policy
from policies.rules import IMAGE_SCORES
from tests.gating_support import encoded, picture
from tests.generation.test_controlnets import folders, setup  # noqa: F401 (fixtures)
from tests.generation.test_inputs_transformed import (
    assert_refused_as_a_training_item,
    upscaler,  # noqa: F401 (fixture)
)
from tests.mm_api_support import assert_error

# A picture with no symmetry (the default model's posters look much the same turned).
_ITEM = picture(7, 64)
TURNED = {
    "rotated 90°": (Image.Transpose.ROTATE_90, "(rotated 90°)"),
    "rotated 180°": (Image.Transpose.ROTATE_180, "(rotated 180°)"),
    "rotated 270°": (Image.Transpose.ROTATE_270, "(rotated 270°)"),
    # A vertical flip is a half turn of the mirror image, which every search hashes too.
    "flipped upside down": (Image.Transpose.FLIP_TOP_BOTTOM, "(rotated 180°)"),
}


@pytest.fixture
def turnable(setup):  # noqa: F811
    # In the dataset the model and the upscaler were trained on.
    dataset_item_add(
        dataset=setup["posters"], actor=None, data=encoded(_ITEM), licence_key="CC0-1.0"
    )


@pytest.mark.parametrize("turn", TURNED)
@pytest.mark.parametrize("kind", ["canny photo", "image-to-image", "upscale"])
def test_a_turned_or_flipped_training_item_is_refused(personas, upscaler, turnable, kind, turn):  # noqa: F811
    transpose, named = TURNED[turn]
    turned = _ITEM.resize((32, 32), Image.LANCZOS).transpose(transpose)
    error = assert_refused_as_a_training_item(personas["staff"], kind, encoded(turned))
    assert named in error.detail


def test_a_misspelt_image_safety_threshold_is_refused_not_left_to_block_nothing(personas):
    admin = personas["admin"]
    response = admin.client().post(
        "/api/policies",
        data=json.dumps(
            {
                "rules": {
                    "image_safety": {
                        "required_classifiers": ["nudenet"],
                        "thresholds": {"nudty": 0.5},
                    }
                }
            }
        ),
        content_type="application/json",
    )
    body = assert_error(response, 422, "invalid_policy")
    assert "nudty" in body["detail"] and "nudity" in body["detail"]
    assert Policy.objects.filter(org=admin.org).count() == 1


def test_every_score_a_classifier_gives_can_have_a_threshold():
    assert set(ConceptTable.read().concepts.scores) <= set(IMAGE_SCORES)
    assert "nudity" in IMAGE_SCORES  # NudeNet's only score
