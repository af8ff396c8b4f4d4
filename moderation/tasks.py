from celery import shared_task

from moderation.gating import job_evaluate


@shared_task(name="moderation.evaluate_job", acks_late=True)
def evaluate_job(job_id: str) -> None:
    job_evaluate(job_id=job_id)
