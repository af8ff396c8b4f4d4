import structlog
from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from mintmark import metrics
from moderation.gating import GatesIncomplete, gating_give_up, job_evaluate, retry_delay

log = structlog.get_logger(__name__)


@shared_task(name="moderation.evaluate_job", bind=True, acks_late=True, max_retries=None)
def evaluate_job(self, job_id: str) -> None:
    """Gates and stamps a job's assets. Any failure (a gate, stamping, the database) is retried
    with backoff; after MINTMARK_GATE_RETRIES retries the job ends FAILED, nothing released."""
    try:
        job_evaluate(job_id=job_id)
    except Exception as exc:  # noqa: BLE001 - every failure is retried, then fails the job
        attempt = self.request.retries
        # Stamping failures are counted where they arise; a gate that gave no answer is a gate
        # outcome (mintmark_gate_decisions_total), not a release failure.
        if not isinstance(exc, GatesIncomplete):
            metrics.release_failed(reason=failure_reason(exc))
        reason = str(exc) if isinstance(exc, GatesIncomplete) else f"{type(exc).__name__}: {exc}"
        if attempt >= settings.GATE_RETRIES:
            log.error("gates gave up", job_id=job_id, attempts=attempt + 1, reason=reason)
            gating_give_up(
                job_id=job_id,
                reason=f"release gates failed after {attempt + 1} attempts: {reason}",
            )
            return
        log.warning("gates will retry", job_id=job_id, attempt=attempt + 1, reason=reason)
        raise self.retry(countdown=retry_delay(attempt), exc=exc) from None


def failure_reason(exc: Exception) -> str:
    """The metrics' reason for an attempt that raised: the object store, the database, or
    anything else."""
    if isinstance(exc, DatabaseError):
        return "database"
    if isinstance(exc, OSError) or type(exc).__module__.startswith(("botocore", "storages")):
        return "storage"
    return "other"
