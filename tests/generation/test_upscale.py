"""Upscaling x4 through the platform: a tiny StableDiffusionUpscalePipeline (built from configs in
code) registered as an "upscaler", upscale jobs of a released asset or of an upload with their
refusals (another org's asset, one not released, a model that is not an upscaler, an image too
large for the policy once x4, the upload checks of edit inputs), the worker running them batched
as solo, and a full API request to a released image whose credentials name its parent asset."""

import io
import json
import time

import numpy as np
import pytest
from django.core.files.storage import storages
from PIL import Image

from generation import pipelines, upscaling, worker
from generation.models import Asset, GenerationJob, GenerativeModel
from generation.services import model_register
from generation.submission import JobRequest, job_submit
from generation.tiny import save_tiny_pipeline
from generation.transitions import job_transition
from generation.weights import weights_sha256
from licensing.services import dataset_create, dataset_item_add
from mintmark.errors import ApiError
from moderation import gating
from moderation.models import Hold, InputCheck
from policies.services import policy_create
from provenance.credentials import GENERATION_LABEL, read_credentials
from tests.gating_support import encoded, gated_job, picture
from tests.mm_api_support import assert_error, make_dataset, model_folder, register_at
from tests.worker_support import celery_worker

State = GenerationJob.State


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("upscale")
    return {
        "upscaler": save_tiny_pipeline(root / "upscaler", "upscaler"),
        "sd15": save_tiny_pipeline(root / "sd15", "sd15"),
    }


def outsider_upscaler(outsider, tmp_path):
    """An upscaler of the other organization (a folder of its own: one registered by acme is
    not theirs to register)."""
    folder = model_folder(tmp_path, "globex-x4")
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionUpscalePipeline"}')
    photos, _ = make_dataset(outsider.org, seeds=(2,))
    return register_upscaler(outsider.org, folder, datasets=[photos])


def register_upscaler(org, folder, datasets=()):
    return model_register(
        org=org,
        actor=None,
        name="x4",
        version="1",
        family="upscaler",
        local_path=str(folder),
        dataset_ids=[d.pk for d in datasets],
        inline=True,
    )


@pytest.fixture
def setup(personas, folders, tmp_path):
    org = personas["admin"].org
    photos, _ = make_dataset(org, seeds=(1,))
    generator = register_at(org, model_folder(tmp_path, "sd-folder"), datasets=[photos])
    upscaler = register_upscaler(org, folders["upscaler"], datasets=[photos])
    return {"org": org, "generator": generator, "upscaler": upscaler, "photos": photos}


@pytest.fixture(autouse=True)
def no_batch_window(settings):
    settings.GPU_BATCH_WINDOW_MS = 0


def released_asset(persona, generator, image: Image.Image) -> Asset:
    """An asset of `persona`'s whose generated pixels are `image`, marked RELEASED (these tests
    are about what comes after; the full test below releases through the real path)."""
    job = gated_job(persona, generator, [image])
    asset = job.assets.get()
    Asset.objects.filter(pk=asset.pk).update(state=Asset.State.RELEASED, release_key="x.png")
    job_transition(job_id=job.pk, to=State.RELEASED)
    asset.refresh_from_db()
    return asset


def upscale(persona, **fields):
    params = {"prompt": "a sharper cube", "model": "x4", "mode": "upscale", "steps": 2}
    return job_submit(membership=persona.membership, req=JobRequest(**{**params, **fields}))


def small(seed: int, side: int) -> Image.Image:
    return picture(seed, 64).resize((side, side), Image.LANCZOS)


