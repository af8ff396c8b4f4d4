import structlog
from django.db import transaction

from webhooks.events import EVENT_TYPES
from webhooks.services import delivery_record

log = structlog.get_logger(__name__)


def job_ended(sender, *, job, previous, reason, **kwargs):
    if not job.callback_url or job.state not in EVENT_TYPES:
        return
    # A notification must never undo the state change it reports: a failure here rolls back
    # to this savepoint only, and the job moves on without its event (logged).
    try:
        with transaction.atomic():
            delivery_record(job=job, previous=previous, reason=reason)
    except Exception:
        log.exception("webhook event not recorded", job_id=str(job.pk), state=job.state)
