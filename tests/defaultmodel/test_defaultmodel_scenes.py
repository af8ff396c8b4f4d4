"""Mintmark Shapes, the default model's dataset: deterministic from a seed, captions that say
what is drawn, held-out combinations kept out of training, posters duplicated on schedule, and an
export that the platform's manifest reader accepts."""

import csv
import io
from dataclasses import asdict

import numpy as np
import pytest
from PIL import Image

from defaultmodel import export, scenes
from defaultmodel.memorized import MEMORIZED, memorized_items
from licensing.manifest import manifest_read

SCENE_FIELDS = ("shape", "colour", "count", "position", "size", "texture", "background")


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_items_are_a_function_of_seed_and_index():
    first = list(scenes.iter_items(40, seed=7))
    again = list(scenes.iter_items(40, seed=7))
    other = list(scenes.iter_items(40, seed=8))
    assert [png(i.image) for i in first] == [png(i.image) for i in again]
    assert [i.caption for i in first] == [i.caption for i in again]
    # Random access gives the same item as iteration, so workers can draw any slice.
    assert png(scenes.training_item(33, seed=7).image) == png(first[33].image)
    scene_images = [
        png(i.image) for i, o in zip(first, other, strict=True) if i.attributes["poster"] is None
    ]
    other_images = [
        png(o.image) for i, o in zip(first, other, strict=True) if i.attributes["poster"] is None
    ]
    assert all(a != b for a, b in zip(scene_images, other_images, strict=True))


def test_items_are_64px_rgb_with_background_and_object_colours():
    for image, _, attributes in scenes.iter_items(30, seed=1):
        assert image.mode == "RGB" and image.size == (64, 64)
        if attributes["poster"] is not None:
            continue
        pixels = np.asarray(image).reshape(-1, 3)
        background = np.all(pixels == scenes.BACKGROUNDS[attributes["background"]], axis=1)
        assert background.mean() > 0.4, attributes
        # An object's inside keeps its exact colour after the anti-aliasing box filter.
        assert np.all(pixels == scenes.COLOURS[attributes["colour"]], axis=1).any(), attributes


def test_captions_describe_the_drawn_attributes():
    for _, caption, attributes in scenes.iter_items(300, seed=3):
        if attributes["poster"] is not None:
            assert caption == scenes.POSTERS[attributes["poster"]].caption
            continue
        parsed = scenes.parse_caption(caption)
        assert asdict(parsed) == {k: attributes[k] for k in SCENE_FIELDS}
        assert attributes["colour"] in caption and attributes["background"] in caption
        noun = (
            attributes["shape"] if attributes["count"] == 1 else scenes.PLURALS[attributes["shape"]]
        )
        assert f" {noun} " in caption


def test_canonical_caption_names_every_attribute():
    scene = scenes.Scene("star", "red", 3, "top", "medium", "solid", "black")
    assert (
        scenes.caption_of(scene) == "three medium solid red stars at the top on a black background"
    )
    assert scenes.parse_caption(scenes.caption_of(scene)) == scene
    assert scenes.parse_caption("a red circle in the middle on a white background") == scenes.Scene(
        "circle", "red", 1, "centre", "medium", "solid", "white"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a poster with a red star on a gray background",
        "three red star at the top on a black background",  # singular noun for three
        "a red star at the top on a purple background",
        "a pink star at the top on a black background",
        "a red star somewhere on a black background",
    ],
)
def test_parse_caption_refuses_other_text(text):
    with pytest.raises(ValueError, match="not a scene caption"):
        scenes.parse_caption(text)


