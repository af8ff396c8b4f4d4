"""Review rules (four-eyes, reasons, other org) and abuse monitoring (suspension, alert, lift)."""

import pytest

from generation.models import Asset, GenerationJob
from moderation import gating
from moderation.models import Review, Suspension
from orgs.services import member_role_update
from policies.services import policy_create
from tests.gating_support import gated_job, keys_make, picture
from tests.mm_api_support import assert_error, events, make_dataset, make_model


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org)
    return make_model(personas["admin"].org, tmp_path, datasets=[dataset])


@pytest.fixture
def held(personas, model, settings, tmp_path):
    keys_make(settings, tmp_path, personas["admin"].org)
    job = gated_job(personas["staff"], model, [picture(90)], context="legal")
    gating.job_evaluate(job_id=job.pk)
    return job.assets.get()


def post_review(persona, asset, **body):
    return persona.client().post(f"/api/reviews/{asset.pk}", body, content_type="application/json")


def test_reason_is_required(personas, held):
    for reason in ("", "   "):
        assert_error(
            post_review(personas["reviewer"], held, decision="approve", reason=reason),
            422,
            "reason_required",
        )
    assert_error(
        post_review(personas["reviewer"], held, decision="maybe", reason="x"),
        422,
        "invalid_decision",
    )
    assert not Review.objects.exists()


def test_four_eyes_a_reviewer_never_decides_on_their_own_job(personas, held):
    # The staff member who submitted the job became a reviewer afterwards.
    staff = personas["staff"]
    member_role_update(membership=staff.membership, actor=None, role="reviewer")
    staff.membership.refresh_from_db()
    body = staff.client().get("/api/reviews").json()
    assert body["count"] == 0
    assert_error(post_review(staff, held, decision="approve", reason="looks fine"), 403, "own_job")
    held.refresh_from_db()
    assert held.state == Asset.State.IN_REVIEW and not Review.objects.exists()


def test_other_orgs_reviewer_gets_404(personas, held, globex):
    from tests.conftest import make_persona

    stranger = make_persona(globex, "reviewer", "reviewer@globex.test")
    assert_error(post_review(stranger, held, decision="approve", reason="ok"), 404, "not_found")
    assert_error(stranger.client().get(f"/api/reviews/{held.pk}/image"), 404, "not_found")
    assert stranger.client().get("/api/reviews").json()["count"] == 0


def test_a_decision_is_final(personas, held):
    reviewer = personas["reviewer"]
    assert post_review(reviewer, held, decision="reject", reason="off-brand").status_code == 200
    assert_error(
        post_review(reviewer, held, decision="approve", reason="changed my mind"),
        409,
        "not_in_review",
    )
    held.refresh_from_db()
    assert held.state == Asset.State.REJECTED
    assert held.job.state == GenerationJob.State.REJECTED


def test_the_held_image_is_served_to_reviewers_only(personas, held):
    response = personas["reviewer"].client().get(f"/api/reviews/{held.pk}/image")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    assert_error(personas["staff"].client().get(f"/api/assets/{held.pk}/file"), 404)


def blocked_prompt(persona):
    return persona.client().post(
        "/api/generations",
        {"prompt": "a nude photo of a child", "model": "tiny", "width": 64, "height": 64},
        content_type="application/json",
    )


def test_repeated_blocked_prompts_suspend_the_user_until_an_admin_lifts_it(personas, model):
    org = personas["admin"].org
    rules = org.policies.order_by("-version").first().rules
    rules["abuse"] = {"max_blocked": 3, "window_hours": 1}
    policy_create(org=org, actor=None, rules=rules)
    staff = personas["staff"]
    for _ in range(3):
        body = assert_error(blocked_prompt(staff), 422, "prompt_blocked")
        assert body["category"] == "sexual_minors"
    assert "suspended" in body["detail"]
    ok = {"prompt": "a red cube", "model": "tiny", "width": 64, "height": 64}
    refused = staff.client().post("/api/generations", ok, content_type="application/json")
    assert_error(refused, 403, "user_suspended")
    alerts = personas["admin"].client().get("/api/abuse/alerts").json()
    assert alerts["count"] == 1
    alert = alerts["items"][0]
    assert alert["user"] == staff.user.username and alert["counts"]["prompt_blocked"] == 3
    assert len(events(org, "abuse.suspended")) == 1
    assert len(events(org, "prompt.blocked")) == 3
    admin = personas["admin"].client()
    lift = f"/api/abuse/alerts/{alert['id']}/lift"
    assert_error(admin.post(lift, {"reason": " "}, content_type="application/json"), 422)
    response = admin.post(lift, {"reason": "a test account"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["lifted_by"] == "admin@acme.test"
    assert_error(admin.post(lift, {"reason": "again"}, content_type="application/json"), 409)
    accepted = staff.client().post("/api/generations", ok, content_type="application/json")
    assert accepted.status_code == 202
    assert Suspension.objects.get().lifted_at is not None


def test_suspension_is_off_when_policy_says_zero(personas, model):
    org = personas["admin"].org
    rules = org.policies.order_by("-version").first().rules
    rules["abuse"] = {"max_blocked": 0, "window_hours": 1}
    policy_create(org=org, actor=None, rules=rules)
    for _ in range(4):
        assert_error(blocked_prompt(personas["staff"]), 422, "prompt_blocked")
    assert not Suspension.objects.exists()


def test_held_images_of_an_ended_job_leave_the_queue(personas, held):
    from generation.transitions import job_transition

    job_transition(job_id=held.job_id, to=GenerationJob.State.CANCELLED)
    assert personas["reviewer"].client().get("/api/reviews").json()["count"] == 0
    response = post_review(personas["reviewer"], held, decision="approve", reason="fine")
    assert_error(response, 409, "job_ended")


def test_a_lift_resets_the_count(personas, model):
    org = personas["admin"].org
    rules = org.policies.order_by("-version").first().rules
    rules["abuse"] = {"max_blocked": 2, "window_hours": 24}
    policy_create(org=org, actor=None, rules=rules)
    staff = personas["staff"]
    for _ in range(2):
        assert_error(blocked_prompt(staff), 422, "prompt_blocked")
    suspension = Suspension.objects.get()
    personas["admin"].client().post(
        f"/api/abuse/alerts/{suspension.pk}/lift", {"reason": "ok"}, content_type="application/json"
    )
    assert_error(blocked_prompt(staff), 422, "prompt_blocked")
    assert Suspension.objects.filter(lifted_at__isnull=True).count() == 0
    assert_error(blocked_prompt(staff), 422, "prompt_blocked")
    assert Suspension.objects.filter(lifted_at__isnull=True).count() == 1
