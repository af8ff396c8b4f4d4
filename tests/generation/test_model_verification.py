"""Verifying a registered model's weights outside the request (issue #16): the
`generation.verify_model` task (queue "gates") hashes the folder with its progress recorded,
under a size limit, refusing links out of the folder, and marks the model ready or failed; a
model that is not ready is refused at submission and by the GPU worker."""

import json
import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generation import services, worker
from generation.models import GenerationJob, GenerativeModel
from generation.services import model_verify
from generation.submission import JobRequest, job_submit
from generation.tiny import save_tiny_pipeline
from mintmark.celery import app
from tests.mm_api_support import (
    assert_error,
    events,
    make_dataset,
    model_folder,
    register_tiny,
    row_counts,
)
from tests.worker_support import celery_worker

State = GenerativeModel.State


def _register(persona, folder, name="m", trained_on=()):
    payload = {
        "name": name,
        "version": "1",
        "family": "sd15",
        "local_path": str(folder),
        "trained_on": [str(d.pk) for d in trained_on],
    }
    response = persona.client().post(
        "/api/models", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return GenerativeModel.objects.get(pk=response.json()["id"])


@pytest.fixture
def admin(personas):
    return personas["admin"]


def test_progress_is_recorded_as_the_weights_are_hashed(admin, tmp_path, monkeypatch):
    folder = model_folder(tmp_path, weights=b"w" * 4000)
    model = _register(admin, folder)
    monkeypatch.setattr("generation.weights._CHUNK", 1000)
    monkeypatch.setattr(services, "PROGRESS_INTERVAL_S", 0)
    with CaptureQueriesContext(connection) as queries:
        model_verify(model_id=model.pk)
    written = [
        tuple(map(int, found.groups()))
        for query in queries.captured_queries
        if (
            found := re.search(
                r'"verify_bytes_done" = (\d+), "verify_bytes_total" = (\d+)', query["sql"]
            )
        )
    ]
    assert written[:5] == [(0, 4000), (1000, 4000), (2000, 4000), (3000, 4000), (4000, 4000)]
    model.refresh_from_db()
    assert model.state == State.READY
    assert (model.verify_bytes_done, model.verify_bytes_total) == (4000, 4000)


def test_a_folder_past_the_size_limit_fails(admin, tmp_path, settings):
    model = _register(admin, model_folder(tmp_path, weights=b"w" * 100))
    settings.MODEL_MAX_BYTES = 99
    model = model_verify(model_id=model.pk)
    assert model.state == State.FAILED and model.weights_sha256 == ""
    assert "more than the limit of 99 bytes" in model.verify_error
    (event,) = events(admin.org, "model.verification_failed")
    assert event.subject_id == str(model.pk) and event.data == {"reason": model.verify_error}


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_links_out_of_the_folder_fail_verification(admin, tmp_path_factory, kind):
    folder = model_folder(tmp_path_factory.mktemp("root"))
    model = _register(admin, folder)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "diffusion_pytorch_model.safetensors").write_bytes(b"other weights")
    if kind == "file":
        link = folder / "vae" / "diffusion_pytorch_model.safetensors"
        link.parent.mkdir()
        link.symlink_to(elsewhere / "diffusion_pytorch_model.safetensors")
    else:
        link = folder / "vae"
        link.symlink_to(elsewhere, target_is_directory=True)
    model = model_verify(model_id=model.pk)
    assert model.state == State.FAILED
    assert model.verify_error == f"{link.relative_to(folder)} links outside the model folder"


def test_a_link_inside_the_folder_is_fine(admin, tmp_path):
    folder = model_folder(tmp_path)
    (folder / "unet-alias").symlink_to(folder / "unet", target_is_directory=True)
    model = model_verify(model_id=_register(admin, folder).pk)
    assert model.state == State.READY


def test_a_folder_swapped_for_a_link_after_registration_fails(admin, tmp_path):
    folder = model_folder(tmp_path / "models", "m")
    model = _register(admin, folder)
    folder.rename(tmp_path / "moved")
    folder.symlink_to(tmp_path / "moved", target_is_directory=True)
    model = model_verify(model_id=model.pk)
    assert model.state == State.FAILED and "resolves elsewhere" in model.verify_error


