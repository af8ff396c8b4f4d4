"""The stores on a real S3 API: a moto server process (moto[server], the S3 HTTP protocol), with
the stores settings.py builds for MINTMARK_STORAGE=s3 in this process and in a real worker.

A job is generated into the quarantine bucket, gated, stamped and released into the release
bucket once; a release whose upload fails leaves the job retryable and nothing released, and
completes exactly once when the bucket is back. The same worker then blocks a copy and holds a
job for review, and GET /metrics must tell that whole story (tests/test_metrics.py has its
refusals). Files are never reachable by URL: the stores
refuse to make one and the buckets refuse anonymous reads; a released file is streamed by the
API after its access checks."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import DatabaseError

from audit.models import AuditEvent
from generation import release
from generation.models import Asset, GenerationJob
from licensing.services import dataset_item_add
from mintmark.storage import UrlRefused
from moderation import gating
from moderation.models import GateResult
from provenance.models import Stamp
from tests.gating_support import gated_job, keys_make, picture
from tests.metrics_support import metrics_dir, scrape, value, worker_env  # noqa: F401
from tests.mm_api_support import make_dataset, make_model
from tests.worker_support import celery_worker

REPO = Path(__file__).resolve().parent.parent
STORES = ("default", "quarantine", "release", "datasets")
State = GenerationJob.State


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/", timeout=2)  # noqa: S310 - a local test URL
                break
            except urllib.error.HTTPError:
                break  # it answered
            except OSError:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "moto_server did not answer within 60 s"
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=30)


def s3_env(endpoint: str) -> dict[str, str]:
    """What an operator sets for S3 (README "Settings"); the buckets are the defaults."""
    return {
        "MINTMARK_STORAGE": "s3",
        "MINTMARK_S3_ENDPOINT_URL": endpoint,
        "MINTMARK_S3_ACCESS_KEY": "mintmark-test",
        "MINTMARK_S3_SECRET_KEY": "mintmark-test-secret",
        "MINTMARK_S3_REGION": "us-east-1",
    }


@pytest.fixture
def s3(s3_endpoint, settings):
    """Empty private buckets, and this process's stores exactly as settings.py makes them
    from the S3 variables (read in a fresh interpreter, which is what a server would run)."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="mintmark-test",
        aws_secret_access_key="mintmark-test-secret",
        region_name="us-east-1",
    )
    for bucket in client.list_buckets()["Buckets"]:
        for item in client.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            client.delete_object(Bucket=bucket["Name"], Key=item["Key"])
        client.delete_bucket(Bucket=bucket["Name"])
    for name in STORES:
        client.create_bucket(Bucket=f"mintmark-{name}")
    built = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; sys.path[:0] = ['platform', '.']; "
            "from mintmark import settings; print(json.dumps(settings.STORAGES))",
        ],
        cwd=REPO,
        env={**os.environ, **s3_env(s3_endpoint)},
        capture_output=True,
        text=True,
        check=True,
    )
    stores = json.loads(built.stdout.strip().splitlines()[-1])
    assert {stores[name]["BACKEND"] for name in STORES} == {"mintmark.storage.PrivateS3Storage"}
    settings.STORAGES = {**settings.STORAGES, **{name: stores[name] for name in STORES}}
    return client


