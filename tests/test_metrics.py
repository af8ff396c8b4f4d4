"""GET /metrics: refused without its token, and a job's life read back from the endpoint's text.

The counters a real Celery worker process records (states, gates, the GPU batch, releases) and
those of this process (the submission, the prompt gate) land in one multiprocess folder of the
test's own, which the endpoint adds up with the gauges it reads at scrape time."""

import json
import time
from collections import Counter

import pytest

from generation.models import Asset, GenerationJob
from licensing.services import dataset_item_add
from moderation.models import GateResult
from tests.metrics_support import TOKEN, metrics_dir, scrape, value, worker_env  # noqa: F401
from tests.worker_support import celery_worker

State = GenerationJob.State


def test_metrics_are_off_without_a_token(settings, anon):
    settings.METRICS_TOKEN = None
    response = anon.get("/metrics")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "detail": "Metrics are off: set MINTMARK_METRICS_TOKEN.",
    }


@pytest.mark.usefixtures("metrics_dir")
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_metrics_refuse_a_request_without_the_bearer_token(anon, db, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = anon.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["error"] == "unauthorized"
    assert "MINTMARK_METRICS_TOKEN" in response.json()["detail"]
    assert anon.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def submit(persona, **body) -> str:
    payload = {"prompt": "a red cube", "model": "tiny", "width": 64, "height": 64, **body}
    response = persona.client().post(
        "/api/generations", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def settled(job_id, timeout=120) -> GenerationJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = GenerationJob.objects.get(pk=job_id)
        if job.state not in (State.QUEUED, State.RUNNING, State.GATING):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job still {job.state} after {timeout} s")


@pytest.mark.slow
@pytest.mark.xdist_group("broker")
@pytest.mark.usefixtures("metrics_dir")
def test_a_jobs_life_moves_its_counters(tiny_model, personas, org_signing_key, tmp_path, settings):
    staff = personas["staff"]
    with celery_worker(tmp_path / "worker.log", **worker_env(settings.METRICS_DIR)):
        released = settled(submit(staff, steps=4, seed=11))
        assert released.state == State.RELEASED, (released.state, released.error)
        # Its output becomes a training item of the model: the same request again is a copy.
        # The worker process keeps files under the run's data folder, not this test's temporary
        # one: the training item goes where it reads it.
        files = settings.DATA_DIR / "files"
        location = {"location": str(files / "datasets")}
        datasets = {**settings.STORAGES["datasets"], "OPTIONS": location}
        settings.STORAGES = {**settings.STORAGES, "datasets": datasets}
        key = released.assets.get().quarantine_key
        output = (files / "quarantine" / key).read_bytes()
        dataset_item_add(
            dataset=tiny_model.trained_on.get(), actor=None, data=output, licence_key="CC0-1.0"
        )
        blocked = settled(submit(staff, steps=4, seed=11))
        assert blocked.state == State.BLOCKED, (blocked.state, blocked.error)
        held = settled(submit(staff, steps=4, seed=900, context="medical"))
        assert held.state == State.IN_REVIEW, (held.state, held.error)
    samples = scrape()

    entered = {
        state: value(samples, "mintmark_jobs_entered_total", state=state) for state in State.values
    }
    assert entered == {
        "QUEUED": 3,
        "RUNNING": 3,
        "GATING": 3,
        "IN_REVIEW": 1,
        "RELEASED": 1,
        "BLOCKED": 1,
        "REJECTED": 0,
        "FAILED": 0,
        "CANCELLED": 0,
    }
    for state in ("QUEUED", "RUNNING"):
        assert value(samples, "mintmark_job_state_seconds_count", state=state) == 3
    assert value(samples, "mintmark_job_state_seconds_count", state="GATING") == 3
    assert value(samples, "mintmark_job_state_seconds_sum", state="RUNNING") > 0
    assert value(samples, "mintmark_job_state_seconds_bucket", state="QUEUED", le="+Inf") == 3

    assert value(samples, "mintmark_images_generated_total", model="tiny") == 3
    assert value(samples, "mintmark_images_released_total", model="tiny") == 1
    assert value(samples, "mintmark_gpu_batch_images_count", model="tiny") == 3
    assert value(samples, "mintmark_gpu_batch_images_sum", model="tiny") == 3
    assert value(samples, "mintmark_gpu_step_seconds_count", model="tiny") == 3
    assert value(samples, "mintmark_gpu_step_seconds_sum", model="tiny") > 0

    decisions = {
        (dict(labels)["gate"], dict(labels)["outcome"]): count
        for (name, labels), count in samples.items()
        if name == "mintmark_gate_decisions_total"
    }
    # One count per result the gates recorded (a retried gating records its asset again).
    recorded = Counter(GateResult.objects.values_list("gate", "verdict"))
    assert decisions == recorded
    assert recorded[("prompt", "pass")] == 3
    assert recorded[("memorization", "block")] == 1
    assert recorded[("image_safety", "pass")] >= 3
    assert not [name for name, _ in samples if name == "mintmark_release_failures_total"]

    # Read from the database and the broker when scraped.
    now_in = {state: value(samples, "mintmark_jobs", state=state) for state in State.values}
    assert (now_in["RELEASED"], now_in["BLOCKED"], now_in["IN_REVIEW"]) == (1, 1, 1)
    assert sum(now_in.values()) == 3
    assert value(samples, "mintmark_review_queue_assets") == 1
    assert value(samples, "mintmark_review_queue_oldest_seconds") > 0
    assert held.assets.get().state == Asset.State.IN_REVIEW
    for queue in ("gpu", "gates"):
        assert ("mintmark_queue_depth", (("queue", queue),)) in samples, queue
