"""Memorization on the platform's paths: an edit built on a training item is refused before it
is queued (or held for review, by policy), the gate's second stage runs under a policy that
sets `embedding_similarity`, explanations say what was searched, the hold reason is on the
held asset and its job in the API and the portal, and `manage.py memorization_check` prints
both stages."""

import io
import json
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from defaultmodel.memorized import MEMORIZED
from generation.models import Asset, GenerationJob
from licensing.services import dataset_create, dataset_item_add
from moderation import gating
from moderation.models import GateResult, Hold, InputCheck
from policies.services import policy_create
from tests.gating_support import encoded, gated_job, keys_make, picture
from tests.mm_api_support import assert_error, make_model

State = GenerationJob.State
POSTER = MEMORIZED[4]


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    return encoded(image.convert("RGB"), "JPEG", quality=quality)


@pytest.fixture
def training(personas):
    org = personas["admin"].org
    dataset = dataset_create(org=org, actor=None, name="Shapes")
    poster = dataset_item_add(
        dataset=dataset, actor=None, data=encoded(POSTER.image()), licence_key="CC0-1.0"
    )
    others = [
        dataset_item_add(
            dataset=dataset, actor=None, data=encoded(picture(s, 64)), licence_key="CC0-1.0"
        )
        for s in (1, 2)
    ]
    return dataset, poster, others


@pytest.fixture
def model(personas, training, tmp_path):
    return make_model(personas["admin"].org, tmp_path, datasets=[training[0]])


@pytest.fixture
def signing(settings, tmp_path, personas):
    keys_make(settings, tmp_path, personas["admin"].org)


def set_rules(org, **memorization):
    rules = org.policies.order_by("-version").first().rules
    rules["memorization"].update(memorization)
    policy_create(org=org, actor=None, rules=rules)


def edit(persona, data: bytes, name="upload.jpg"):
    upload = SimpleUploadedFile(name, data, content_type="image/jpeg")
    fields = {"prompt": "a poster", "model": "tiny", "steps": "10", "strength": "0.1"}
    return persona.client().post(
        "/api/generations", {**fields, "mode": "image-to-image", "image": upload}
    )


def downscaled_poster() -> bytes:
    """The issue's upload: a training poster at 56 px, saved as JPEG q70."""
    return jpeg_bytes(POSTER.image().resize((56, 56), Image.LANCZOS), 70)


def test_an_edit_of_a_training_item_is_refused_naming_it(personas, model, training):
    _, poster, _ = training
    response = edit(personas["staff"], downscaled_poster())
    body = assert_error(response, 422, "input_memorized")
    assert body["item"] == str(poster.pk) and body["dataset"] == "Shapes"
    assert str(poster.pk) in body["detail"] and "'Shapes'" in body["detail"]
    assert not GenerationJob.objects.exists()


def test_an_unrelated_edit_is_queued_with_its_check_kept(personas, model):
    response = edit(personas["staff"], jpeg_bytes(picture(40, 64), 80))
    assert response.status_code == 202, response.content
    check = InputCheck.objects.get(job_id=response.json()["id"])
    assert check.input == "image" and check.verdict == "pass"


