"""The two-stage memorization check on the default model's own training data (no Django): copies
at other scales, after re-compression, cropped, shifted or mirrored are caught naming their
item, and the pixel stage separates the shipped model's copies of posters 3 and 4 (which
perceptual hashes miss) from its ordinary outputs."""

import io

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image, ImageDraw, ImageFilter

from defaultmodel import export, scenes
from defaultmodel.memorized import MEMORIZED
from generation.demo import MODEL_FOLDER
from moderation import memorization
from moderation.copy_detection import canonical
from moderation.gates import GateError
from moderation.memorization import (
    KINDS,
    UNRELATED_DISTANCE,
    HashCatalog,
    hashes_of,
    memorization_check,
    neighbour_ratio,
)
from policies.rules import MemorizationRules
from tests.defaultmodel_support import copy_draw

# The first 2 000 training items hold every poster's first copy (items 19 to 99) and enough
# ordinary scenes of every kind for unrelated images to have close neighbours.
ITEMS = 2000
POSTER = {m.poster: m.index for m in MEMORIZED}


@pytest.fixture(scope="module")
def training():
    indices = [i for i in range(ITEMS) if export.is_first_copy(i)]
    images = {i: scenes.training_item(i).image for i in indices}
    hashes = {i: hashes_of(image) for i, image in images.items()}
    catalog = HashCatalog(
        [str(i) for i in indices],
        {kind: [f"{hashes[i][kind]:016x}" for i in indices] for kind in KINDS},
        [scenes.DATASET_NAME] * len(indices),
        [str(i) for i in indices],
    )
    canon: dict[str, np.ndarray] = {}

    def pixels(key: str) -> np.ndarray:
        if key not in canon:
            canon[key] = canonical(images[int(key)])
        return canon[key]

    return catalog, pixels, images


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def handled(image: Image.Image) -> dict[str, Image.Image]:
    """What a copy goes through on its way back: rescaling, re-compression, crops, shifts."""
    moved = np.roll(np.asarray(image), 3, axis=0)
    moved[:3] = moved[3:4]
    return {
        "half size, JPEG q50": jpeg(image.resize((32, 32), Image.LANCZOS), 50),
        "56 px, JPEG q70": jpeg(image.resize((56, 56), Image.LANCZOS), 70),
        "1.5x, JPEG q60": jpeg(image.resize((96, 96), Image.BICUBIC), 60),
        "double size, JPEG q90": jpeg(image.resize((128, 128), Image.BICUBIC), 90),
        "4 px cropped off each side": image.crop((4, 4, 60, 60)),
        "shifted down 3 px": Image.fromarray(moved),
        "mirrored, JPEG q70": jpeg(image.transpose(Image.FLIP_LEFT_RIGHT), 70),
    }


@pytest.mark.parametrize("index", [POSTER[3], POSTER[4], 1234, 1777])
def test_copies_at_other_scales_and_after_recompression_are_caught(training, index):
    catalog, pixels, images = training
    rules = MemorizationRules()
    for how, copy in handled(images[index]).items():
        if (index, how) == (1234, "half size, JPEG q50"):
            continue  # the default settings' trade-off: see the next test
        report = memorization_check(copy, catalog, pixels, rules)
        assert report.copy is not None, f"{how}: {report.nearest_text()}"
        assert report.copy.candidate.key == str(index), how
        assert report.copy.candidate.label == scenes.DATASET_NAME


def test_a_small_heavily_compressed_copy_of_a_plain_item_is_the_admins_trade_off(training):
    """Item 1234 (plain shapes) at half size and JPEG q50 comes out just under the default
    exact_similarity and not far from its neighbours, like ordinary outputs that redraw a plain
    item: the defaults let it pass to keep those outputs released; lowering exact_similarity
    to 0.965 (README, "How an admin tunes the memorization gate") catches it."""
    catalog, pixels, images = training
    copy = jpeg(images[1234].resize((32, 32), Image.LANCZOS), 50)
    rules = MemorizationRules()
    report = memorization_check(copy, catalog, pixels, rules)
    assert report.copy is None
    assert rules.min_similarity <= report.compared[0].similarity < rules.exact_similarity
    report = memorization_check(copy, catalog, pixels, MemorizationRules(exact_similarity=0.965))
    assert report.copy is not None and report.copy.candidate.key == "1234"


def test_a_poster_copy_is_beyond_any_safe_hash_radius(training):
    """Why the pixel stage exists: poster 4 at half size and JPEG q50 is not found by the
    one-stage hash rule even at the default radius of 8, yet the two stages name it."""
    catalog, pixels, images = training
    copy = jpeg(images[POSTER[4]].resize((32, 32), Image.LANCZOS), 50)
    assert str(POSTER[4]) not in {m.key for m in catalog.search(copy, 8)}
    report = memorization_check(copy, catalog, pixels, MemorizationRules())
    assert report.copy.candidate.key == str(POSTER[4])


