from datetime import timedelta

from django.utils import timezone

from generation.models import GenerationJob
from generation.submission import JobRequest, job_submit
from generation.sweep import jobs_requeue_stale
from generation.tasks import run_job
from generation.transitions import job_transition
from tests.mm_api_support import events, make_dataset, make_model

State = GenerationJob.State


def test_a_running_job_without_heartbeat_is_queued_again(
    personas, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    org = personas["admin"].org
    dataset, _ = make_dataset(org)
    make_model(org, tmp_path, name="tiny", datasets=[dataset])

    def running(heartbeat_age: timedelta) -> GenerationJob:
        job = job_submit(
            membership=personas["staff"].membership,
            req=JobRequest(prompt="a cube", model="tiny", width=64, height=64, steps=4),
        )
        job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="lost-task")
        GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - heartbeat_age)
        return job

    lost, alive = running(timedelta(minutes=11)), running(timedelta(seconds=5))
    queued = []
    monkeypatch.setattr(run_job, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_requeue_stale(stale_after=timedelta(minutes=10)) == 1
    lost.refresh_from_db()
    alive.refresh_from_db()
    assert (lost.state, lost.claimed_by) == (State.QUEUED, "")
    assert alive.state == State.RUNNING
    assert queued == [str(lost.pk)]
    (event,) = events(org, "generation.queued")
    assert (
        event.subject_id == str(lost.pk) and event.data["reason"] == "no heartbeat from its worker"
    )


def test_a_verifying_model_whose_task_was_lost_is_verified_again(personas, tmp_path, monkeypatch):
    admin = personas["admin"]
    from generation.models import GenerativeModel
    from generation.services import model_register
    from generation.sweep import models_requeue_stale
    from generation.tasks import verify_model
    from generation.tiny import save_tiny_pipeline

    def registered(name: str, heartbeat_age: timedelta | None) -> GenerativeModel:
        folder = save_tiny_pipeline(tmp_path / name)
        model = model_register(
            org=admin.org,
            actor=admin.user,
            name=name,
            version="1",
            family="sd15",
            local_path=str(folder),
            dataset_ids=[],
        )
        assert model.state == GenerativeModel.State.VERIFYING
        stamp = None if heartbeat_age is None else timezone.now() - heartbeat_age
        GenerativeModel.objects.filter(pk=model.pk).update(
            verify_heartbeat_at=stamp, created_at=timezone.now() - timedelta(hours=1)
        )
        return model

    lost = registered("lost", timedelta(minutes=11))
    older = registered("older", None)
    hashing = registered("hashing", timedelta(seconds=5))
    queued = []
    monkeypatch.setattr(verify_model, "delay", queued.append)
    assert models_requeue_stale(stale_after=timedelta(minutes=10)) == 2
    assert sorted(queued) == sorted([str(lost.pk), str(older.pk)])
    assert str(hashing.pk) not in queued
    # Claimed by that sweep: the next one finds the heartbeat fresh.
    assert models_requeue_stale(stale_after=timedelta(minutes=10)) == 0
