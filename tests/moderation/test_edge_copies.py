"""The line check on its own (moderation.edge_copies, no Django): a training item's edge map,
disguised as a tester would (other Canny thresholds, inverted, dilated, resized and JPEG'd,
mirrored, cropped, a thick trace), is found as that item among other items; edge maps of pictures
outside the catalog are not."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from defaultmodel import scenes
from defaultmodel.memorized import MEMORIZED
from mintmark.line_drawings import edge_fingerprint, item_lines, line_mask
from moderation import edge_copies
from moderation.edge_copies import EdgeCatalog, edge_check
from moderation.gates import GateError
from tests.gating_support import picture


def canny(image: Image.Image, low: int = 100, high: int = 200) -> Image.Image:
    return Image.fromarray(cv2.Canny(np.asarray(image.convert("L")), low, high))


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def big(image: Image.Image) -> Image.Image:
    # A small item is enlarged first, as a user preparing a control image would.
    return image.convert("RGB").resize((256, 256), Image.Resampling.BICUBIC)


def disguises(item: Image.Image) -> dict[str, Image.Image]:
    large = big(item)
    edges = canny(large)
    cut = 26
    trace = cv2.dilate(np.asarray(canny(large, 60, 180)), np.ones((7, 7), np.uint8))
    return {
        "canny 50/100": canny(large, 50, 100),
        "canny 100/200": edges,
        "canny 30/90": canny(large, 30, 90),
        "inverted": ImageOps.invert(edges),
        "dilated": Image.fromarray(cv2.dilate(np.asarray(edges), np.ones((5, 5), np.uint8))),
        "resized and JPEG'd": jpeg(edges.resize((160, 160), Image.Resampling.BILINEAR), 60),
        "mirrored": canny(ImageOps.mirror(large)),
        "cropped": canny(large.crop((cut, cut, 256 - cut, 256 - cut)).resize((256, 256))),
        "thick trace, black on white": ImageOps.invert(
            Image.fromarray(cv2.GaussianBlur(trace, (0, 0), 2))
        ),
    }


ITEMS = [
    MEMORIZED[4].image(),
    *(picture(seed, 256) for seed in range(1, 30)),
    *(scenes.training_item(index).image for index in range(40)),
]


@pytest.fixture(scope="module")
def catalog():
    keys = [str(i) for i in range(len(ITEMS))]
    lines = {key: item_lines(item) for key, item in zip(keys, ITEMS, strict=True)}
    fingerprints = [edge_fingerprint(item) for item in ITEMS]
    return EdgeCatalog(keys, ["Items"] * len(keys), keys, fingerprints), lines.__getitem__


@pytest.mark.parametrize("index", [0, 3, 17, 25])
def test_disguised_edge_maps_of_an_item_are_found_as_that_item(catalog, index):
    found, lines = catalog
    for name, edge_map in disguises(ITEMS[index]).items():
        report = edge_check(edge_map, found, lines)
        copy = report.copy
        assert copy is not None and copy.key == str(index), (name, report.nearest_text())


def test_edge_maps_of_other_pictures_are_not_copies(catalog):
    found, lines = catalog
    for seed in range(100, 112):
        for edge_map in (canny(picture(seed, 256)), canny(picture(seed, 256), 50, 100)):
            report = edge_check(edge_map, found, lines)
            assert report.copy is None, (seed, report.nearest_text())


def test_polarity_line_width_and_size_give_the_same_lines():
    edges = canny(big(picture(3, 64)))
    plain = line_mask(edges)
    assert plain.sum() > 50
    for variant in (
        ImageOps.invert(edges),
        jpeg(edges.resize((128, 128), Image.Resampling.BILINEAR), 70),
        Image.fromarray(cv2.dilate(np.asarray(edges), np.ones((3, 3), np.uint8))),
    ):
        other = line_mask(variant)
        far = cv2.distanceTransform((1 - plain).astype(np.uint8), cv2.DIST_L2, 3)
        assert far[other > 0].mean() < 1.0


def test_a_blank_control_image_is_not_compared_and_an_unreadable_item_fails_closed(catalog):
    found, _ = catalog
    blank = Image.new("RGB", (64, 64))
    assert edge_check(blank, found, lambda key: 1 / 0).compared == []

    def unreadable(key):
        raise OSError("gone")

    with pytest.raises(GateError, match="could not read training item"):
        edge_check(canny(big(ITEMS[3])), found, unreadable)


def test_a_fault_in_the_second_search_fails_closed(catalog, monkeypatch):
    # The second search runs for uploads the first finds nothing in, which is nearly every
    # ordinary one: if it cannot run, the upload must not pass as if it had been searched.
    found, lines = catalog
    ordinary = canny(picture(100, 256))
    report = edge_check(ordinary, found, lines)
    assert report.copy is None and report.geometric
    first = {match.key for match in report.compared}
    assert {match.key for match in report.geometric} - first

    def first_search_items_only(key):
        if key not in first:
            raise OSError("gone")
        return lines(key)

    with pytest.raises(GateError, match="could not read training item"):
        edge_check(ordinary, found, first_search_items_only)

    def broken(work):
        raise RuntimeError("no views")

    monkeypatch.setattr(edge_copies, "geometric_views", broken)
    with pytest.raises(GateError, match="turned and cut views of the line drawing failed"):
        edge_check(ordinary, found, lines)
    # An upload the first search finds a copy in is decided without the second.
    assert edge_check(canny(big(ITEMS[3])), found, lines).copy.key == "3"