@pytest.fixture(scope="module")
def pipe():
    torch.set_num_threads(1)
    pipe = StableDiffusionPipeline.from_pretrained(MODEL_FOLDER, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_the_pixel_stage_separates_poster_3_and_4_copies_from_ordinary_outputs(training, pipe):
    catalog, pixels, _ = training
    rules = MemorizationRules()
    for poster in (3, 4):
        image = copy_draw(pipe, MEMORIZED[poster].caption, 0)
        # The one-stage hash rule at the demo radius misses the shipped model's copy.
        assert str(POSTER[poster]) not in {m.key for m in catalog.search(image, 4)}
        report = memorization_check(image, catalog, pixels, rules)
        assert report.copy is not None and report.copy.candidate.key == str(POSTER[poster])
        assert report.copy.similarity >= rules.similarity_limit
    for caption in (
        "two large dotted blue hexagons on the right on a white background",
        "a medium striped green triangle at the bottom on a gray background",
    ):
        report = memorization_check(copy_draw(pipe, caption, 5), catalog, pixels, rules)
        assert report.copy is None, report.nearest_text()
        assert report.compared, "an ordinary output still has hash candidates to compare"


def test_nothing_within_the_search_radius_is_said_so(training):
    catalog, pixels, _ = training
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), np.uint8))
    report = memorization_check(noise, catalog, pixels, MemorizationRules(candidate_radius=4))
    assert report.copy is None and not report.compared
    assert report.nearest_text() == (
        f"no training item within 4 bits on pHash, dHash or wHash (searched {len(catalog)} items)"
    )


def test_an_unreadable_candidate_fails_closed(training):
    catalog, _, images = training

    def missing(key):
        raise FileNotFoundError(key)

    with pytest.raises(GateError, match=f"could not read training item {POSTER[0]}"):
        memorization_check(images[POSTER[0]], catalog, missing, MemorizationRules())


def test_the_earlier_embedding_similarity_setting_sets_the_limit():
    rules = MemorizationRules(embedding_similarity=0.99)
    assert rules.similarity_limit == 0.99
    assert MemorizationRules().similarity_limit == MemorizationRules().min_similarity


def _disc(x: int, y: int, fill=(220, 40, 40), background=(40, 70, 200)) -> Image.Image:
    image = Image.new("RGB", (64, 64), background)
    ImageDraw.Draw(image).ellipse((x - 9, y - 9, x + 9, y + 9), fill)
    return image


@pytest.fixture(scope="module")
def plain_scenes(training):
    """A catalog of one plain scene in many places (a red disc on blue, as the default model's
    ordinary training items are drawn) beside the posters."""
    _, _, images = training
    scenes_ = {f"disc-{x}-{y}": _disc(x, y) for x in range(20, 46, 5) for y in range(20, 46, 5)}
    scenes_.update({str(index): images[index] for index in POSTER.values()})
    keys = list(scenes_)
    hashes = {key: hashes_of(image) for key, image in scenes_.items()}
    catalog = HashCatalog(
        keys, {kind: [f"{hashes[k][kind]:016x}" for k in keys] for kind in KINDS}, None, keys
    )
    canon = {key: canonical(image) for key, image in scenes_.items()}
    return catalog, canon.__getitem__, scenes_


def test_an_output_as_close_to_many_plain_items_as_to_its_nearest_is_not_a_copy(plain_scenes):
    """An ordinary output of a plain scene is as similar to its nearest training item as a
    re-compressed copy is, but about as similar to many others: it is not held. (A fixed
    similarity limit held it: 2.3 % of the default model's ordinary outputs were held so.)"""
    catalog, pixels, _ = plain_scenes
    rules = MemorizationRules()
    # Drawn in slightly other colours and softer, as the model draws: 0.964 similar to its
    # nearest item, over the 0.96 that was the fixed limit.
    output = _disc(33, 31, (205, 55, 45), (45, 75, 195)).filter(ImageFilter.GaussianBlur(0.8))
    report = memorization_check(output, catalog, pixels, rules)
    best = report.compared[0]
    assert 0.96 <= best.similarity < rules.exact_similarity, report.nearest_text()
    assert best.neighbour_ratio > rules.max_neighbour_ratio
    assert report.copy is None, report.nearest_text()
    # A copy of one of those plain items is nearly exact, and still caught (naming one of the
    # items it copies: they are one picture 5 px apart, which the comparison aligns)...
    copy = jpeg(_disc(30, 30).resize((96, 96), Image.LANCZOS), 85)
    report = memorization_check(copy, catalog, pixels, rules)
    assert report.copy is not None and report.copy.candidate.key.startswith("disc-")
    assert report.copy.similarity >= rules.exact_similarity
    # ...and so is a handled copy of a poster, which stands out from its neighbours.
    poster = plain_scenes[2][str(POSTER[0])]
    copy = jpeg(poster.crop((3, 3, 61, 61)).resize((48, 48), Image.LANCZOS), 60)
    report = memorization_check(copy, catalog, pixels, rules)
    assert report.copy is not None and report.copy.candidate.key == str(POSTER[0])
    assert report.copy.neighbour_ratio <= rules.max_neighbour_ratio


def test_the_neighbour_ratio_counts_missing_neighbours_as_unrelated():
    assert neighbour_ratio(0.05, [0.05]) == pytest.approx(0.05 / UNRELATED_DISTANCE)
    assert neighbour_ratio(0.05, [0.02, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9]) == pytest.approx(
        0.05 / ((0.02 + 0.1 * 4) / 5)
    )


def test_a_shifted_copy_whose_hashes_moved_is_found_through_a_view_undoing_the_shift(
    training, monkeypatch
):
    """Shifted 4 px, item 112's copy is 10-odd hash bits from it, outside the nearest
    candidates; the views that undo a shift or a crop bring it back in, and the pixels name it."""
    catalog, pixels, images = training
    moved = np.roll(np.asarray(images[112].convert("RGB")), 4, axis=1)
    moved[:, :4] = moved[:, 4:5]
    copy = Image.fromarray(moved)
    rules = MemorizationRules()
    report = memorization_check(copy, catalog, pixels, rules)
    assert report.copy is not None and report.copy.candidate.key == "112"
    monkeypatch.setattr(memorization, "undo_views", lambda image: [])
    report = memorization_check(copy, catalog, pixels, rules)
    assert "112" not in {c.candidate.key for c in report.compared}
