"""The hand-off from generation to the release gates: the one function the GPU worker calls."""

from django.db import transaction


def gates_submit(*, job) -> None:
    """Queues the job's quarantined assets for the gates (CPU queue) once committed."""
    from moderation.tasks import evaluate_job

    transaction.on_commit(lambda: evaluate_job.delay(str(job.pk)))