def refused(call) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_the_tiny_upscaler_enlarges_x4_and_batches_as_it_runs_alone(folders):
    folder = folders["upscaler"]
    cache = pipelines.PipelineCache(max_bytes=2**30)
    model = cache.get("x4", folder, weights_sha256(folder))
    spec = pipelines.BatchSpec(
        mode="upscale", width=64, height=64, steps=2, guidance_scale=9.0, scheduler="ddim"
    )
    inputs = [small(seed, 16) for seed in (1, 2)]
    requests = [
        pipelines.ImageRequest(prompt=prompt, seed=seed, init_image=image)
        for prompt, seed, image in zip(("a cube", "a ball"), (5, 6), inputs, strict=True)
    ]
    steps = []
    batched = upscaling.run_upscale(model, spec, requests, on_step=lambda *s: steps.append(s))
    assert [image.size for image in batched] == [(64, 64), (64, 64)]
    assert steps == [(1, 2), (2, 2)]
    alone = upscaling.run_upscale(model, spec, requests[1:])
    difference = np.abs(np.asarray(alone[0], np.int16) - np.asarray(batched[1], np.int16))
    assert difference.max() <= 1 and (difference > 0).mean() <= 0.01
    assert not np.array_equal(np.asarray(batched[0]), np.asarray(batched[1]))
    # What the batch refuses: an input of another size, a model that is not an upscaler.
    with pytest.raises(ValueError, match="at least one"):
        upscaling.run_upscale(model, spec, [])
    wrong = [pipelines.ImageRequest("x", init_image=small(3, 32))]
    with pytest.raises(ValueError, match="upscales 16x16 images"):
        upscaling.run_upscale(model, spec, wrong)
    with pytest.raises(pipelines.ModelLoadError, match="cannot run text-to-image"):
        model.pipeline_for("text-to-image", "ddim")
    with pytest.raises(pipelines.Cancelled):
        upscaling.run_upscale(model, spec, requests, should_cancel=lambda: bool(steps))


def test_an_upscaler_folder_registers_only_as_an_upscaler(personas, folders):
    org = personas["admin"].org
    for family, folder in (("sd15", folders["upscaler"]), ("upscaler", folders["sd15"])):
        error = refused(
            lambda family=family, folder=folder: model_register(
                org=org,
                actor=None,
                name=f"wrong-{family}",
                version="1",
                family=family,
                local_path=str(folder),
                dataset_ids=[],
                inline=True,
            )
        )
        assert (error.status, error.code) == (422, "family_mismatch")


def test_upscale_refusals_each_with_its_reason(personas, setup, tmp_path):
    staff, admin, outsider = personas["staff"], personas["admin"], personas["outsider"]
    outsider_upscaler(outsider, tmp_path)
    parent = released_asset(staff, setup["generator"], small(7, 32))
    held = gated_job(staff, setup["generator"], [small(8, 32)]).assets.get()
    cases = [
        # Another organization's asset is not found, as a missing one.
        (outsider, {"parent_asset": parent.pk, "model": "x4"}, 404, "not_found"),
        ({}, {"parent_asset": held.pk}, 409, "parent_not_released"),
        ({}, {"model": setup["generator"].name, "parent_asset": parent.pk}, 422, None),
        ({}, {"mode": "text-to-image"}, 422, "mode_not_supported"),
        ({}, {"image": encoded(picture(9, 512))}, 422, "invalid_size"),
        ({}, {"image": encoded(small(9, 36))}, 422, "invalid_size"),
        ({}, {"image": b"not an image"}, 422, "invalid_image"),
        ({}, {}, 422, "missing_image"),
        ({}, {"parent_asset": parent.pk, "image": encoded(small(9, 32))}, 422, None),
        ({}, {"parent_asset": parent.pk, "strength": 0.5}, 422, "unexpected_strength"),
        ({}, {"parent_asset": parent.pk, "width": 64, "height": 64}, 422, "size_mismatch"),
    ]
    for who, fields, status, code in cases:
        persona = who or staff
        error = refused(lambda persona=persona, fields=fields: upscale(persona, **fields))
        assert error.status == status, (fields, error.code, error.detail)
        if code is not None:
            assert error.code == code, (fields, error.code, error.detail)
    oversize = refused(lambda: upscale(staff, image=encoded(picture(9, 512))))
    assert "2048x2048, over the policy's 1024x1024" in oversize.detail
    assert "largest image this policy lets be upscaled is 256x256" in oversize.detail
    not_released = refused(lambda: upscale(staff, parent_asset=held.pk))
    assert "QUARANTINED" in not_released.detail
    not_an_upscaler = refused(
        lambda: upscale(staff, model=setup["generator"].name, parent_asset=parent.pk)
    )
    assert not_an_upscaler.code == "mode_not_supported"
    # Staff read only their own assets: a colleague's is a 404 to them, not to an admin.
    admins = released_asset(admin, setup["generator"], small(10, 32))
    assert refused(lambda: upscale(staff, parent_asset=admins.pk)).status == 404
    assert upscale(admin, parent_asset=parent.pk).state == State.QUEUED
    # Only an upscale takes a parent.
    other_mode = refused(
        lambda: upscale(
            admin, model=setup["generator"].name, mode="image-to-image", parent_asset=parent.pk
        )
    )
    assert (other_mode.status, other_mode.code) == (422, "unexpected_parent_asset")
    # The upscale prompt passes the prompt gate again.
    blocked = refused(
        lambda: upscale(staff, parent_asset=parent.pk, prompt="a naked child in the bath")
    )
    assert (blocked.status, blocked.code) == (422, "prompt_blocked")
    assert GenerationJob.objects.filter(mode="upscale").count() == 1


