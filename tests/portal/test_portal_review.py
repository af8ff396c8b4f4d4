"""The reviewer's pages: the queue of held images with why each is held, the held image, and
approve/reject with a reason, with and without htmx; every refusal in words."""

import functools

import pytest

from generation.models import Asset, GenerationJob
from generation.transitions import job_transition
from moderation import gating
from moderation.models import Review
from orgs.services import member_role_update
from portal import paging
from tests.conftest import make_persona
from tests.gating_support import keys_make
from tests.portal.review_support import held_job, review_model

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def model(personas, tmp_path):
    return review_model(personas["admin"].org, tmp_path)


@pytest.fixture
def held(personas, model, settings, tmp_path):
    keys_make(settings, tmp_path, personas["admin"].org)
    job = held_job(personas["staff"], model, negative_prompt="blurry")
    return job.assets.get()


def decide_url(asset) -> str:
    return f"/o/acme/review/{asset.pk}/decide/"


def test_queue_shows_the_held_image_and_why(personas, held):
    client = personas["reviewer"].portal()
    page = client.get("/o/acme/review/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-asset="{held.pk}"' in html
    assert "a landscape with shapes" in html and "blurry" in html
    assert "tiny:1" in html
    assert "the deployment context &#x27;legal&#x27; requires human review" in html
    for gate in ("prompt", "image_safety", "memorization"):
        assert f'<th scope="row">{gate} ' in html
    image_url = f"/o/acme/review/{held.pk}/image/"
    assert f'src="{image_url}"' in html
    image = client.get(image_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["Cache-Control"] == "private, no-store"
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")


def test_approve_without_js_then_the_release_task_releases_it(personas, held):
    client = personas["reviewer"].portal()
    response = client.post(decide_url(held), {"decision": "approve", "reason": "a contract scan"})
    assert response.status_code == 302 and response["Location"] == "/o/acme/review/"
    page = client.get("/o/acme/review/").content.decode()
    assert "Approved: the image goes on to stamping and release. Reason: a contract scan" in page
    assert 'data-testid="review-empty"' in page
    review = Review.objects.get(asset=held)
    assert (review.decision, review.reviewer) == ("approve", personas["reviewer"].user)
    gating.job_evaluate(job_id=held.job_id)  # the gates task the approval queued
    held.refresh_from_db()
    assert held.state == Asset.State.RELEASED


def test_htmx_decision_replaces_the_item_with_the_outcome(personas, held):
    response = (
        personas["reviewer"]
        .portal()
        .post(decide_url(held), {"decision": "reject", "reason": "misleading"}, **HTMX)
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="review-outcome"' in html and 'data-decision="reject"' in html
    assert "misleading" in html and "<html" not in html
    held.refresh_from_db()
    assert held.state == Asset.State.REJECTED


def test_a_decision_needs_a_reason(personas, held):
    client = personas["reviewer"].portal()
    page = client.post(decide_url(held), {"decision": "approve", "reason": "  "})
    assert page.status_code == 422
    html = page.content.decode()
    assert 'role="alert"' in html and "A review needs a reason." in html
    assert 'aria-invalid="true"' in html
    fragment = client.post(decide_url(held), {"decision": "approve", "reason": ""}, **HTMX)
    assert fragment.status_code == 200
    assert b"A review needs a reason." in fragment.content
    assert f'id="review-{held.pk}"'.encode() in fragment.content  # the form stays
    odd = client.post(decide_url(held), {"decision": "maybe", "reason": "hm"})
    assert odd.status_code == 422 and b"decision must be" in odd.content
    assert not Review.objects.exists()


def test_a_second_decision_is_refused_in_words(personas, held):
    client = personas["reviewer"].portal()
    client.post(decide_url(held), {"decision": "reject", "reason": "off-brand"})
    again = client.post(decide_url(held), {"decision": "approve", "reason": "changed my mind"})
    assert again.status_code == 409
    assert b"Already rejected by reviewer@acme.test at " in again.content
    assert b"the asset is REJECTED." in again.content and b'role="alert"' in again.content
    fragment = client.post(decide_url(held), {"decision": "approve", "reason": "again"}, **HTMX)
    assert fragment.status_code == 200 and b'data-testid="review-refused"' in fragment.content
    assert Review.objects.get(asset=held).decision == "reject"


def test_held_images_of_an_ended_job_are_refused(personas, held):
    job_transition(job_id=held.job_id, to=GenerationJob.State.CANCELLED)
    client = personas["reviewer"].portal()
    assert f"review-{held.pk}" not in client.get("/o/acme/review/").content.decode()
    response = client.post(decide_url(held), {"decision": "approve", "reason": "fine"})
    assert response.status_code == 409 and b"The job already ended" in response.content


def test_own_jobs_are_not_in_the_queue_and_cannot_be_decided(personas, held):
    # The staff member who submitted the job became a reviewer afterwards.
    staff = personas["staff"]
    member_role_update(membership=staff.membership, actor=None, role="reviewer")
    client = staff.portal()
    page = client.get("/o/acme/review/")
    assert page.status_code == 200 and b'data-testid="review-empty"' in page.content
    assert client.get(f"/o/acme/review/{held.pk}/image/").status_code == 404
    refused = client.post(decide_url(held), {"decision": "approve", "reason": "looks fine"})
    assert refused.status_code == 403
    assert b"You cannot review an image from a job you submitted." in refused.content
    assert not Review.objects.exists()
    # Another reviewer still has it.
    assert str(held.pk) in personas["reviewer"].portal().get("/o/acme/review/").content.decode()


def test_other_roles_get_403_and_other_orgs_404(personas, held, globex):
    for role in ("staff", "auditor", "admin"):
        client = personas[role].portal()
        assert client.get("/o/acme/review/").status_code == 403, role
        assert client.get(f"/o/acme/review/{held.pk}/image/").status_code == 403, role
        refused = client.post(decide_url(held), {"decision": "approve", "reason": "x"})
        assert refused.status_code == 403, role
    stranger = make_persona(globex, "reviewer", "reviewer@globex.test").portal()
    assert stranger.get("/o/acme/review/").status_code == 404
    # In their own org the asset does not exist either.
    assert stranger.get(f"/o/globex/review/{held.pk}/image/").status_code == 404
    post = stranger.post(
        f"/o/globex/review/{held.pk}/decide/", {"decision": "approve", "reason": "x"}
    )
    assert post.status_code == 404
    assert not Review.objects.exists()


def test_decide_is_post_only(personas, held):
    assert personas["reviewer"].portal().get(decide_url(held)).status_code == 405


def test_the_queue_pages(personas, model, settings, tmp_path, monkeypatch):
    keys_make(settings, tmp_path, personas["admin"].org)
    job = held_job(personas["staff"], model, seeds=(91, 92), num_images=2)
    monkeypatch.setattr("portal.review.page_of", functools.partial(paging.page_of, per_page=1))
    first, second = job.assets.order_by("created_at", "index")
    client = personas["reviewer"].portal()
    page_one = client.get("/o/acme/review/").content.decode()
    assert (
        "Page 1 of 2" in page_one and str(first.pk) in page_one and str(second.pk) not in page_one
    )
    page_two = client.get("/o/acme/review/?page=2").content.decode()
    assert str(second.pk) in page_two
    assert client.get("/o/acme/review/?page=x").status_code == 200
