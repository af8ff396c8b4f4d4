import structlog
from celery import shared_task

from webhooks.services import deliveries_requeue, delivery_attempt

log = structlog.get_logger(__name__)


@shared_task(name="webhooks.deliver", acks_late=True)
def deliver(delivery_id: str, attempts: int) -> None:
    """One attempt at a delivery; `attempts` is how many were made before this one."""
    attempt = delivery_attempt(delivery_id=delivery_id, attempts=attempts)
    if attempt is not None:
        log.info(
            "webhook attempt",
            delivery_id=delivery_id,
            attempt=attempt.number,
            status_code=attempt.status_code,
            error=attempt.error,
        )


@shared_task(name="webhooks.deliveries_due", acks_late=True)
def deliveries_due() -> None:
    queued = deliveries_requeue()
    if queued:
        log.info("webhook deliveries queued by the sweep", count=queued)
