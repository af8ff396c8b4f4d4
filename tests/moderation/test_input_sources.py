"""An image of the organization's that a person had to clear, downloaded after approval and
uploaded again as an edit's base image or an upscale, is held for a person again: otherwise a
low-strength edit or an enlargement would be a way round the review its reasons asked for."""

import pytest
from django.core.files.storage import storages

from generation import worker
from generation.models import Asset, GenerationJob
from generation.submission import JobRequest, job_submit
from generation.transitions import job_transition
from moderation import gating
from moderation.models import Hold, InputCheck
from moderation.review import review_decide
from tests.gating_support import gated_job, keys_make, picture
from tests.portal.review_support import held_job, review_model

State = GenerationJob.State


@pytest.fixture
def model(personas, settings, tmp_path):
    keys_make(settings, tmp_path, personas["admin"].org)
    return review_model(personas["admin"].org, tmp_path)


def released_file(asset: Asset) -> bytes:
    asset.refresh_from_db()
    assert asset.state == Asset.State.RELEASED
    with storages["release"].open(asset.release_key) as handle:
        return handle.read()


def edit(persona, model, data: bytes) -> GenerationJob:
    return job_submit(
        membership=persona.membership,
        req=JobRequest(
            prompt="the same, in autumn colours",
            model=f"{model.name}:{model.version}",
            mode="image-to-image",
            strength=0.25,
            steps=4,
            image=data,
        ),
    )


def test_a_cleared_image_uploaded_again_is_held_again_and_others_are_not(personas, model):
    staff = personas["staff"]
    held = held_job(staff, model).assets.get()
    (reason,) = Hold.objects.get(asset=held).reasons
    review_decide(
        membership=personas["reviewer"].membership,
        asset_id=held.pk,
        decision="approve",
        reason="fine for the brochure",
    )
    gating.job_evaluate(job_id=held.job_id)
    job = edit(staff, model, released_file(held))
    check = InputCheck.objects.get(job=job, verdict=InputCheck.Verdict.REVIEW)
    assert check.reason == f"input image is asset {held.pk}, held for review before: {reason}"
    # Whatever the edit makes is held for a person, with that reason.
    job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="test")
    worker._store(job, 0, job.seeds[0], picture(61, job.width))
    job_transition(job_id=job.pk, to=State.GATING)
    gating.job_evaluate(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == State.IN_REVIEW
    assert Hold.objects.get(asset__job=job).reasons == [check.reason]
    # An image released without review goes through as any upload does.
    plain = gated_job(staff, model, [picture(62, 64)])
    gating.job_evaluate(job_id=plain.pk)
    again = edit(staff, model, released_file(plain.assets.get()))
    assert not again.input_checks.filter(verdict=InputCheck.Verdict.REVIEW).exists()
