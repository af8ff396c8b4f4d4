"""Held images for the reviewer and auditor page tests: a job of the staff persona gated in
this process under a deployment context that the default policy sends to review."""

from moderation import gating
from tests.gating_support import gated_job, picture
from tests.mm_api_support import make_dataset, make_model


def review_model(org, root):
    dataset, _ = make_dataset(org)
    return make_model(org, root, datasets=[dataset])


def held_job(persona, model, seeds=(90,), **fields):
    job = gated_job(persona, model, [picture(seed) for seed in seeds], context="legal", **fields)
    gating.job_evaluate(job_id=job.pk)
    return job
