"""POST /api/generations and the job endpoints, without a worker: what is checked in the
request, what a refusal leaves behind (nothing), and who sees and cancels what."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generation.models import Asset, GenerationJob
from generation.weights import folder_native_size
from policies.rules import default_rules
from policies.services import policy_create
from tests.conftest import make_persona
from tests.mm_api_support import (
    assert_error,
    events,
    make_dataset,
    make_model,
    model_folder,
    register_at,
    row_counts,
)


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org, seeds=(1, 2))
    return make_model(personas["admin"].org, tmp_path, name="tiny", datasets=[dataset])


def submit(persona, **body):
    payload = {
        "prompt": "a red cube on a table",
        "model": "tiny",
        "width": 64,
        "height": 64,
        "steps": 4,
        **body,
    }
    return persona.client().post(
        "/api/generations", json.dumps(payload), content_type="application/json"
    )


def png(size=(64, 64), color=(200, 30, 30), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(data: bytes, name="image.png"):
    return SimpleUploadedFile(name, data, content_type="image/png")


def counts():
    return {**row_counts(), "jobs": GenerationJob.objects.count()}


def test_staff_submits_and_gets_202_queued_with_seeds(personas, model):
    response = submit(personas["staff"], num_images=3, seed=41)
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["state"] == "QUEUED"
    assert job["seeds"] == [41, 42, 43]
    assert job["policy_version"] == 1 and job["model"] == "tiny:1"
    assert job["progress"] == {"step": 0, "total": 0}
    assert [e.subject_id for e in events(personas["staff"].org, "generation.submitted")] == [
        job["id"]
    ]
    me = personas["staff"].client().get("/api/me").json()["quota"]
    assert me["user_used"] == 3 and me["org_used"] == 3


def test_seeds_are_drawn_when_not_given(personas, model):
    job = submit(personas["admin"], num_images=2).json()
    first, second = job["seeds"]
    assert second == first + 1 and 0 <= first < 2**63


@pytest.mark.parametrize("role", ["reviewer", "auditor"])
def test_reviewers_and_auditors_cannot_submit(personas, model, role):
    before = counts()
    assert_error(submit(personas[role]), 403, "forbidden")
    assert counts() == before


def test_an_unlicensed_model_is_refused_with_the_reason(personas, tmp_path):
    org = personas["admin"].org
    dataset, _ = make_dataset(org, name="NC photos", licence="CC-BY-NC-4.0")
    make_model(org, tmp_path, name="nc", datasets=[dataset])
    before = counts()
    body = assert_error(submit(personas["staff"], model="nc"), 409, "model_not_licensed")
    assert "CC-BY-NC-4.0 does not allow commercial use" in body["detail"]
    assert counts() == before


def test_quota_is_reserved_atomically_and_refused_past_the_limit(personas, model):
    rules = default_rules()
    rules["quota"]["user_monthly_images"] = 3
    policy_create(org=personas["admin"].org, actor=None, rules=rules)
    assert submit(personas["staff"], num_images=2).status_code == 202
    before = counts()
    body = assert_error(submit(personas["staff"], num_images=2), 429, "quota_exceeded")
    assert "1 left" in body["detail"]
    assert counts() == before
    # Another user of the org still has their own allowance.
    assert submit(personas["admin"], num_images=3).status_code == 202


def test_cancelling_gives_the_quota_back(personas, model):
    job = submit(personas["staff"], num_images=2).json()
    response = personas["staff"].client().post(f"/api/generations/{job['id']}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "CANCELLED"
    assert personas["staff"].client().get("/api/me").json()["quota"]["user_used"] == 0
    again = personas["staff"].client().post(f"/api/generations/{job['id']}/cancel")
    assert_error(again, 409, "job_finished")
    assert len(events(personas["staff"].org, "generation.cancelled")) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "nope"}, "unknown_model"),
        ({"width": 100}, "invalid_size"),
        ({"height": 2048}, "invalid_size"),
        ({"steps": 51}, "invalid_steps"),
        ({"num_images": 5}, "invalid_num_images"),
        ({"prompt": "   "}, "invalid_prompt"),
        ({"prompt": "x" * 1001}, "invalid_prompt"),
        ({"scheduler": "bogus"}, "invalid_scheduler"),
        ({"mode": "video"}, "invalid_mode"),
        ({"context": "gossip"}, "invalid_context"),
        ({"guidance_scale": 99}, "invalid_guidance"),
        ({"steps": "many"}, "invalid_request"),
        ({"prompt": "nul \x00 byte"}, "invalid_request"),
        ({"mode": "image-to-image"}, "missing_image"),
    ],
)
def test_bad_parameters_are_refused_without_a_trace(personas, model, body, code):
    before = counts()
    assert_error(submit(personas["staff"], **body), 422, code)
    assert counts() == before


def multipart(persona, **fields):
    data = {"prompt": "make it blue", "model": "tiny", "steps": "4", **fields}
    return persona.client().post("/api/generations", data)


def test_image_to_image_takes_its_size_from_the_upload(personas, model):
    response = multipart(personas["staff"], mode="image-to-image", image=upload(png((64, 48))))
    assert response.status_code == 202, response.content
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert (job.width, job.height, job.strength) == (64, 48, 0.75)
    assert job.input_image_key and not job.mask_image_key


def test_inpaint_stores_image_and_mask(personas, model):
    response = multipart(
        personas["staff"], mode="inpaint", image=upload(png()), mask=upload(png(color=(255,) * 3))
    )
    assert response.status_code == 202, response.content
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.input_image_key and job.mask_image_key


def bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"mode": "image-to-image", "image": upload(b"not an image")}, "invalid_image"),
        ({"mode": "image-to-image", "image": upload(png()[:60])}, "invalid_image"),
        ({"mode": "image-to-image", "image": upload(bomb())}, "invalid_image"),
        ({"mode": "image-to-image", "image": upload(png((60, 64)))}, "invalid_size"),
        ({"mode": "image-to-image", "image": upload(png()), "width": "128"}, "size_mismatch"),
        ({"mode": "inpaint", "image": upload(png())}, "missing_mask"),
        (
            {"mode": "inpaint", "image": upload(png()), "mask": upload(png((32, 32)))},
            "mask_size_mismatch",
        ),
        ({"mode": "image-to-image", "image": upload(png()), "strength": "0"}, "invalid_strength"),
        ({"image": upload(png())}, "unexpected_image"),
    ],
)
def test_bad_uploads_are_refused_without_a_trace(personas, model, fields, code):
    before = counts()
    assert_error(multipart(personas["staff"], **fields), 422, code)
    assert counts() == before


def test_staff_see_only_their_jobs_overseers_see_all(personas, model, acme):
    mine = submit(personas["staff"]).json()["id"]
    colleague = make_persona(acme, "staff", "colleague@acme.test")
    theirs = submit(colleague).json()["id"]
    listed = {
        job["id"] for job in personas["staff"].client().get("/api/generations").json()["items"]
    }
    assert listed == {mine}
    assert_error(personas["staff"].client().get(f"/api/generations/{theirs}"), 404, "not_found")
    assert_error(colleague.client().post(f"/api/generations/{mine}/cancel"), 404, "not_found")
    for role in ("admin", "reviewer", "auditor"):
        seen = personas[role].client().get("/api/generations").json()
        assert {job["id"] for job in seen["items"]} == {mine, theirs}
    assert_error(personas["reviewer"].client().post(f"/api/generations/{mine}/cancel"), 403)
    assert_error(personas["outsider"].client().get(f"/api/generations/{mine}"), 404, "not_found")


def test_events_stream_reports_the_state_until_the_job_ends(personas, model):
    job = submit(personas["staff"]).json()
    personas["staff"].client().post(f"/api/generations/{job['id']}/cancel")
    response = personas["staff"].client().get(f"/api/generations/{job['id']}/events")
    assert response["Content-Type"] == "text/event-stream"
    # An ended job needs no stream: the answer is its last event (tests/generation/
    # test_event_streams.py follows open streams).
    text = response.content.decode()
    assert "\n\nevent: job\ndata: " in text
    assert json.loads(text.split("data: ", 1)[1])["state"] == "CANCELLED"


def test_an_unreleased_asset_file_is_never_served(personas, model):
    job = GenerationJob.objects.get(pk=submit(personas["staff"]).json()["id"])
    asset = Asset.objects.create(
        job=job,
        index=0,
        seed=1,
        width=64,
        height=64,
        sha256="0" * 64,
        phash="0" * 16,
        dhash="0" * 16,
        whash="0" * 16,
        quarantine_key="outputs/x/0.png",
    )
    body = personas["staff"].client().get(f"/api/assets/{asset.pk}").json()
    assert body["state"] == "QUARANTINED"
    assert body["file_url"] is None
    assert body["provenance_url"] == f"/api/assets/{asset.pk}/provenance"
    assert_error(personas["staff"].client().get(f"/api/assets/{asset.pk}/file"), 404, "not_found")
    assert_error(personas["outsider"].client().get(f"/api/assets/{asset.pk}"), 404, "not_found")


def test_a_blank_size_is_the_models_own_size(personas, model, tmp_path):
    org = personas["admin"].org
    folder = model_folder(tmp_path, "sized")
    (folder / "unet" / "config.json").write_text(json.dumps({"sample_size": 32}))
    (folder / "vae").mkdir()
    (folder / "vae" / "config.json").write_text(json.dumps({"block_out_channels": [8, 8, 8]}))
    dataset, _ = make_dataset(org, name="Sized", seeds=(3,))
    register_at(org, folder, name="sized", datasets=[dataset])
    job = submit(personas["staff"], model="sized", width=None, height=None).json()
    assert (job["width"], job["height"]) == (128, 128)
    # A folder whose configs say nothing of a size gets the platform's default.
    dataset_model = submit(personas["staff"], width=None, height=None, model="tiny")
    assert (dataset_model.json()["width"], dataset_model.json()["height"]) == (512, 512)


def test_native_size_comes_from_the_folders_configs(tmp_path):
    assert folder_native_size("models/mintmark-shapes") == 64
    assert folder_native_size(str(tmp_path / "missing")) is None
