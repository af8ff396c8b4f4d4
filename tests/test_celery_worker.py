import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from mintmark.celery import app

# Worker processes share the broker: these run one after another on one xdist worker.
pytestmark = pytest.mark.xdist_group("broker")

REPO = Path(__file__).resolve().parent.parent


def test_queues_and_delivery_guarantees():
    conf = app.conf
    assert {queue.name for queue in conf.task_queues} == {"gpu", "gates"}
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.result_backend is None


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("generation.run_job", "gpu"),
        ("generation.sweep_stale", "gates"),
        ("moderation.run_gates", "gates"),
        ("provenance.stamp", "gates"),
        ("mintmark.sweep", "gates"),
    ],
)
def test_tasks_are_routed_by_name(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_embedded_default_needs_no_broker_server():
    if "CELERY_BROKER_URL" in os.environ:
        pytest.skip("a broker is configured for this run")
    assert settings.CELERY_BROKER_URL.startswith("filesystem://")
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    assert folder.is_dir() and folder.is_relative_to(settings.DATA_DIR)


@pytest.mark.slow
@pytest.mark.django_db
def test_a_real_worker_answers_on_the_configured_broker(anon):
    env = {**os.environ, "MINTMARK_DATA_DIR": str(settings.DATA_DIR)}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--queues", "gpu,gates", "--concurrency", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        replies = []
        while time.monotonic() < deadline and not replies:
            assert worker.poll() is None, "the worker exited"
            replies = app.control.ping(timeout=1.0)
        assert replies, "no worker answered within 90 s"
        health = anon.get("/api/health").json()
        assert health["workers"]["ok"] is True, health
        assert health["broker"]["ok"] is True and health["database"]["ok"] is True
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
