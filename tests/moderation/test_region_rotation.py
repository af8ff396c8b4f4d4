"""The region and rotation views of the input check (plain module): a pasted picture's box is
found to within a pixel, a picture turned and cut back is compared without the corners it
lacks, and the coarse bound lets a view's copy through."""

import io

import cv2
import imagehash
import numpy as np
from PIL import Image, ImageOps

from moderation import copy_detection, region_rotation
from moderation.memorization import Candidate, CandidateSearch, Compared, Report
from policies.rules import MemorizationRules
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


def test_a_quarter_turn_more_undoes_a_turn_beyond_45_degrees():
    big = ITEM.resize((160, 160), Image.LANCZOS)
    grown = jpeg(big.rotate(115, Image.BICUBIC, expand=True, fillcolor=(0, 0, 0)))
    small = grown.copy()
    small.thumbnail((128, 128))
    view = region_rotation.turned_back(np.asarray(small), 25, grown=True).quartered(3)
    assert view.undone == "turned back 115° clockwise, out of its grown canvas"
    assert 1 - copy_detection.compare(canonical(view.image), canonical(ITEM)).distance > 0.96
    # Its sides' slant is found, and the search turns the views near it a quarter more.
    slants = region_rotation._slants(grown)
    assert slants and abs(abs(slants[0]) - 25) < 1.5, slants
    names = {view.undone for view in region_rotation.rotation_views(small, slants)}
    assert "turned back 116° clockwise, out of its grown canvas" in names
    assert "turned back 64° anticlockwise, its corners cut" in names


def test_a_picture_turned_then_pasted_is_found_along_its_slant():
    turned = ITEM.resize((200, 200), Image.LANCZOS).rotate(
        23, Image.BICUBIC, expand=True, fillcolor=(255, 255, 255)
    )
    canvas = picture(70, 320).resize((480, 400))
    canvas.paste(turned, (150, 60))
    slants = region_rotation._slants(jpeg(canvas))
    assert slants and abs(slants[0] + 23) < 1, slants
    views = list(region_rotation.turned_region_views(jpeg(canvas), 128, slants))
    best = max(
        1 - copy_detection.compare(canonical(view.image), canonical(ITEM)).distance
        for view in views
    )
    assert best > 0.96
    # A picture with only level and upright edges has no slant to turn back.
    level = picture(70, 320).resize((480, 400))
    level.paste(ITEM.resize((200, 200), Image.LANCZOS), (150, 60))
    assert region_rotation._slants(jpeg(level)) == []


def test_a_picture_in_perspective_is_rectified_onto_its_item():
    side = 192
    big = np.asarray(ITEM.resize((side, side), Image.LANCZOS))
    corners = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    skewed = corners + np.float32([[0, 0], [0, 0], [0, -14], [0, 14]])
    warp = cv2.getPerspectiveTransform(corners, skewed)
    out = jpeg(Image.fromarray(cv2.warpPerspective(big, warp, (side, side))))
    item = canonical(ITEM)
    plain = 1 - copy_detection.compare(canonical(out), item).distance
    view = region_rotation.rectified_view(region_rotation.View("", out), item, mirrored=False)
    assert view is not None and view.undone == "rectified (a homography)"
    rectified = 1 - copy_detection.compare(canonical(view.image), item, mask=view.mask).distance
    assert plain < 0.94 < 0.96 < rectified, (plain, rectified)
    # An unrelated picture is not bent into the item.
    other = region_rotation.rectified_view(region_rotation.View("", picture(71, 192)), item, False)
    if other is not None:
        distance = copy_detection.compare(canonical(other.image), item, mask=other.mask).distance
        assert distance > 0.15


def test_the_quarter_turns_hashes_are_the_hashes_of_the_turned_views():
    view = jpeg(picture(72, 96).resize((96, 80)))
    queries = region_rotation._quarter_queries(view)
    for quarter in range(4):
        turned = Image.fromarray(np.rot90(np.asarray(view), quarter))
        for mirrored, picture_ in enumerate((turned, ImageOps.mirror(turned))):
            assert queries[quarter][mirrored] == {
                "phash": int(str(imagehash.phash(picture_)), 16),
                "dhash": int(str(imagehash.dhash(picture_)), 16),
            }


def test_a_view_as_near_other_items_is_a_copy_only_at_the_views_exact_similarity(monkeypatch):
    # Over a few hundred views, a scene of flat shapes lands 0.97 near some item as often as
    # a copy does; only standing out from its neighbours, or coming nearer, tells them apart.
    rules = MemorizationRules()
    candidate = Candidate(0, "7", "items", "7", {"phash": 2, "dhash": 2, "whash": 2}, False)
    view = region_rotation.View("region 50 % of the image at (0, 0)", ITEM)
    monkeypatch.setattr(region_rotation, "region_views", lambda image, side: [view])
    monkeypatch.setattr(region_rotation, "rotation_views", lambda small, slants=(): iter(()))
    monkeypatch.setattr(region_rotation, "turned_region_views", lambda *args: iter(()))
    monkeypatch.setattr(region_rotation, "rectified_view", lambda *args: None)
    for similarity, ratio, found in ((0.975, 0.5, False), (0.975, 0.15, True), (0.985, 0.5, True)):

        def check(image, catalog, pixels, rules, mask=None, queries=None, at=(similarity, ratio)):
            compared = [Compared(candidate, at[0], False, 1.0, (0, 0), at[1])]
            return Report(
                1,
                CandidateSearch([candidate], 1, 8),
                compared,
                rules.similarity_limit,
                rules.exact_similarity,
                rules.max_neighbour_ratio,
            )

        monkeypatch.setattr(region_rotation, "view_check", check)
        monkeypatch.setattr(region_rotation, "memorization_check", check)
        pixels = lambda key: canonical(ITEM)  # noqa: E731
        report = region_rotation.hidden_item_report(ITEM, ITEM, None, pixels, rules, rules)
        assert (report is not None) == found, (similarity, ratio)
