"""ControlNet conditioning, governed: an admin registers a ControlNet folder for a base model
with its control kind (checked against the model's UNet and family); a job carries a control
image, kind and scale within what the model offers and the policy allows; control images are
inputs like edit images (format, size and pixel checks, the training-data check); Canny edges
are computed here from a photo; the worker runs diffusers' ControlNet pipelines, never batches
jobs whose ControlNets differ, and the records name the ControlNet."""

import io
import json
import time

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from defaultmodel.memorized import MEMORIZED
from generation import worker
from generation.controlnets import canny_edges, controlnet_register
from generation.models import Asset, GenerationJob
from generation.provenance_record import provenance_record
from generation.release import generation_assertion
from generation.services import model_register
from generation.submission import JobRequest, job_submit
from generation.tiny import save_tiny_controlnet, save_tiny_pipeline
from licensing.services import dataset_create, dataset_item_add
from mintmark.errors import ApiError
from policies.services import policy_create
from provenance.credentials import GENERATION_LABEL, read_credentials
from tests.gating_support import encoded, picture
from tests.mm_api_support import assert_error
from tests.worker_support import celery_worker

State = GenerationJob.State
POSTER = MEMORIZED[4]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    # ControlNets live in the org's own folder under a model root (pytest's base temp is one).
    org_folder = tmp_path_factory.getbasetemp() / "acme"
    bases = tmp_path_factory.mktemp("control-bases")
    return {
        "sd15": save_tiny_pipeline(bases / "sd15", "sd15"),
        "sdxl": save_tiny_pipeline(bases / "sdxl", "sdxl"),
        "canny": save_tiny_controlnet(org_folder / "cn-canny", "sd15", seed=2),
        "depth": save_tiny_controlnet(org_folder / "cn-depth", "sd15", seed=3),
        "sdxl-canny": save_tiny_controlnet(org_folder / "cn-xl-canny", "sdxl", seed=2),
    }


def dataset(org, name, images):
    made = dataset_create(org=org, actor=None, name=name)
    for image in images:
        dataset_item_add(dataset=made, actor=None, data=encoded(image), licence_key="CC0-1.0")
    return made


def register_model(org, folder, family, name, datasets):
    return model_register(
        org=org,
        actor=None,
        name=name,
        version="1",
        family=family,
        local_path=str(folder),
        dataset_ids=[d.pk for d in datasets],
        inline=True,
    )


def register_controlnet(org, model, folder, kind, name=None):
    return controlnet_register(
        org=org,
        actor=None,
        base_model=model,
        name=name or f"{model.name}-{kind}",
        version="1",
        kind=kind,
        local_path=str(folder),
    )


@pytest.fixture
def setup(personas, folders):
    org = personas["admin"].org
    posters = dataset(org, "Posters", [POSTER.image()])
    model = register_model(org, folders["sd15"], "sd15", "tiny", [posters])
    canny = register_controlnet(org, model, folders["canny"], "canny", name="edges")
    depth = register_controlnet(org, model, folders["depth"], "depth", name="depth")
    return {"org": org, "model": model, "canny": canny, "depth": depth, "posters": posters}


@pytest.fixture(autouse=True)
def no_batch_window(settings):
    settings.GPU_BATCH_WINDOW_MS = 0


def control(seed=3, size=32) -> bytes:
    return encoded(picture(seed, 64).resize((size, size)))


def submit(persona, **fields):
    params = {
        "prompt": "a red cube",
        "model": "tiny",
        "width": 32,
        "height": 32,
        "steps": 2,
        "control_kind": "depth",
        "control_image": control(),
    }
    return job_submit(membership=persona.membership, req=JobRequest(**{**params, **fields}))


def refused(persona, **fields) -> ApiError:
    with pytest.raises(ApiError) as caught:
        submit(persona, **fields)
    return caught.value


def upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("control.png", data, content_type="image/png")


def pixels(asset: Asset) -> np.ndarray:
    with storages["quarantine"].open(asset.quarantine_key) as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def set_rules(org, **limits):
    rules = org.policies.order_by("-version").first().rules
    rules["controlnets"].update(limits)
    policy_create(org=org, actor=None, rules=rules)