def test_an_upload_of_a_training_item_is_refused_as_an_edit_input_is(personas, setup):
    org = personas["admin"].org
    item = small(21, 32)
    posters = dataset_create(org=org, actor=None, name="Posters")
    dataset_item_add(dataset=posters, actor=None, data=encoded(item), licence_key="CC0-1.0")
    register_upscaler_v2 = model_register(
        org=org,
        actor=None,
        name="x4-posters",
        version="1",
        family="upscaler",
        local_path=setup["upscaler"].local_path,
        dataset_ids=[posters.pk],
        inline=True,
    )
    error = refused(
        lambda: upscale(personas["staff"], model=register_upscaler_v2.name, image=encoded(item))
    )
    assert (error.status, error.code) == (422, "input_memorized") and "Posters" in error.detail


def stored(asset: Asset) -> Image.Image:
    with storages["quarantine"].open(asset.quarantine_key) as handle:
        return Image.open(io.BytesIO(handle.read())).convert("RGB")


def test_upscales_of_an_asset_and_of_an_upload_share_one_call(personas, setup):
    staff = personas["staff"]
    parent = released_asset(staff, setup["generator"], small(11, 32))
    of_parent = upscale(staff, parent_asset=parent.pk, seed=3)
    of_upload = upscale(staff, image=encoded(small(12, 32)), seed=4, prompt="a blue ball")
    assert (of_parent.width, of_parent.height, of_parent.strength) == (128, 128, None)
    assert of_parent.parent_asset_id == parent.pk and of_upload.parent_asset_id is None
    # The same training-data check as an edit's input, kept with the job.
    assert InputCheck.objects.get(job=of_parent).verdict == "pass"
    worker.job_run(job_id=of_parent.pk, task_id="task-x4")
    for job in (of_parent, of_upload):
        job.refresh_from_db()
        assert job.state == State.GATING and job.claimed_by == "task-x4", job.error
        assert stored(job.assets.get()).size == (128, 128)
    # The parent's generated pixels were the input (not its released canvas).
    with storages["quarantine"].open(of_parent.input_image_key) as handle:
        assert Image.open(handle).size == (32, 32)
    body = personas["staff"].client().get(f"/api/assets/{of_parent.assets.get().pk}").json()
    assert body["parent_asset"] == str(parent.pk)
    job_body = personas["staff"].client().get(f"/api/generations/{of_parent.pk}").json()
    assert job_body["parent_asset"] == str(parent.pk) and job_body["mode"] == "upscale"


