"""SD3 and Flux through the platform: registered as folders through the registry (family checked
against the folder), requests validated against what each family supports and filled with its
defaults, queued jobs batched by the GPU worker with images equal to solo runs, cancellation,
the out-of-memory split, and a full API request to a released image on a real worker."""

import io
import json
import time

import numpy as np
import pytest
from django.conf import settings
from django.core.files.storage import storages
from PIL import Image

from generation import pipelines, worker
from generation.models import Asset, GenerationJob
from generation.services import model_register
from generation.submission import JobRequest, job_submit
from generation.tiny import save_tiny_pipeline
from generation.transitions import job_transition
from mintmark.errors import ApiError
from provenance.credentials import GENERATION_LABEL, read_credentials
from tests.mm_api_support import assert_error, make_dataset
from tests.worker_support import celery_worker

State = GenerationJob.State
FAMILIES = ("sd3", "flux")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow-jobs")
    return {family: save_tiny_pipeline(root / family, family) for family in FAMILIES}


def register(org, folder, family, name=None):
    dataset, _ = make_dataset(org, seeds=(1,), name=f"{family} photos")
    return model_register(
        org=org,
        actor=None,
        name=name or family,
        version="1",
        family=family,
        local_path=str(folder),
        dataset_ids=[dataset.pk],
        inline=True,
    )


@pytest.fixture
def registered(personas, folders):
    org = personas["admin"].org
    return {family: register(org, folders[family], family) for family in FAMILIES}


@pytest.fixture(autouse=True)
def no_batch_window(settings):
    settings.GPU_BATCH_WINDOW_MS = 0


def submit(persona, family, **fields):
    params = {"prompt": "a red cube", "model": family, "width": 32, "height": 32, "steps": 3}
    return job_submit(membership=persona.membership, req=JobRequest(**{**params, **fields}))


def pixels(asset: Asset) -> np.ndarray:
    with storages["quarantine"].open(asset.quarantine_key) as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def test_a_folder_registers_only_as_its_own_family(personas, folders):
    org = personas["admin"].org
    for family, folder in (("sd15", folders["sd3"]), ("sd3", folders["flux"])):
        with pytest.raises(ApiError) as refused:
            register(org, folder, family, name=f"wrong-{family}")
        assert refused.value.status == 422 and refused.value.code == "family_mismatch"
        assert "not a" in refused.value.detail


def test_requests_get_the_family_defaults_and_its_refusals(personas, registered):
    staff = personas["staff"]
    sd3 = job_submit(membership=staff.membership, req=JobRequest(prompt="a cube", model="sd3"))
    flux = job_submit(membership=staff.membership, req=JobRequest(prompt="a cube", model="flux"))
    # Model-card defaults; the size is the folder's own (the tiny SD3 draws 32 px, Flux's
    # pipeline 128 latents x 2 = 256 px).
    assert (sd3.steps, sd3.guidance_scale, sd3.scheduler, sd3.width) == (28, 7.0, "flow_euler", 32)
    assert (flux.steps, flux.guidance_scale, flux.scheduler, flux.width) == (
        28,
        3.5,
        "flow_euler",
        256,
    )
    refusals = [
        ("sd3", {"scheduler": "dpmpp_2m"}, "invalid_scheduler", "flow_euler"),
        ("flux", {"negative_prompt": "blurry"}, "negative_prompt_not_supported", "Flux"),
        ("sd3", {"width": 40}, "invalid_size", "multiple of 16"),
    ]
    for family, fields, code, words in refusals:
        with pytest.raises(ApiError) as refused:
            submit(staff, family, **fields)
        assert (refused.value.status, refused.value.code) == (422, code)
        assert words in refused.value.detail
    # Over the API too, with the reason in the body.
    response = staff.client().post(
        "/api/generations",
        json.dumps({"prompt": "x", "model": "flux", "scheduler": "euler"}),
        content_type="application/json",
    )
    assert_error(response, 422, "invalid_scheduler")


def test_the_portal_form_offers_schedulers_by_family_and_refuses_the_rest(personas, registered):
    staff = personas["staff"]
    page = staff.portal().get("/o/acme/generate/").content.decode()
    flow_group = page.index('<optgroup label="Stable Diffusion 3, Flux">')
    assert page.index('value="flow_euler"') > flow_group > page.index('value="dpmpp_2m"')
    form = {"prompt": "a red cube", "model": "flux", "width": "32", "height": "32"}
    response = staff.portal().post("/o/acme/generate/", {**form, "scheduler": "euler"})
    html = response.content.decode()
    assert response.status_code == 422 and 'data-code="invalid_scheduler"' in html
    assert "runs the schedulers flow_euler" in html
    assert not GenerationJob.objects.exists()


