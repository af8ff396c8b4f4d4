from webhooks.services import delivery_record


def job_ended(sender, *, job, previous, reason, **kwargs):
    delivery_record(job=job, previous=previous, reason=reason)
