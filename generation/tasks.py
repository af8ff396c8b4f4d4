from datetime import timedelta

from celery import shared_task
from django.conf import settings


@shared_task(name="generation.run_job", bind=True, acks_late=True)
def run_job(self, job_id: str) -> None:
    """Thin: the job id in, one service call. A redelivered message (same task id) may take
    back the batch its first delivery had claimed."""
    # Imported here so that queueing a job from the web process does not load torch.
    from generation.worker import job_run

    job_run(job_id=job_id, task_id=self.request.id)


@shared_task(name="generation.sweep_stale", acks_late=True)
def sweep_stale() -> int:
    from generation.sweep import jobs_requeue_stale, models_requeue_stale

    stale_after = timedelta(minutes=settings.STALE_JOB_MINUTES)
    return jobs_requeue_stale(stale_after=stale_after) + models_requeue_stale(
        stale_after=stale_after
    )


@shared_task(name="generation.verify_model", acks_late=True)
def verify_model(model_id: str) -> None:
    """Hashes a newly registered model's weights (queue "gates": slow disk work that needs no
    GPU); a redelivery after a lost worker hashes again from the start."""
    from generation.services import model_verify

    model_verify(model_id=model_id)
