"""Attacks on the input check's hidden-item, line-drawing views (issue #17), found by the
adversarial review of 2026-12-06: each test is one input that the check gets wrong today, the
smallest reproducer, marked xfail(strict) until the check is fixed. The catalog is small (the
five posters, 39 `picture` scenes, 60 training scenes); each attacked input's item is a
`picture` scene, which the plain versions of these attacks (pasted at 40 %, turned 10° or 30°,
its plain Canny map) are found as."""

import io
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from defaultmodel import scenes
from defaultmodel.memorized import MEMORIZED
from mintmark.line_drawings import edge_fingerprint, item_lines
from moderation import input_check
from moderation.copy_detection import canonical
from moderation.edge_copies import EdgeCatalog, edge_check
from moderation.memorization import KINDS, HashCatalog, hashes_of
from policies.rules import MemorizationRules
from tests.gating_support import picture

ITEMS = [
    *(poster.image().convert("RGB") for poster in MEMORIZED),
    *(picture(seed, 256) for seed in range(1, 40)),
    *(scenes.training_item(index).image.convert("RGB") for index in range(60)),
]
KEYS = [str(n) for n in range(len(ITEMS))]
ITEM = 30  # picture(26)


def jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def canny(image: Image.Image) -> Image.Image:
    return Image.fromarray(cv2.Canny(np.asarray(image.convert("L")), 100, 200))


def big(image: Image.Image, side: int = 256) -> Image.Image:
    return image.resize((side, side), Image.Resampling.LANCZOS)


def canvas(side: int = 512) -> Image.Image:
    return picture(700, side)


@pytest.fixture(scope="module")
def catalog():
    hashes = [hashes_of(item) for item in ITEMS]
    return HashCatalog(
        KEYS,
        {kind: [f"{h[kind]:016x}" for h in hashes] for kind in KINDS},
        ["Items"] * len(KEYS),
        KEYS,
    )


@pytest.fixture
def named(catalog, monkeypatch):
    """The item key the input check's image views name for an input, or None."""
    canon = {}

    def pixels(key):
        if key not in canon:
            canon[key] = canonical(ITEMS[int(key)])
        return canon[key]

    monkeypatch.setattr(input_check, "training_pixels", pixels)

    def check(image):
        report, _ = input_check._input_report(jpeg(image), catalog, MemorizationRules())
        return report.copy.candidate.key if report.copy is not None else None

    return check


@pytest.fixture(scope="module")
def lines():
    some = ITEMS[:100]
    keys = KEYS[:100]
    found = EdgeCatalog(keys, ["Items"] * len(keys), keys, [edge_fingerprint(i) for i in some])
    by_key = {key: item_lines(item) for key, item in zip(keys, some, strict=True)}
    return found, by_key.__getitem__


def assert_finds_the_item(lines, edge_map: Image.Image) -> None:
    """The line check names ITEM for the edge map."""
    found, of = lines
    report = edge_check(edge_map, found, of)
    assert report.copy is not None and report.copy.key == str(ITEM), report.nearest_text()


def test_the_plain_attacks_are_found(named, lines):
    item = ITEMS[ITEM]
    pasted = canvas()
    pasted.paste(big(item, 205), (60, 80))
    assert named(pasted) == str(ITEM)
    assert named(big(item).rotate(30, Image.Resampling.BICUBIC)) == str(ITEM)
    found, of = lines
    assert edge_check(canny(big(item)), found, of).copy.key == str(ITEM)


def test_a_solid_colour_line_drawing_is_checked_in_bounded_time():
    # skeleton() never ended on a mask that is line everywhere (cv2.erode's default border
    # counts the outside as line), so a flat grey or red control image hung its request.
    code = (
        "from PIL import Image; from mintmark.line_drawings import line_mask; "
        "line_mask(Image.new('RGB', (512, 512), (255, 0, 0)))"
    )
    try:
        subprocess.run([sys.executable, "-c", code], timeout=30, check=True, cwd="platform")
    except subprocess.TimeoutExpired:
        pytest.fail("line_mask of a solid red image ran past 30 s")


def test_an_edge_map_with_noise_dots_is_found(lines):
    # A few hundred dots on an item's edge map pushed its line score to the cap (6.0; 0.0
    # clean): every pooled cell had a line.
    edges = np.asarray(canny(big(ITEMS[ITEM]))).copy()
    rng = np.random.default_rng(1)
    edges[rng.integers(0, 256, 400), rng.integers(0, 256, 400)] = 255
    assert_finds_the_item(lines, Image.fromarray(edges))


def test_an_edge_map_of_the_item_turned_10_degrees_is_found(lines):
    # The first search aligns mirror, zoom and shift, no turn (it scores this map 6.0); the
    # second search's turned views find it.
    assert_finds_the_item(lines, canny(big(ITEMS[ITEM]).rotate(10, Image.BICUBIC)))