def test_the_api_takes_an_upscale_as_json_or_multipart(personas, setup, tmp_path):
    staff = personas["staff"]
    parent = released_asset(staff, setup["generator"], small(13, 32))
    body = {"prompt": "sharper", "model": "x4", "mode": "upscale", "steps": 2}
    response = staff.client().post(
        "/api/generations",
        json.dumps({**body, "parent_asset": str(parent.pk)}),
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["parent_asset"] == str(parent.pk)
    upload = io.BytesIO(encoded(small(14, 32)))
    upload.name = "small.png"
    response = staff.client().post("/api/generations", {**body, "image": upload})
    assert response.status_code == 202, response.content
    assert (response.json()["width"], response.json()["parent_asset"]) == (128, None)
    bad = staff.client().post(
        "/api/generations",
        json.dumps({**body, "parent_asset": "not-a-uuid"}),
        content_type="application/json",
    )
    assert_error(bad, 422, "invalid_request")
    # Another org's asset: 404 over the API too.
    outsider = personas["outsider"]
    outsider_upscaler(outsider, tmp_path)
    response = outsider.client().post(
        "/api/generations",
        json.dumps({**body, "parent_asset": str(parent.pk)}),
        content_type="application/json",
    )
    assert_error(response, 404, "not_found")


def test_the_portal_offers_upscale_x4_on_released_images(personas, setup):
    staff = personas["staff"]
    parent = released_asset(staff, setup["generator"], small(15, 32))
    page = staff.portal().get(f"/o/acme/jobs/{parent.job_id}/").content.decode()
    action = f"/o/acme/assets/{parent.pk}/upscale/"
    assert 'data-testid="upscale"' in page and action in page
    response = staff.portal().post(action)
    job = GenerationJob.objects.get(mode="upscale", parent_asset=parent)
    assert response.status_code == 302 and response.url == f"/o/acme/jobs/{job.pk}/"
    assert (job.parent_asset_id, job.prompt, job.model_id) == (
        parent.pk,
        parent.job.prompt,
        setup["upscaler"].pk,
    )
    page = staff.portal().get(response.url).content.decode()
    assert 'data-testid="parent-asset"' in page and str(parent.pk) in page
    # The reviewer cannot submit: no action, and the POST is refused; another org: 404.
    reviewer_page = personas["reviewer"].portal().get(f"/o/acme/jobs/{parent.job_id}/")
    assert 'data-testid="upscale"' not in reviewer_page.content.decode()
    assert personas["reviewer"].portal().post(action).status_code == 403
    assert (
        personas["outsider"].portal().post(f"/o/globex/assets/{parent.pk}/upscale/").status_code
        == 404
    )
    gallery = staff.portal().get("/o/acme/gallery/").content.decode()
    assert 'data-testid="upscale"' in gallery and action in gallery
    # An upload is upscaled through the generate form, its size left blank.
    upload = io.BytesIO(encoded(small(17, 32)))
    upload.name = "small.png"
    form = {"prompt": "sharper", "model": "x4", "mode": "upscale", "steps": "2", "image": upload}
    response = staff.portal().post("/o/acme/generate/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    uploaded = GenerationJob.objects.get(mode="upscale", parent_asset=None)
    assert (uploaded.width, uploaded.height, uploaded.input_image_key != "") == (128, 128, True)
    # A refusal comes back as a message on the parent's page (here: x4 over the policy).
    rules = setup["org"].policies.order_by("-version").first().rules
    policy_create(org=setup["org"], actor=None, rules={**rules, "max_width": 64, "max_height": 64})
    big = released_asset(staff, setup["generator"], small(16, 32))
    response = staff.portal().post(f"/o/acme/assets/{big.pk}/upscale/", follow=True)
    assert "Not upscaled" in response.content.decode() and "128x128" in response.content.decode()


@pytest.mark.slow
@pytest.mark.xdist_group("broker")
def test_an_upscale_of_a_released_image_is_released_naming_its_parent(
    live_db, personas, folders, tmp_path, org_signing_key, settings, anon
):
    org, staff = personas["admin"].org, personas["staff"]
    # The web side reads the parent's pixels and files where the worker wrote them, as in a
    # deployment (the tests' own stores are per test otherwise).
    settings.STORAGES = {
        **settings.STORAGES,
        **{
            name: {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(settings.DATA_DIR / "files" / name)},
            }
            for name in ("quarantine", "release")
        },
    }
    photos, _ = make_dataset(org, seeds=(1,))
    register_at(org, folders["sd15"], datasets=[photos])
    register_upscaler(org, folders["upscaler"], datasets=[photos])
    client = staff.client()

    def finished(job_id):
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job = GenerationJob.objects.get(pk=job_id)
            if job.state not in (State.QUEUED, State.RUNNING, State.GATING):
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} still {job.state}")

    with celery_worker(tmp_path / "worker.log"):
        body = {"prompt": "a red cube", "model": "tiny", "width": 32, "height": 32, "steps": 2}
        response = client.post(
            "/api/generations", json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 202, response.content
        first = finished(response.json()["id"])
        assert first.state == State.RELEASED, first.error
        parent = first.assets.get()
        upscale_body = {
            "prompt": "a red cube, sharp",
            "model": "x4",
            "mode": "upscale",
            "steps": 2,
            "parent_asset": str(parent.pk),
        }
        response = client.post(
            "/api/generations", json.dumps(upscale_body), content_type="application/json"
        )
        assert response.status_code == 202, response.content
        job = finished(response.json()["id"])
    assert job.state == State.RELEASED, job.error
    child = job.assets.get()
    assert (child.width, child.height) == (128, 128)
    assert client.get(f"/api/assets/{child.pk}").json()["parent_asset"] == str(parent.pk)
    record = client.get(f"/api/assets/{child.pk}/provenance").json()
    assert record["job"]["parent_asset"] == str(parent.pk) and record["job"]["mode"] == "upscale"
    released = (settings.DATA_DIR / "files" / "release" / child.release_key).read_bytes()
    parent_label = parent.stamp.manifest_label
    report = read_credentials(released, "image/png", trust_anchors_pem=None)
    assert report.assertions[GENERATION_LABEL]["parent_asset"] == str(parent.pk)
    assert report.assertions[GENERATION_LABEL]["mode"] == "upscale"
    (ingredient,) = report.ingredients
    assert ingredient["relationship"] == "parentOf"
    assert ingredient["title"] == f"{parent.pk}.png"
    assert ingredient["active_manifest"] == parent_label
    # The public verify reads the chain: this image was issued here, made from that one.
    upload = io.BytesIO(released)
    upload.name = "upscaled.png"
    verdict = personas["reviewer"].client().post("/api/verify", {"image": upload}).json()
    assert verdict["verdict"] == "issued_here" and verdict["asset"]["id"] == str(child.pk)
    upload = io.BytesIO(released)
    upload.name = "upscaled.png"
    page = anon.post("/verify/", {"image": upload})
    assert 'data-testid="verified-parent"' in page.content.decode()
    assert str(parent.pk) in page.content.decode()
    assert verdict["c2pa"]["parent"] == {
        "title": f"{parent.pk}.png",
        "state": "trusted",
        "manifest_label": parent_label,
        "asset": str(parent.pk),
        "released_here": True,
    }


def test_an_upscale_keeps_its_parents_deployment_context(personas, setup):
    # A policy that sends a context to review must not be skipped by leaving the context out of
    # the enlargement of an image made for it; a context given explicitly is kept.
    staff = personas["staff"]
    parent = released_asset(staff, setup["generator"], small(13, 32))
    GenerationJob.objects.filter(pk=parent.job_id).update(context="medical")
    assert upscale(staff, parent_asset=parent.pk).context == "medical"
    assert upscale(staff, parent_asset=parent.pk, context="legal").context == "legal"
    assert upscale(staff, image=encoded(small(14, 32))).context == ""


def gate_upscale(job, image: Image.Image) -> GenerationJob:
    job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="test")
    worker._store(job, 0, job.seeds[0], image)
    job_transition(job_id=job.pk, to=State.GATING)
    gating.job_evaluate(job_id=job.pk)
    return GenerationJob.objects.get(pk=job.pk)


