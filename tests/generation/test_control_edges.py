"""A training item's edges or a trace of it, given as the control image of a Canny or scribble
ControlNet (not computed here from a photo), is refused as the item is (422 `input_memorized`
naming it), or held for review by policy; edge maps of other pictures are queued; items fingerprint
their lines at ingest, and `manage.py edge_fingerprints` fills those imported before."""

from io import StringIO

import pytest
from django.core.management import call_command
from PIL import Image, ImageOps

from generation.models import GenerationJob
from generation.submission import JobRequest, job_submit
from licensing.models import DatasetItem
from mintmark.errors import ApiError
from mintmark.line_drawings import edge_fingerprint
from moderation import edge_copies
from moderation.catalogs import _item_image
from moderation.models import InputCheck
from policies.services import policy_create
from tests.gating_support import encoded, picture
from tests.generation.test_controlnets import (  # noqa: F401 (fixtures)
    POSTER,
    dataset,
    folders,
    register_controlnet,
    register_model,
)
from tests.moderation.test_edge_copies import big, canny, disguises

State = GenerationJob.State
# The disguises a tester came back with, as control images (the others are in
# tests/moderation/test_edge_copies.py).
DISGUISES = ("canny 50/100", "inverted", "dilated", "resized and JPEG'd", "mirrored")


@pytest.fixture
def lines_setup(personas, folders):  # noqa: F811
    org = personas["admin"].org
    posters = dataset(org, "Posters", [POSTER.image(), *(picture(s, 256) for s in (1, 2, 3))])
    model = register_model(org, folders["sd15"], "sd15", "tiny", [posters])
    register_controlnet(org, model, folders["canny"], "canny", name="edges")
    register_controlnet(org, model, folders["depth"], "depth", name="depth")
    register_controlnet(org, model, folders["canny"], "scribble", name="trace")
    return {"org": org, "model": model, "posters": posters}


def submit(persona, data: bytes, **fields):
    params = {
        "prompt": "a red cube",
        "model": "tiny",
        "steps": 2,
        "control_kind": "canny",
        "control_image": data,
        **fields,
    }
    return job_submit(membership=persona.membership, req=JobRequest(**params))


def as_upload(image: Image.Image) -> bytes:
    return encoded(image.convert("RGB").resize((128, 128), Image.Resampling.BILINEAR))


def test_a_training_items_edge_maps_are_refused_as_control_images(personas, lines_setup):
    item = DatasetItem.objects.get(dataset=lines_setup["posters"], width=POSTER.image().width)
    maps = disguises(POSTER.image())
    for name in DISGUISES:
        with pytest.raises(ApiError) as caught:
            submit(personas["staff"], as_upload(maps[name]))
        error = caught.value
        assert (error.status, error.code) == (422, "input_memorized"), (name, error.detail)
        assert "edge map or trace" in error.detail and "Posters" in error.detail, error.detail
        assert error.extra["item"] == str(item.pk) and error.extra["dataset"] == "Posters"
    # A picture of the dataset, traced as a thick scribble for a scribble ControlNet.
    with pytest.raises(ApiError) as caught:
        submit(
            personas["staff"],
            as_upload(disguises(picture(2, 256))["thick trace, black on white"]),
            control_kind="scribble",
        )
    assert caught.value.code == "input_memorized"


def test_edge_maps_of_other_pictures_pass_and_their_check_is_kept(personas, lines_setup):
    for seed in (40, 41, 42):
        job = submit(personas["staff"], as_upload(canny(picture(seed, 256))))
        assert job.state == State.QUEUED
        check = job.input_checks.get()
        assert (check.input, check.verdict) == ("control_image", "pass")
        assert "nearest training item" in check.details["lines"]["nearest"] or (
            "no training item" in check.details["lines"]["nearest"]
        )


def test_a_line_check_that_cannot_run_refuses_the_request(personas, lines_setup, monkeypatch):
    # The second search (turned and cut views) failing for an ordinary map is the check failing:
    # 503 as for an unreadable item, no job queued, not a pass.
    def broken(work):
        raise RuntimeError("no views")

    monkeypatch.setattr(edge_copies, "geometric_views", broken)
    with pytest.raises(ApiError) as caught:
        submit(personas["staff"], as_upload(canny(picture(40, 256))))
    assert (caught.value.status, caught.value.code) == (503, "input_check_failed")
    assert "turned and cut views" in caught.value.detail
    assert not GenerationJob.objects.exists()


def test_only_line_kinds_without_preprocessing_are_compared_by_lines(personas, lines_setup):
    edges = as_upload(ImageOps.invert(canny(big(POSTER.image()))))
    # A depth map is no line drawing; its pixels are checked as before and pass.
    job = submit(personas["staff"], edges, control_kind="depth")
    assert "lines" not in job.input_checks.get().details
    # As the base image of an edit, an edge map gives back lines, not the item: the pixel
    # check handles it (the release gate checks what comes out).
    job = submit(
        personas["staff"],
        None,
        control_kind=None,
        mode="image-to-image",
        image=edges,
        strength=0.5,
    )
    assert job.state == State.QUEUED and job.input_checks.get().verdict == "pass"


def test_by_policy_an_items_edge_map_is_held_for_review(personas, lines_setup):
    org = lines_setup["org"]
    rules = org.policies.order_by("-version").first().rules
    rules["memorization"]["inputs"] = "review"
    policy_create(org=org, actor=None, rules=rules)
    job = submit(personas["staff"], as_upload(disguises(POSTER.image())["inverted"]))
    assert job.state == State.QUEUED
    check = InputCheck.objects.get(job=job)
    assert check.verdict == "review"
    assert check.reason.startswith("input control_image (a line drawing): likely edges or trace")
    assert check.details["item"]["dataset"] == "Posters"


def test_items_fingerprint_their_lines_and_the_command_fills_missing_ones(personas, lines_setup):
    items = DatasetItem.objects.filter(dataset=lines_setup["posters"])
    assert all(len(item.edge_fingerprint) == 256 for item in items)
    expected = {item.pk: item.edge_fingerprint for item in items}
    assert expected[items[0].pk] == edge_fingerprint(_item_image(items[0].file_key))
    items.update(edge_fingerprint="")
    # Until the command runs, the check computes them itself and still refuses the item's edges.
    with pytest.raises(ApiError) as caught:
        submit(personas["staff"], as_upload(disguises(POSTER.image())["inverted"]))
    assert caught.value.code == "input_memorized"
    out = StringIO()
    call_command("edge_fingerprints", stdout=out)
    assert "4 items fingerprinted, 0 unreadable" in out.getvalue()
    assert {item.pk: item.edge_fingerprint for item in items.all()} == expected