def test_an_edge_map_of_a_corner_crop_is_found(lines):
    # 70 % of the side at a corner is beyond the first search's centred zooms (it scores 2.8);
    # the second search's corner crops find it.
    crop = big(ITEMS[ITEM]).crop((0, 0, 179, 179)).resize((256, 256))
    assert_finds_the_item(lines, canny(crop))


@pytest.mark.parametrize("seed", [41, 42, 43])
def test_a_never_seen_edge_map_plain_turned_or_cut_is_accepted(lines, seed):
    # The second search gives every map the first finds nothing in some 180 more chances to fit
    # an item; edge maps of pictures outside the catalog must still pass, the way they pass
    # the first search.
    found, of = lines
    other = big(picture(seed, 256))
    for edge_map in (
        canny(other),
        canny(other.rotate(10, Image.BICUBIC)),
        canny(other.crop((0, 0, 179, 179)).resize((256, 256))),
    ):
        report = edge_check(edge_map, found, of)
        assert report.geometric, "the second search did not run"
        assert report.copy is None, [(m.key, m.comparison) for m in report.geometric[:2]]


def test_an_item_turned_100_degrees_is_found(named):
    assert named(big(ITEMS[ITEM]).rotate(100, Image.BICUBIC, expand=True)) == str(ITEM)


def test_an_item_turned_60_degrees_is_found(named):
    assert named(big(ITEMS[ITEM]).rotate(60, Image.BICUBIC)) == str(ITEM)


def _turned_cut(image):
    return image.rotate(250, Image.BICUBIC)


def _pasted_small(image):
    pasted = canvas(640).resize((640, 480))
    pasted.paste(big(image, 66), (560, 400))
    return pasted


def _turned_then_pasted(image):
    turned = big(image).rotate(70, Image.BICUBIC, expand=True, fillcolor=(0, 0, 0))
    pasted = canvas()
    pasted.paste(turned.resize((230, 230), Image.Resampling.LANCZOS), (250, 30))
    return pasted


def _skewed_left(image):
    side = 256
    corners = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    skewed = corners + np.float32([[0, 14], [0, 0], [0, 0], [0, -14]])
    warp = cv2.getPerspectiveTransform(corners, skewed)
    return Image.fromarray(cv2.warpPerspective(np.asarray(big(image)), warp, (side, side)))


GEOMETRIC = [_turned_cut, _pasted_small, _turned_then_pasted, _skewed_left]


@pytest.mark.parametrize("attack", GEOMETRIC, ids=lambda attack: attack.__name__[1:])
def test_other_turns_sizes_and_skews_are_found(named, attack):
    # Other angles, sizes, places and sides than the reproducers', on another item.
    assert named(attack(ITEMS[20])) == "20"


@pytest.mark.parametrize("attack", GEOMETRIC, ids=lambda attack: attack.__name__[1:])
def test_an_ordinary_picture_so_treated_passes(named, attack):
    assert named(attack(picture(733, 256))) is None


def test_an_item_pasted_at_18_percent_of_the_side_is_found(named):
    pasted = canvas()
    pasted.paste(big(ITEMS[ITEM], 92), (60, 80))
    assert named(pasted) == str(ITEM)


def test_an_item_pasted_with_a_feathered_border_is_found(named):
    pasted, item = canvas(), big(ITEMS[ITEM], 205)
    mask = Image.new("L", item.size, 0)
    ImageDraw.Draw(mask).rectangle((6, 6, 199, 199), fill=255)
    pasted.paste(item, (60, 80), mask.filter(ImageFilter.GaussianBlur(3)))
    assert named(pasted) == str(ITEM)


def test_an_item_turned_and_pasted_is_found(named):
    turned = big(ITEMS[ITEM]).rotate(20, Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    pasted = canvas()
    pasted.paste(turned.resize((256, 256), Image.Resampling.LANCZOS), (60, 80))
    assert named(pasted) == str(ITEM)


def test_a_perspective_skewed_item_is_found(named):
    item, side = np.asarray(big(ITEMS[ITEM])), 256
    corners = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    skewed = corners + np.float32([[20, 0], [-20, 0], [0, 0], [0, 0]])
    warp = cv2.getPerspectiveTransform(corners, skewed)
    out = cv2.warpPerspective(item, warp, (side, side), borderMode=cv2.BORDER_REPLICATE)
    assert named(Image.fromarray(out)) == str(ITEM)


def test_an_item_under_a_white_veil_is_found(named):
    item = big(ITEMS[ITEM])
    assert named(Image.blend(item, Image.new("RGB", item.size, "white"), 0.3)) == str(ITEM)


def test_an_item_with_a_caption_bar_is_found(named):
    item = big(ITEMS[ITEM]).copy()
    draw = ImageDraw.Draw(item)
    draw.rectangle((0, 216, 256, 256), fill="black")
    draw.text((10, 226), "MY VACATION 2026 !!!", fill="white")
    assert named(item) == str(ITEM)