def test_verifying_again_changes_nothing(admin, tmp_path):
    model = _register(admin, model_folder(tmp_path))
    assert model_verify(model_id=model.pk).state == State.READY
    before = row_counts()
    assert model_verify(model_id=model.pk) is None
    assert row_counts() == before and len(events(admin.org, "model.verified")) == 1


def test_the_task_runs_on_the_gates_queue():
    route = app.amqp.router.route({}, "generation.verify_model")
    assert route["queue"].name == "gates"


@pytest.mark.parametrize("state", [State.VERIFYING, State.FAILED])
def test_jobs_are_refused_until_the_model_is_ready(personas, tmp_path, state):
    admin = personas["admin"]
    dataset, _ = make_dataset(admin.org)
    model = _register(admin, model_folder(tmp_path), name="fresh", trained_on=[dataset])
    GenerativeModel.objects.filter(pk=model.pk).update(state=state)
    payload = {"prompt": "a red cube", "model": "fresh", "width": 64, "height": 64}
    before = row_counts()
    body = assert_error(
        personas["staff"]
        .client()
        .post("/api/generations", json.dumps(payload), content_type="application/json"),
        409,
        "model_not_verified",
    )
    assert f"it is {state}" in body["detail"]
    assert row_counts() == before and not GenerationJob.objects.exists()


def test_the_worker_refuses_a_model_that_is_not_ready(personas, tmp_path, settings):
    settings.GPU_BATCH_WINDOW_MS = 0
    model = register_tiny(personas["admin"].org, save_tiny_pipeline(tmp_path / "tiny-sd"))
    request = JobRequest(prompt="a red cube", model="tiny", width=32, height=32, steps=2)
    job = job_submit(membership=personas["staff"].membership, req=request)
    # Weights unchanged, digest recorded: only the state says the model may not run.
    GenerativeModel.objects.filter(pk=model.pk).update(state=State.VERIFYING)
    worker.job_run(job_id=job.pk, task_id="task-a")
    job.refresh_from_db()
    assert job.state == GenerationJob.State.FAILED
    assert job.error == "model tiny:1 cannot be used: its weights are verifying"
    assert not job.assets.exists()


@pytest.mark.slow
@pytest.mark.xdist_group("broker")
def test_a_worker_verifies_registrations_from_the_api(live_db, personas, tmp_path_factory):
    admin = personas["admin"]
    root = tmp_path_factory.mktemp("models")
    good = _register(admin, model_folder(root, "good", weights=b"w" * 3_000_000), name="good")
    bad_folder = model_folder(root, "bad")
    (bad_folder / "text_encoder").symlink_to("/etc", target_is_directory=True)
    bad = _register(admin, bad_folder, name="bad")
    with celery_worker(tmp_path_factory.mktemp("logs") / "worker.log", queues="gates"):
        deadline = time.monotonic() + 120
        while GenerativeModel.objects.filter(state=State.VERIFYING).exists():
            assert time.monotonic() < deadline, "the models were not verified within 120 s"
            time.sleep(0.2)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.state == State.READY and good.verify_bytes_done == 3_000_000
    assert good.weights_sha256 == services.weights_sha256(root / "good")
    assert bad.state == State.FAILED
    assert bad.verify_error == "text_encoder links outside the model folder"
    actions = [e.action for e in events(admin.org, "model.verified")]
    actions += [e.action for e in events(admin.org, "model.verification_failed")]
    assert sorted(actions) == ["model.verification_failed", "model.verified"]


def test_the_models_page_shows_verification(admin, tmp_path):
    verifying = _register(admin, model_folder(tmp_path, "a"), name="pending")
    failed = _register(admin, model_folder(tmp_path, "b", weights=b"w" * 10), name="broken")
    GenerativeModel.objects.filter(pk=failed.pk).update(
        state=State.FAILED, verify_error="its weight files hold more than the limit"
    )
    page = admin.portal().get("/o/acme/manage/models/").content.decode()
    assert verifying.state == State.VERIFYING
    assert 'data-state="verifying">verifying</span> 0\xa0bytes hashed' in page
    assert 'data-state="failed">verification failed</span> its weight files hold' in page
    assert "<code>&lt;root&gt;/acme/</code>" in page