def test_an_admin_registers_a_controlnet_and_bad_ones_are_refused(personas, setup, folders):
    org, model, admin = setup["org"], setup["model"], personas["admin"]
    url = f"/api/models/{model.pk}/controlnets"
    body = {"name": "edges", "version": "2", "kind": "canny", "local_path": str(folders["canny"])}

    def post(persona, payload):
        return persona.client().post(url, payload, content_type="application/json")

    assert_error(post(personas["staff"], body), 403)
    assert_error(post(personas["outsider"], body), 404)
    # An SDXL ControlNet for an SD 1.5 model: its residuals fit another UNet.
    response = post(admin, {**body, "local_path": str(folders["sdxl-canny"])})
    assert_error(response, 422, "controlnet_base_mismatch")
    assert "cross_attention_dim" in response.json()["detail"]
    # A pipeline folder (not a ControlNetModel), outside the org's folder.
    assert_error(
        post(admin, {**body, "local_path": str(folders["sd15"])}), 422, "invalid_controlnet_folder"
    )
    assert_error(post(admin, {**body, "kind": "normals"}), 422)
    assert_error(post(admin, {**body, "version": "1"}), 409, "controlnet_exists")
    response = post(admin, body)
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["kind"] == "canny" and made["weights_sha256"] == setup["canny"].weights_sha256
    listed = personas["auditor"].client().get(url).json()
    assert sorted((c["name"], c["version"]) for c in listed) == [
        ("depth", "1"),
        ("edges", "1"),
        ("edges", "2"),
    ]
    # A family without ControlNets (the same weights registered as "other"), in the API and
    # in the service.
    other = register_model(org, folders["sd15"], "other", "plain", [setup["posters"]])
    response = (
        personas["admin"]
        .client()
        .post(f"/api/models/{other.pk}/controlnets", body, content_type="application/json")
    )
    assert_error(response, 422, "controlnet_not_supported")
    assert "Stable Diffusion 1.x, Stable Diffusion XL" in response.json()["detail"]
    # The OpenAPI schema names the kinds and the job's ControlNet fields.
    schema = admin.client().get("/api/openapi.json").json()
    kinds = ["canny", "depth", "scribble", "pose"]
    assert schema["components"]["schemas"]["ControlNetIn"]["properties"]["kind"]["enum"] == kinds
    body = schema["paths"]["/api/generations"]["post"]["requestBody"]["content"]
    fields = body["multipart/form-data"]["schema"]["properties"]
    assert {"control_image", "control_kind", "control_scale", "control_preprocess"} <= set(fields)
    assert kinds[0] in json.dumps(fields["control_kind"])


def test_requests_outside_what_the_model_offers_are_refused(personas, setup, folders, monkeypatch):
    org, staff = setup["org"], personas["staff"]
    cases = [
        ({"control_kind": "pose"}, "control_kind_not_offered", "offers canny, depth"),
        ({"controlnet": "edges"}, "control_kind_not_offered", "reads canny images, not depth"),
        ({"controlnet": "nope"}, "unknown_controlnet", "nope"),
        ({"control_scale": 0.0}, "invalid_control_scale", "over 0"),
        ({"control_scale": 2.5}, "invalid_control_scale", "at most 2"),
        ({"control_preprocess": "canny"}, "invalid_control_preprocess", "own depth map"),
        ({"control_image": b"not an image"}, "invalid_control_image", "not a readable image"),
        ({"control_image": control(size=64)}, "control_size_mismatch", "64x64"),
        ({"control_image": None}, "missing_control_image", "depth"),
        ({"control_kind": None}, "missing_control_kind", "control_kind"),
        (
            {"mode": "inpaint", "image": control(), "mask": control(4)},
            "controlnet_not_supported",
            "inpaint",
        ),
    ]
    for fields, code, words in cases:
        error = refused(staff, **fields)
        assert (error.status, error.code) == (422, code), (fields, error.code, error.detail)
        assert words in error.detail, (fields, error.detail)
    # Decompression bombs: a control image over the pixel cap is refused before decoding.
    monkeypatch.setattr("generation.submission.MAX_INPUT_PIXELS", 32 * 32 - 1)
    error = refused(staff)
    assert error.code == "invalid_control_image" and "pixel cap" in error.detail
    monkeypatch.undo()
    # The policy narrows which ControlNets and how strong.
    set_rules(org, allowed=["edges"], max_scale=0.5)
    assert refused(staff).code == "controlnet_not_allowed"
    error = refused(staff, control_kind="canny", control_scale=0.8)
    assert error.code == "invalid_control_scale" and "0.5" in error.detail
    job = submit(staff, control_kind="canny", control_scale=0.5)
    assert (job.controlnet["name"], job.controlnet["scale"]) == ("edges", 0.5)
    # No job, no file and no quota spent for the refusals.
    assert GenerationJob.objects.filter(org=org).count() == 1
    # Over the API as multipart, with the reason in the body; the size comes from the image.
    response = staff.client().post(
        "/api/generations",
        {
            "prompt": "a red cube",
            "model": "tiny",
            "control_kind": "pose",
            "control_image": upload(control()),
        },
    )
    assert_error(response, 422, "control_kind_not_offered")
    response = staff.client().post(
        "/api/generations",
        {"prompt": "x", "model": "tiny", "control_kind": "normals"},
        content_type="application/json",
    )
    assert_error(response, 422, "invalid_request")


