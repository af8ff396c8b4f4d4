"""Re-queues work whose worker vanished without its message coming back (a worker host lost,
a broker that drops unacknowledged messages): a RUNNING job whose heartbeat is older than the
threshold goes back to QUEUED and gets a new task, and a model still VERIFYING whose hashing
has not reported for as long gets a new verification task. Heartbeats are written with
progress, at most a few times a second while a job runs or a folder is hashed."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from generation.models import GenerationJob, GenerativeModel
from generation.tasks import run_job, verify_model
from generation.transitions import job_transition

State = GenerationJob.State


def jobs_requeue_stale(*, stale_after: timedelta) -> int:
    cutoff = timezone.now() - stale_after
    stale = GenerationJob.objects.filter(state=State.RUNNING, heartbeat_at__lt=cutoff)
    requeued = 0
    for job_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            moved = job_transition(
                job_id=job_id,
                to=State.QUEUED,
                reason="no heartbeat from its worker",
                data={"stale_after_s": int(stale_after.total_seconds())},
            )
            if moved is not None:
                requeued += 1
                transaction.on_commit(lambda job_id=job_id: run_job.delay(str(job_id)))
    return requeued


def models_requeue_stale(*, stale_after: timedelta) -> int:
    cutoff = timezone.now() - stale_after
    # Registered before heartbeats existed: the registration time stands in.
    silent = Q(verify_heartbeat_at__lt=cutoff) | Q(verify_heartbeat_at=None, created_at__lt=cutoff)
    stale = GenerativeModel.objects.filter(silent, state=GenerativeModel.State.VERIFYING)
    requeued = 0
    for model_id in stale.values_list("pk", flat=True):
        # The conditional update claims the model for this sweep: a second sweep running at the
        # same moment finds the heartbeat fresh and queues nothing.
        claimed = GenerativeModel.objects.filter(
            silent, pk=model_id, state=GenerativeModel.State.VERIFYING
        ).update(verify_heartbeat_at=timezone.now())
        if claimed:
            requeued += 1
            verify_model.delay(str(model_id))
    return requeued