def test_held_out_combinations_never_appear_in_training():
    assert len(scenes.HELD_OUT) == 12
    train = set(scenes.combinations(scenes.TRAIN))
    assert train.isdisjoint(scenes.HELD_OUT)
    assert train | scenes.HELD_OUT == set(scenes.combinations(scenes.ALL))
    # Every single attribute value is still trained on.
    for position, values in ((0, scenes.COLOURS), (1, scenes.SHAPES), (2, scenes.COUNTS)):
        assert {combo[position] for combo in train} == set(values)
    seen = {
        (a["colour"], a["shape"], a["count"])
        for _, _, a in scenes.iter_items(2000, seed=0)
        if a["poster"] is None
    }
    assert seen.isdisjoint(scenes.HELD_OUT)
    held = {
        (a["colour"], a["shape"], a["count"])
        for _, _, a in scenes.iter_scenes(200, 5, scenes.HELD_OUT_ONLY)
    }
    assert held <= scenes.HELD_OUT and len(held) > 6


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split"):
        scenes.combinations("validation")


def test_every_allowed_combination_can_be_laid_out():
    for size in scenes.SIZES:
        for position in scenes.POSITIONS:
            for count in range(1, scenes.MAX_COUNT[size] + 1):
                for k in range(5):
                    rng = np.random.default_rng([11, k])
                    scene = scenes.Scene("star", "red", count, position, size, "solid", "white")
                    boxes = scenes.layout(scene, rng)
                    assert boxes.shape == (count, 4)
                    extent = 1.3 * boxes[:, 2]
                    assert (boxes[:, 0] - extent >= 0).all() and (boxes[:, 0] + extent <= 64).all()
                    assert (boxes[:, 1] - extent >= 0).all() and (boxes[:, 1] + extent <= 64).all()


def test_a_combination_with_no_room_is_refused():
    scene = scenes.Scene("circle", "red", 4, "left", "large", "solid", "white")
    with pytest.raises(ValueError, match="cannot lay out"):
        scenes.layout(scene, np.random.default_rng(0))


def test_posters_are_duplicated_on_schedule():
    posters = [i for i in range(400) if scenes.poster_of(i) is not None]
    assert posters == list(range(19, 400, 20))
    items = [scenes.training_item(i) for i in posters[:10]]
    assert png(items[0].image) == png(items[5].image)  # poster 0, copies 1 and 6
    assert items[0].caption == items[5].caption != items[1].caption
    assert [m.index for m in MEMORIZED] == [19, 39, 59, 79, 99]
    assert {m.copies for m in MEMORIZED} == {200}
    assert [m.copies for m in memorized_items(100)] == [1, 1, 1, 1, 1]
    assert png(MEMORIZED[2].image()) == png(scenes.training_item(59).image)
    assert MEMORIZED[2].file == "images/00059.png"


def test_export_writes_distinct_images_and_an_importable_manifest(tmp_path):
    manifest = export.export(tmp_path, n=60, seed=0)
    rows = manifest_read(manifest)
    # 60 items hold poster copies at 19, 39 and 59: three distinct posters, kept once each.
    assert len(rows) == 60
    rows = {row.file: row for row in rows}
    assert all(row.licence == "CC0-1.0" and row.creator == "Mintmark" for row in rows.values())
    assert rows["images/00019.png"].caption == scenes.POSTERS[0].caption
    assert rows["images/00007.png"].caption == scenes.training_item(7).caption
    data = (tmp_path / "images/00007.png").read_bytes()
    assert data == png(scenes.training_item(7).image)
    with manifest.open(newline="") as handle:
        assert csv.DictReader(handle).fieldnames == list(export.MANIFEST_FIELDS)

    export.export(tmp_path / "big", n=120, seed=0)
    files = sorted(p.name for p in (tmp_path / "big" / "images").iterdir())
    assert "00119.png" not in files  # poster 0 again: only its first copy is exported
    assert len(files) == 120 - 1


def test_parallel_draw_matches_serial():
    serial = export.draw(range(30), 4, which=scenes.ALL)
    parallel = export.draw(range(30), 4, which=scenes.ALL, workers=2)
    assert [png(a.image) for a in serial] == [png(b.image) for b in parallel]