def test_a_model_without_controlnet_support_refuses_control_images(personas, setup, folders):
    register_model(setup["org"], folders["sd15"], "other", "plain", [setup["posters"]])
    error = refused(personas["staff"], model="plain")
    assert error.code == "controlnet_not_supported" and "Other latent diffusion" in error.detail


def test_a_training_item_as_control_image_is_refused_naming_it(personas, setup):
    poster = encoded(POSTER.image().convert("RGB").resize((64, 64)))
    error = refused(personas["staff"], control_image=poster, width=None, height=None)
    assert (error.status, error.code) == (422, "input_memorized")
    assert "control_image" in error.detail and "Posters" in error.detail
    assert error.extra["dataset"] == "Posters" and error.extra["item"]


def test_canny_edges_are_computed_from_a_photo(personas, setup):
    photo = picture(7, 64)
    edges = canny_edges(photo)
    expected = cv2.Canny(np.asarray(photo.convert("L")), 100, 200)
    values = np.asarray(edges)
    assert edges.size == photo.size and values.shape == (64, 64, 3)
    assert np.array_equal(values[..., 0], expected) and set(np.unique(values)) <= {0, 255}
    assert 0 < (expected > 0).mean() < 0.5  # edges, not a blank or a filled image
    job = submit(
        personas["staff"],
        control_kind="canny",
        control_preprocess="canny",
        control_image=encoded(photo),
        width=None,
        height=None,
    )
    assert (job.width, job.height) == (64, 64) and job.controlnet["preprocess"] == "canny"
    with storages["quarantine"].open(job.control_image_key) as handle:
        stored = np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"))
    assert np.array_equal(stored, values)
    # The training-data check read the photo the user sent, not its edges.
    check = job.input_checks.get()
    assert (check.input, check.verdict) == ("control_image", "pass")


def test_jobs_with_other_controlnets_run_apart_and_records_name_them(personas, setup):
    staff = personas["staff"]
    plain = submit(staff, seed=5, control_kind=None, control_image=None)
    depth = submit(staff, seed=5)
    depth_too = submit(staff, seed=6, control_image=control(9))
    half = submit(staff, seed=5, control_scale=0.5)
    canny = submit(staff, seed=5, control_kind="canny")
    worker.job_run(job_id=plain.pk, task_id="task-plain")
    jobs = (plain, depth, depth_too, half, canny)
    for job in jobs:
        job.refresh_from_db()
    assert plain.state == State.GATING
    assert {job.state for job in jobs[1:]} == {State.QUEUED}
    worker.job_run(job_id=depth.pk, task_id="task-depth")
    for job in jobs:
        job.refresh_from_db()
    # Equal ControlNet and scale share a call (with their own control images); another scale
    # or another ControlNet is another batch.
    assert (depth.claimed_by, depth_too.claimed_by) == ("task-depth", "task-depth")
    assert half.state == canny.state == State.QUEUED
    worker.job_run(job_id=half.pk, task_id="task-half")
    worker.job_run(job_id=canny.pk, task_id="task-canny")
    for job in jobs:
        job.refresh_from_db()
        assert job.state == State.GATING, (job.state, job.error)
    images = [pixels(job.assets.get()) for job in (plain, depth, half, canny)]
    for first in range(4):
        for second in range(first + 1, 4):
            assert np.abs(images[first] - images[second]).max() > 1, (first, second)

    # A batched image is what the same job alone gives.
    alone = submit(staff, seed=6, control_image=control(9))
    worker.job_run(job_id=alone.pk, task_id="task-alone")
    alone.refresh_from_db()
    assert np.abs(pixels(alone.assets.get()) - pixels(depth_too.assets.get())).max() <= 2

    asset = depth.assets.get()
    entry = generation_assertion(asset, depth)["controlnet"]
    assert entry == {
        "name": "depth",
        "version": "1",
        "kind": "depth",
        "scale": 1.0,
        "preprocess": "",
        "sha256": setup["depth"].weights_sha256,
    }
    record = provenance_record(asset)
    assert record["controlnet"] == entry and record["job"]["control_image"] is True
    assert generation_assertion(plain.assets.get(), plain)["controlnet"] is None