def test_an_upscale_of_an_image_a_person_cleared_goes_to_a_person_too(
    personas, setup, org_signing_key
):
    # The upscaler redraws its parent: an image that was held for review (and approved) must
    # not come back at 4x without a person seeing it, whatever held it, through any number of
    # upscales; an image that was never held is released as before.
    staff = personas["staff"]
    held = released_asset(staff, setup["generator"], small(21, 32))
    Hold.objects.create(asset=held, reasons=["prompt: names a public figure (review)"])
    job = gate_upscale(upscale(staff, parent_asset=held.pk), small(22, 128))
    assert job.state == State.IN_REVIEW
    reason = f"parent asset {held.pk}: prompt: names a public figure (review)"
    assert Hold.objects.get(asset__job=job).reasons == [reason]
    # Its own upscale, once released, carries the grandparent's reason on.
    child = job.assets.get()
    Asset.objects.filter(pk=child.pk).update(state=Asset.State.RELEASED, release_key="y.png")
    job_transition(job_id=job.pk, to=State.RELEASED)
    grandchild = upscale(staff, parent_asset=child.pk)
    assert set(Hold.objects.get(asset__job=gate_upscale(grandchild, small(23, 512))).reasons) == {
        reason,
        f"parent asset {child.pk}: {reason}",
    }
    plain = released_asset(staff, setup["generator"], small(24, 32))
    with storages["quarantine"].open(plain.quarantine_key) as handle:
        storages["release"].save(plain.release_key, handle)
    job = gate_upscale(upscale(staff, parent_asset=plain.pk), small(25, 128))
    assert job.state == State.RELEASED, job.error


def test_the_generate_form_offers_a_mode_only_with_a_model_that_runs_it(personas, setup):
    staff = personas["staff"]
    page = staff.portal().get("/o/acme/generate/").content.decode()
    # The SD model runs three modes, the upscaler one: each option names who runs it.
    assert '<option value="upscale">Upscale (x4:1)</option>' in page
    assert f'<option value="inpaint">Inpaint ({setup["generator"]})</option>' in page
    GenerativeModel.objects.filter(pk=setup["upscaler"].pk).delete()
    page = staff.portal().get("/o/acme/generate/").content.decode()
    assert 'value="upscale"' not in page
    assert '<option value="inpaint">Inpaint</option>' in page
