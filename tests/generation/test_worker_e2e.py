"""End to end with a real Celery worker process, a real broker and a real (tiny) diffusers
model: an API request goes through the GPU task, the gates task and stamping to a released,
signed, watermarked image; and a worker killed mid-job finishes the job once after
redelivery."""

import hashlib
import io
import json
import os
import signal
import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from audit.models import AuditEvent
from audit.selectors import audit_verify
from generation.models import Asset, GenerationJob
from generation.quota import quota_used
from policies.rules import default_rules
from policies.services import policy_create
from tests.worker_support import celery_worker, worker_children

# Worker processes share the broker: these run one after another on one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("broker")]

State = GenerationJob.State


def submit(persona, **body):
    payload = {"prompt": "a red cube", "model": "tiny", "width": 64, "height": 64, **body}
    response = persona.client().post(
        "/api/generations", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def wait_for(job_id, predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = GenerationJob.objects.get(pk=job_id)
        if predicate(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job still {job.state} at step {job.progress_step} after {timeout} s")


def quarantined_file(asset: Asset) -> bytes:
    # The worker process writes under the run's data folder, not this test's temporary one.
    return (settings.DATA_DIR / "files" / "quarantine" / asset.quarantine_key).read_bytes()


def test_an_api_request_becomes_a_released_image(tiny_model, personas, tmp_path, org_signing_key):
    staff = personas["staff"]
    with celery_worker(tmp_path / "worker.log"):
        job_id = submit(staff, steps=8, num_images=2, seed=7)
        job = wait_for(job_id, lambda job: job.state not in (State.QUEUED, State.RUNNING))
        assert (job.progress_step, job.progress_total) == (8, 8)
        job = wait_for(job_id, lambda job: job.state not in (State.GATING,))
    assert job.state == State.RELEASED, (job.state, job.error)
    assets = list(job.assets.order_by("index"))
    assert [(a.index, a.seed, a.state) for a in assets] == [
        (0, 7, "RELEASED"),
        (1, 8, "RELEASED"),
    ]
    client = staff.client()
    for asset in assets:
        data = quarantined_file(asset)
        assert hashlib.sha256(data).hexdigest() == asset.sha256
        assert Image.open(io.BytesIO(data)).size == (64, 64)
        released = (settings.DATA_DIR / "files" / "release" / asset.release_key).read_bytes()
        # Enlarged to the release's minimum side, where the watermark holds, then stamped.
        assert Image.open(io.BytesIO(released)).size == (256, 256)
        upload = SimpleUploadedFile("x.png", released, content_type="image/png")
        verdict = client.post("/api/verify", {"image": upload}).json()
        assert verdict["verdict"] == "issued_here", verdict
        assert verdict["asset"]["id"] == str(asset.pk)
    assert assets[0].sha256 != assets[1].sha256
    actions = set(AuditEvent.objects.filter(subject_id=job_id).values_list("action", flat=True))
    assert {
        "generation.submitted",
        "generation.running",
        "generation.gating",
        "generation.released",
    } <= actions
    assert audit_verify(org=job.org).ok


def test_a_worker_killed_mid_job_finishes_it_once_after_redelivery(tiny_model, personas, tmp_path):
    rules = default_rules()
    rules["max_steps"] = 500
    policy_create(org=personas["admin"].org, actor=None, rules=rules)
    staff = personas["staff"]
    with celery_worker(tmp_path / "worker.log") as worker:
        job_id = submit(staff, steps=200, num_images=2, seed=3, width=32, height=32)
        wait_for(job_id, lambda job: job.state == State.RUNNING and job.progress_step > 0)
        (child,) = worker_children(worker.pid)
        os.kill(child, signal.SIGKILL)
        job = wait_for(job_id, lambda job: job.state not in (State.QUEUED, State.RUNNING), 600)
    # 32 px outputs then go on to the gates; what matters here is that they were made once.
    assert job.state in (State.GATING, State.RELEASED), (job.state, job.error)
    assert job.attempts == 2
    assert Asset.objects.filter(job=job).count() == 2
    assert quota_used(org=job.org, user=staff.user) == 2
    gating = AuditEvent.objects.filter(subject_id=job_id, action="generation.gating")
    assert gating.count() == 1
    assert audit_verify(org=job.org).ok


def test_a_pool_process_killed_while_idle_does_not_stall_the_worker(tiny_model, personas, tmp_path):
    # An idle pool process waits for its next task holding the read lock of the queue its
    # replacement inherits: a process killed there (the OOM killer, an operator) must not leave
    # the worker unable to run anything again.
    staff = personas["staff"]
    with celery_worker(tmp_path / "worker.log") as worker:
        time.sleep(2)
        for child in worker_children(worker.pid):
            os.kill(child, signal.SIGKILL)
        job_id = submit(staff, steps=2, seed=5)
        job = wait_for(job_id, lambda job: job.state not in (State.QUEUED, State.RUNNING), 600)
    assert job.state in (State.GATING, State.RELEASED), (job.state, job.error)
    assert Asset.objects.filter(job=job).count() == 1
