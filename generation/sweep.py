"""Re-queues jobs whose worker vanished without its message coming back (a worker host lost,
a broker that drops unacknowledged messages): a RUNNING job whose heartbeat is older than the
threshold goes back to QUEUED and gets a new task. Heartbeats are written with progress, at
most a few times a second while a job runs."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from generation.models import GenerationJob
from generation.tasks import run_job
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