@pytest.mark.parametrize("family", FAMILIES)
def test_queued_jobs_share_one_call_and_match_solo_runs(personas, registered, settings, family):
    staff, admin = personas["staff"], personas["admin"]
    first = submit(staff, family, seed=10, num_images=2)
    second = submit(admin, family, seed=20, prompt="a blue sphere")
    other_steps = submit(staff, family, seed=30, steps=2)
    worker.job_run(job_id=first.pk, task_id="task-a")
    for job in (first, second):
        job.refresh_from_db()
        assert job.state == State.GATING and job.claimed_by == "task-a", job.error
    other_steps.refresh_from_db()
    assert other_steps.state == State.QUEUED
    job_transition(job_id=other_steps.pk, to=State.CANCELLED)  # so the worker takes the solo one
    batched = {a.seed: pixels(a) for a in Asset.objects.filter(job__in=[first, second])}
    assert sorted(batched) == [10, 11, 20]

    settings.GPU_MAX_BATCH_IMAGES = 1
    solo = submit(admin, family, seed=20, prompt="a blue sphere")
    worker.job_run(job_id=solo.pk, task_id="task-solo")
    difference = np.abs(pixels(solo.assets.get()) - batched[20])
    assert difference.max() <= 1 and (difference > 0).mean() <= 0.01


@pytest.mark.parametrize("family", FAMILIES)
def test_cancel_mid_run_and_out_of_memory_split(personas, registered, monkeypatch, family):
    staff = personas["staff"]
    job = submit(staff, family, steps=20)
    real_on_step = worker._Progress.on_step

    def cancel_at_step_2(self, step, total):
        real_on_step(self, step, total)
        if step == 2:
            job_transition(job_id=job.pk, to=State.CANCELLED)
            self.last_check = 0.0

    monkeypatch.setattr(worker._Progress, "on_step", cancel_at_step_2)
    worker.job_run(job_id=job.pk, task_id="task-1")
    job.refresh_from_db()
    assert job.state == State.CANCELLED and job.progress_step < 20
    assert not Asset.objects.filter(job=job).exists()
    monkeypatch.undo()

    real_run, sizes = pipelines.run_batch, []

    def run_batch_with_small_memory(model, spec, requests, **kwargs):
        sizes.append(len(requests))
        if len(requests) > 1:
            raise pipelines.OutOfMemory("CUDA out of memory (injected)")
        return real_run(model, spec, requests, **kwargs)

    monkeypatch.setattr(pipelines, "run_batch", run_batch_with_small_memory)
    split = submit(staff, family, num_images=3, seed=1, steps=2)
    worker.job_run(job_id=split.pk, task_id="task-2")
    split.refresh_from_db()
    assert split.state == State.GATING and split.assets.count() == 3
    assert sizes == [3, 1, 2, 1, 1]


def test_changed_weights_fail_the_job_with_the_reason(personas, registered):
    model = registered["flux"]
    model.weights_sha256 = "0" * 64
    model.save(update_fields=["weights_sha256"])
    job = submit(personas["staff"], "flux")
    worker.job_run(job_id=job.pk, task_id="task-1")
    job.refresh_from_db()
    assert job.state == State.FAILED and "could not be loaded" in job.error


@pytest.mark.slow
@pytest.mark.xdist_group("broker")
def test_api_requests_become_released_images(live_db, personas, folders, tmp_path, org_signing_key):
    org, staff = personas["admin"].org, personas["staff"]
    for family in FAMILIES:
        register(org, folders[family], family)
    with celery_worker(tmp_path / "worker.log"):
        ids = {}
        for family in FAMILIES:
            body = {"prompt": "a red cube", "model": family, "width": 32, "height": 32}
            response = staff.client().post(
                "/api/generations",
                json.dumps({**body, "steps": 2, "num_images": 2, "seed": 7}),
                content_type="application/json",
            )
            assert response.status_code == 202, response.content
            ids[family] = response.json()["id"]
        deadline = time.monotonic() + 240
        ended = (State.QUEUED, State.RUNNING, State.GATING)
        while time.monotonic() < deadline:
            jobs = GenerationJob.objects.filter(pk__in=ids.values())
            if all(job.state not in ended for job in jobs):
                break
            time.sleep(0.3)
    for family, job_id in ids.items():
        job = GenerationJob.objects.get(pk=job_id)
        assert job.state == State.RELEASED, (family, job.state, job.error)
        guidance = {"sd3": 7.0, "flux": 3.5}[family]  # the family's default
        assert (job.steps, job.scheduler, job.guidance_scale) == (2, "flow_euler", guidance)
        assets = list(job.assets.order_by("index"))
        assert [(a.seed, a.state) for a in assets] == [(7, "RELEASED"), (8, "RELEASED")]
        released = settings.DATA_DIR / "files" / "release" / assets[0].release_key
        # Signed content credentials naming the model, as for SD 1.5 and SDXL images.
        report = read_credentials(released.read_bytes(), "image/png", trust_anchors_pem=None)
        assert report.manifest is not None, report
        assert family in json.dumps(report.assertions[GENERATION_LABEL])