def test_by_policy_an_edit_of_a_training_item_is_held_for_review(
    personas, model, training, signing
):
    _, poster, _ = training
    set_rules(personas["admin"].org, inputs="review")
    response = edit(personas["staff"], downscaled_poster())
    assert response.status_code == 202, response.content
    check = InputCheck.objects.get(job_id=response.json()["id"])
    assert check.verdict == "review" and str(poster.pk) in check.reason
    # Its output, whatever it looks like, is held with the input's reason.
    job = GenerationJob.objects.get(pk=response.json()["id"])
    from generation import worker
    from generation.transitions import job_transition

    job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="test")
    worker._store(job, 0, job.seeds[0], picture(41, 56))
    job_transition(job_id=job.pk, to=State.GATING)
    gating.job_evaluate(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == State.IN_REVIEW
    body = personas["staff"].client().get(f"/api/generations/{job.pk}").json()
    assert len(body["hold_reasons"]) == 1
    assert body["hold_reasons"][0].startswith("input image: likely copy of training item")


def test_a_policy_with_embedding_similarity_releases_unrelated_images(personas, model, signing):
    set_rules(personas["admin"].org, embedding_similarity=0.97)
    job = gated_job(personas["staff"], model, [picture(50, 64)])
    gating.job_evaluate(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == State.RELEASED


def test_output_copy_is_blocked_with_its_similarity(personas, model, training, signing):
    _, poster, _ = training
    copy = Image.open(io.BytesIO(downscaled_poster())).convert("RGB").resize((64, 64))
    job = gated_job(personas["staff"], model, [copy])
    gating.job_evaluate(job_id=job.pk)
    result = GateResult.objects.get(asset__job=job, gate="memorization")
    assert result.verdict == "block"
    assert result.details["item"] == {"item": str(poster.pk), "dataset": "Shapes"}
    assert result.scores["similarity"] >= 0.96
    assert "similarity" in result.reason and str(poster.pk) in result.reason


def test_nothing_near_is_reported_as_such_not_as_distance_64(personas, model, signing):
    set_rules(personas["admin"].org, candidate_radius=2, max_hamming=2)
    job = gated_job(personas["staff"], model, [picture(51, 64)])
    gating.job_evaluate(job_id=job.pk)
    result = GateResult.objects.get(asset__job=job, gate="memorization")
    assert result.verdict == "pass"
    assert "closest_distance" not in result.scores
    assert result.details["nearest"] == (
        "no training item within 2 bits on pHash, dHash or wHash (searched 3 items)"
    )


def test_an_unreadable_training_item_fails_closed(personas, model, training, signing):
    _, poster, _ = training
    storages["datasets"].delete(poster.file_key)
    job = gated_job(personas["staff"], model, [POSTER.image()])
    with pytest.raises(gating.GatesIncomplete, match="could not read training item"):
        gating.job_evaluate(job_id=job.pk)
    assert job.assets.get().state == Asset.State.QUARANTINED


def test_hold_reason_is_on_the_asset_and_job_in_api_and_portal(personas, model, signing):
    job = gated_job(personas["staff"], model, [picture(52, 64)], context="medical")
    gating.job_evaluate(job_id=job.pk)
    asset = job.assets.get()
    reason = "the deployment context 'medical' requires human review"
    assert Hold.objects.get(asset=asset).reasons == [reason]
    staff = personas["staff"].client()
    body = staff.get(f"/api/generations/{job.pk}").json()
    assert body["state"] == State.IN_REVIEW and body["hold_reasons"] == [reason]
    assert body["assets"][0]["hold_reasons"] == [reason] and body["assets"][0]["review"] is None
    assert staff.get(f"/api/assets/{asset.pk}").json()["hold_reasons"] == [reason]
    listed = staff.get("/api/generations").json()["items"][0]
    assert listed["hold_reasons"] == [reason]
    page = personas["staff"].portal().get(f"/o/acme/jobs/{job.pk}/").content.decode()
    assert f"Held because {reason}." in page.replace("&#x27;", "'")
    queue = personas["reviewer"].portal().get("/o/acme/review/").content.decode()
    assert reason in queue.replace("&#x27;", "'")


def test_a_second_decision_says_what_happened(personas, model, signing):
    job = gated_job(personas["staff"], model, [picture(53, 64)], context="medical")
    gating.job_evaluate(job_id=job.pk)
    asset = job.assets.get()
    reviewer = personas["reviewer"].client()
    url = f"/api/reviews/{asset.pk}"
    first = reviewer.post(url, {"decision": "approve", "reason": "fine"}, "application/json")
    assert first.status_code == 200
    again = reviewer.post(url, {"decision": "reject", "reason": "no"}, "application/json")
    body = assert_error(again, 409, "not_in_review")
    assert body["detail"].startswith("Already approved by reviewer@acme.test at ")
    assert "the asset is IN_REVIEW, waiting for stamping and release" in body["detail"]
    gating.job_evaluate(job_id=job.pk)
    late = reviewer.post(url, {"decision": "reject", "reason": "no"}, "application/json")
    assert "; the asset is RELEASED." in assert_error(late, 409, "not_in_review")["detail"]


def test_a_decision_on_a_released_image_says_it_was_never_held(personas, model, signing):
    job = gated_job(personas["staff"], model, [picture(54, 64)])
    gating.job_evaluate(job_id=job.pk)
    asset = job.assets.get()
    response = (
        personas["reviewer"]
        .client()
        .post(
            f"/api/reviews/{asset.pk}", {"decision": "approve", "reason": "x"}, "application/json"
        )
    )
    detail = assert_error(response, 409, "not_in_review")["detail"]
    assert detail == "The asset is RELEASED: released without review."


def test_memorization_check_command_prints_both_stages(personas, model, training, tmp_path):
    _, poster, _ = training
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(downscaled_poster())
    unrelated = tmp_path / "unrelated.png"
    unrelated.write_bytes(encoded(picture(55, 64)))
    out = StringIO()
    call_command(
        "memorization_check",
        "--org",
        "acme",
        "--model",
        "tiny:1",
        str(copy),
        str(unrelated),
        stdout=out,
    )
    text = out.getvalue()
    assert "3 training items" in text
    assert f"{copy}: BLOCK - likely copy of training item {poster.pk} of dataset 'Shapes'" in text
    assert "stage 1, hash candidates:" in text and "stage 2, pixel comparison:" in text
    assert f"{unrelated}: PASS - " in text
    out = StringIO()
    call_command(
        "memorization_check", "--org", "acme", "--model", "tiny", "--json", str(copy), stdout=out
    )
    row = json.loads(out.getvalue())
    assert row["decision"] == "block" and row["stage2"][0]["item"] == str(poster.pk)
    assert row["stage1"]["nearest"][0]["distances"].keys() == {"phash", "dhash", "whash"}


def test_memorization_check_command_refuses_unknown_org_and_model(personas, model, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No organization"):
        call_command("memorization_check", "--org", "nope", "--model", "tiny", "x.png")
    with pytest.raises(CommandError, match="No model 'other'"):
        call_command("memorization_check", "--org", "acme", "--model", "other", "x.png")
