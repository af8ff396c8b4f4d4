"""Deciding what leaves quarantine. No release gate is installed yet (prompt, image safety,
memorization and provenance stamping are later work), so nothing is released: a job waits in
GATING with its assets QUARANTINED, and the audit log says why. Fail closed."""

import structlog
from django.db import transaction

from audit.services import audit_append
from generation.models import GenerationJob

log = structlog.get_logger(__name__)


def job_evaluate(*, job_id) -> None:
    job = GenerationJob.objects.select_related("org").filter(pk=job_id).first()
    if job is None:
        log.warning("job vanished before gating", job_id=str(job_id))
        return
    if job.state != GenerationJob.State.GATING:
        return
    with transaction.atomic():
        audit_append(
            org=job.org,
            actor=None,
            action="gates.held",
            subject=job,
            data={
                "reason": "no release gates are installed; assets stay quarantined",
                "assets": [str(pk) for pk in job.assets.values_list("pk", flat=True)],
            },
        )