def test_image_to_image_and_sdxl_run_through_their_controlnet_pipelines(personas, setup, folders):
    org, staff = setup["org"], personas["staff"]
    xl = register_model(org, folders["sdxl"], "sdxl", "tiny-xl", [setup["posters"]])
    register_controlnet(org, xl, folders["sdxl-canny"], "canny")
    edit = submit(staff, mode="image-to-image", image=control(11), strength=0.5, steps=4, seed=1)
    xl_job = submit(
        staff,
        model="tiny-xl",
        control_kind="canny",
        control_preprocess="canny",
        control_image=control(12),
        steps=2,
        scheduler="euler",
        seed=1,
    )
    for job in (edit, xl_job):
        worker.job_run(job_id=job.pk, task_id=f"task-{job.pk}")
        job.refresh_from_db()
        assert job.state == State.GATING, (job.state, job.error)
        assert job.assets.get().width == 32


def test_a_changed_controlnet_fails_its_job_with_the_reason(personas, setup):
    depth = setup["depth"]
    depth.weights_sha256 = "0" * 64
    depth.save(update_fields=["weights_sha256"])
    job = submit(personas["staff"])
    worker.job_run(job_id=job.pk, task_id="task-1")
    job.refresh_from_db()
    assert job.state == State.FAILED and "controlnet weights" in job.error


def test_the_portal_form_offers_control_options_only_with_a_controlnet(personas, folders):
    org, staff = personas["admin"].org, personas["staff"]
    posters = dataset(org, "Posters", [POSTER.image()])
    model = register_model(org, folders["sd15"], "sd15", "tiny", [posters])
    page = staff.portal().get("/o/acme/generate/").content.decode()
    assert 'name="control_kind"' not in page and 'name="control_image"' not in page
    register_controlnet(org, model, folders["depth"], "depth")
    page = staff.portal().get("/o/acme/generate/").content.decode()
    assert 'data-testid="control-inputs"' in page and '<option value="depth">' in page
    assert 'name="control_image"' in page and '<option value="canny">' not in page
    form = {"prompt": "a red cube", "model": "tiny", "width": "32", "height": "32"}
    answer = staff.portal().post(
        "/o/acme/generate/",
        {**form, "control_kind": "depth", "control_scale": "3", "control_image": upload(control())},
    )
    assert (
        answer.status_code == 422 and 'data-code="invalid_control_scale"' in answer.content.decode()
    )
    answer = staff.portal().post(
        "/o/acme/generate/",
        {**form, "control_kind": "depth", "control_image": upload(control())},
    )
    assert answer.status_code == 302, answer.content.decode()[:500]
    page = staff.portal().get(answer["Location"]).content.decode()
    assert 'data-testid="job-controlnet"' in page and "depth:1 (depth, scale 1.0)" in page


@pytest.fixture
def worker_storage(settings):
    """The submit path stores the control image where the worker process reads its inputs
    (the run's data folder), instead of the test's own temporary stores."""
    base = settings.DATA_DIR / "files"
    store = "django.core.files.storage.FileSystemStorage"
    settings.STORAGES = {
        **settings.STORAGES,
        **{
            name: {"BACKEND": store, "OPTIONS": {"location": str(base / name)}}
            for name in ("default", "quarantine", "release", "datasets")
        },
    }


@pytest.mark.xdist_group("broker")
def test_api_control_requests_become_released_images(
    live_db, personas, folders, tmp_path, org_signing_key, worker_storage
):
    org, staff = personas["admin"].org, personas["staff"]
    posters = dataset(org, "Posters", [POSTER.image()])
    model = register_model(org, folders["sd15"], "sd15", "tiny", [posters])
    register_controlnet(org, model, folders["canny"], "canny", name="edges")
    with celery_worker(tmp_path / "worker.log"):
        response = staff.client().post(
            "/api/generations",
            {
                "prompt": "a red cube",
                "model": "tiny",
                "steps": "2",
                "seed": "7",
                "control_kind": "canny",
                "control_preprocess": "canny",
                "control_scale": "0.8",
                "control_image": upload(encoded(picture(5, 64))),
            },
        )
        assert response.status_code == 202, response.content
        body = response.json()
        assert body["controlnet"] == {
            "name": "edges",
            "version": "1",
            "kind": "canny",
            "scale": 0.8,
            "preprocess": "canny",
        }
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            job = GenerationJob.objects.get(pk=body["id"])
            if job.state not in (State.QUEUED, State.RUNNING, State.GATING):
                break
            time.sleep(0.3)
    log = (tmp_path / "worker.log").read_text()[-3000:]
    assert job.state == State.RELEASED, (job.state, job.error, log)
    asset = job.assets.get()
    released = settings.DATA_DIR / "files" / "release" / asset.release_key
    report = read_credentials(released.read_bytes(), "image/png", trust_anchors_pem=None)
    assert report.manifest is not None, report
    assertion = json.dumps(report.assertions[GENERATION_LABEL])
    assert '"controlnet"' in assertion and '"edges"' in assertion