def keys(client, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_files_round_trip_and_no_store_gives_a_url(s3, s3_endpoint):
    for name in STORES:
        store = storages[name]
        key = store.save(f"check/{name}.bin", ContentFile(name.encode() * 100))
        assert keys(s3, f"mintmark-{name}") == [key]
        with store.open(key) as handle:
            assert handle.read() == name.encode() * 100
        with pytest.raises(UrlRefused, match="released files are streamed"):
            store.url(key)
        # The bucket is private: the object's plain URL is refused to anyone without a
        # signature.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{s3_endpoint}/mintmark-{name}/{key}", timeout=10)  # noqa: S310
        assert refused.value.code == 403
        store.delete(key)
        assert not store.exists(key)


def test_a_release_whose_database_step_fails_leaves_no_copy_behind(
    s3, personas, settings, tmp_path, monkeypatch
):
    org = personas["admin"].org
    keys_make(settings, tmp_path, org)
    model = make_model(org, tmp_path, datasets=[make_dataset(org)[0]])
    job = gated_job(personas["staff"], model, [picture(50)])
    assert keys(s3, "mintmark-quarantine") == [job.assets.get().quarantine_key]

    def lost_connection(**_):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(release, "asset_transition", lost_connection)
    with pytest.raises(DatabaseError):
        gating.job_evaluate(job_id=job.pk)
    # The file was uploaded, then the release did not happen: the upload is removed again.
    assert keys(s3, "mintmark-release") == []
    assert job.assets.get().state == Asset.State.QUARANTINED
    monkeypatch.undo()
    gating.job_evaluate(job_id=job.pk)
    asset = job.assets.get()
    assert asset.state == Asset.State.RELEASED
    assert keys(s3, "mintmark-release") == [asset.release_key]


def submit(persona, **fields) -> str:
    payload = {"prompt": "a red cube", "model": "tiny", "width": 64, "height": 64, "steps": 4}
    response = persona.client().post(
        "/api/generations", json.dumps({**payload, **fields}), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def wait_until(condition, timeout=120, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def settled(job_id) -> GenerationJob:
    unsettled = (State.QUEUED, State.RUNNING, State.GATING)
    wait_until(
        lambda: GenerationJob.objects.get(pk=job_id).state not in unsettled, what=f"job {job_id}"
    )
    return GenerationJob.objects.get(pk=job_id)


@pytest.mark.slow
@pytest.mark.xdist_group("broker")
@pytest.mark.usefixtures("metrics_dir")
def test_jobs_on_s3_with_a_failed_upload_and_the_metrics_they_move(
    s3, s3_endpoint, tiny_model, personas, org_signing_key, tmp_path, settings
):
    """One real worker on the S3 stores and the metrics folder (a worker start is the costly
    part): a job whose release upload fails, then succeeds once; a job blocked as a copy of a
    training item; a job held for review. Then the files, then /metrics."""
    # The release bucket is gone when the first job is approved: the upload fails mid-release.
    s3.delete_bucket(Bucket="mintmark-release")
    staff = personas["staff"]
    env = {
        **s3_env(s3_endpoint),
        **worker_env(settings.METRICS_DIR),
        "MINTMARK_GATE_RETRY_BASE_S": "1",
    }
    with celery_worker(tmp_path / "worker.log", **env):
        job_id = submit(staff, seed=11)
        job = GenerationJob.objects.get(pk=job_id)

        def retried():
            # Each attempt gates the still-quarantined asset again before its release fails.
            runs = GateResult.objects.filter(asset__job=job, gate="memorization").count()
            return runs >= 2

        wait_until(retried, what="a second gating attempt after the failed upload")
        job.refresh_from_db()
        asset = job.assets.get()
        assert job.state == State.GATING and job.finished_at is None, (job.state, job.error)
        assert asset.state == Asset.State.QUARANTINED and asset.release_key == ""
        assert keys(s3, "mintmark-quarantine") == [asset.quarantine_key]
        assert not AuditEvent.objects.filter(action="asset.released").exists()
        log = (tmp_path / "worker.log").read_text()
        assert "NoSuchBucket" in log, log[-3000:]
        assert staff.client().get(f"/api/assets/{asset.pk}/file").status_code == 404

        s3.create_bucket(Bucket="mintmark-release")
        assert settled(job_id).state == State.RELEASED

        # Its output becomes a training item of the model (in the S3 datasets bucket the
        # worker reads too): the same request again makes a copy, which is blocked.
        with storages["quarantine"].open(asset.quarantine_key) as handle:
            output = handle.read()
        dataset_item_add(
            dataset=tiny_model.trained_on.get(), actor=None, data=output, licence_key="CC0-1.0"
        )
        blocked = settled(submit(staff, seed=11))
        assert blocked.state == State.BLOCKED, (blocked.state, blocked.error)
        held = settled(submit(staff, seed=900, context="medical"))
        assert held.state == State.IN_REVIEW, (held.state, held.error)

    asset.refresh_from_db()
    assert asset.state == Asset.State.RELEASED
    # Stored once: one object in the release bucket, one release event, one stamp.
    assert keys(s3, "mintmark-release") == [asset.release_key]
    assert AuditEvent.objects.filter(action="asset.released", subject_id=str(asset.pk)).count() == 1
    stamp = Stamp.objects.get(asset=asset)
    stored = s3.get_object(Bucket="mintmark-release", Key=asset.release_key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == stamp.sha256

    download = staff.client().get(f"/api/assets/{asset.pk}/file")
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content) == stored
    # Another org's admin learns nothing of it.
    assert personas["outsider"].client().get(f"/api/assets/{asset.pk}/file").status_code == 404
    # The quarantined original stays private: no URL, and the bucket refuses a plain read.
    with pytest.raises(UrlRefused):
        storages["quarantine"].url(asset.quarantine_key)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(  # noqa: S310 - a local test URL
            f"{s3_endpoint}/mintmark-quarantine/{asset.quarantine_key}", timeout=10
        )
    assert refused.value.code == 403
    # A held image reaches its reviewers only, streamed from the quarantine bucket by the portal.
    held_asset = held.assets.get()
    page = f"/o/{held.org.slug}/review/{held_asset.pk}/image/"
    review = personas["reviewer"].portal().get(page)
    assert review.status_code == 200 and review["Cache-Control"] == "private, no-store"
    quarantined = s3.get_object(Bucket="mintmark-quarantine", Key=held_asset.quarantine_key)
    assert b"".join(review.streaming_content) == quarantined["Body"].read()
    assert staff.portal().get(page).status_code in (403, 404)
    assert personas["outsider"].portal().get(page).status_code == 404

    assert_metrics(scrape(), first_attempts=job.gate_results.filter(gate="memorization").count())


def assert_metrics(samples: dict, first_attempts: int) -> None:
    """What /metrics says after the three jobs above."""
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
    for state in ("QUEUED", "RUNNING", "GATING"):
        assert value(samples, "mintmark_job_state_seconds_count", state=state) == 3, state
        assert value(samples, "mintmark_job_state_seconds_bucket", state=state, le="+Inf") == 3
    assert value(samples, "mintmark_job_state_seconds_sum", state="RUNNING") > 0
    # The first job's gating took several attempts: it spent longest in GATING.
    assert value(samples, "mintmark_job_state_seconds_sum", state="GATING") >= 1

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
    assert recorded[("memorization", "pass")] == first_attempts + 1
    # Every attempt of the first job but its last failed at the object store.
    failures = {
        dict(labels)["reason"]: count
        for (name, labels), count in samples.items()
        if name == "mintmark_release_failures_total"
    }
    assert failures == {"storage": first_attempts - 1}

    # Read from the database and the broker when scraped.
    now_in = {state: value(samples, "mintmark_jobs", state=state) for state in State.values}
    assert (now_in["RELEASED"], now_in["BLOCKED"], now_in["IN_REVIEW"]) == (1, 1, 1)
    assert sum(now_in.values()) == 3
    assert value(samples, "mintmark_review_queue_assets") == 1
    assert value(samples, "mintmark_review_queue_oldest_seconds") > 0
    for queue in ("gpu", "gates"):
        assert ("mintmark_queue_depth", (("queue", queue),)) in samples, queue
