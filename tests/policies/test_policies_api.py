"""Policies: every change is a new version that becomes active; old versions never change."""

import json

import pytest

from policies.models import Policy
from policies.rules import MANDATORY_CATEGORY, PROMPT_CATEGORIES, default_rules
from tests.mm_api_support import assert_error, events


def _post(persona, rules, note=""):
    return persona.client().post(
        "/api/policies",
        data=json.dumps({"rules": rules, "note": note}),
        content_type="application/json",
    )


@pytest.fixture
def admin(personas):
    return personas["admin"]


def test_every_org_starts_with_the_defaults_which_block_sexual_minors(personas):
    for persona in (personas["staff"], personas["outsider"]):
        body = persona.client().get("/api/policies").json()
        assert body["count"] == 1
        (policy,) = body["items"]
        assert policy["version"] == 1 and policy["active"] is True
        assert policy["rules"] == default_rules()
        assert MANDATORY_CATEGORY in policy["rules"]["prompt"]["blocked_categories"]
    assert MANDATORY_CATEGORY in default_rules()["prompt"]["blocked_categories"]


def test_post_makes_a_new_active_version(admin, personas):
    v1 = admin.client().get("/api/policies/1").json()
    response = _post(admin, {"max_steps": 20, "commercial_use": False}, note="fewer steps")
    assert response.status_code == 201, response.content
    v2 = response.json()
    assert v2["version"] == 2 and v2["active"] is True
    assert v2["note"] == "fewer steps"
    assert v2["created_by"] == "admin@acme.test"
    # Stored in full: what was not given is the default, and sexual_minors stays blocked.
    assert v2["rules"] == {**default_rules(), "max_steps": 20, "commercial_use": False}
    assert MANDATORY_CATEGORY in v2["rules"]["prompt"]["blocked_categories"]

    listed = personas["staff"].client().get("/api/policies").json()
    assert [(p["version"], p["active"]) for p in listed["items"]] == [(2, True), (1, False)]
    # The old version is unchanged, only no longer active.
    old = personas["staff"].client().get("/api/policies/1").json()
    assert old == {**v1, "active": False}
    assert personas["staff"].client().get("/api/me").json()["quota"]["policy_version"] == 2

    (event,) = events(admin.org, "policy.created")[-1:]
    assert event.actor_id == admin.user.pk
    assert event.subject_id == v2["id"]
    assert event.data["version"] == 2 and event.data["note"] == "fewer steps"
    assert event.data["rules"] == v2["rules"]


def test_versions_count_up_and_each_stays_readable(admin):
    for steps in (10, 20, 30):
        assert _post(admin, {"max_steps": steps}).status_code == 201
    client = admin.client()
    assert [
        client.get(f"/api/policies/{v}").json()["rules"]["max_steps"] for v in (1, 2, 3, 4)
    ] == [
        50,
        10,
        20,
        30,
    ]
    assert [client.get(f"/api/policies/{v}").json()["active"] for v in (1, 2, 3, 4)] == [
        False,
        False,
        False,
        True,
    ]
    assert_error(client.get("/api/policies/5"), 404, "not_found")
    assert Policy.objects.for_org(admin.org).count() == 4


def test_categories_are_normalised_and_sexual_minors_cannot_be_dropped(admin):
    rules = {"prompt": {"blocked_categories": ["hate", MANDATORY_CATEGORY, "hate"]}}
    body = _post(admin, rules).json()
    assert body["rules"]["prompt"]["blocked_categories"] == [MANDATORY_CATEGORY, "hate"]
    refused = _post(admin, {"prompt": {"blocked_categories": list(PROMPT_CATEGORIES[1:])}})
    assert_error(refused, 422, "invalid_policy")
    assert MANDATORY_CATEGORY in refused.json()["detail"]
    assert Policy.objects.for_org(admin.org).count() == 2


def test_terms_are_trimmed_deduplicated_and_sorted(admin):
    rules = {"prompt": {"blocked_terms": [" zeta", "alpha ", "zeta"], "protected_names": ["Ada"]}}
    body = _post(admin, rules).json()
    assert body["rules"]["prompt"]["blocked_terms"] == ["alpha", "zeta"]
    assert body["rules"]["prompt"]["protected_names"] == ["Ada"]


def test_versions_are_per_org(admin, personas):
    _post(admin, {"max_steps": 12})
    outsider = personas["outsider"].client()
    assert outsider.get("/api/policies").json()["count"] == 1
    assert_error(outsider.get("/api/policies/2"), 404, "not_found")
    assert outsider.get("/api/policies/1").json()["rules"]["max_steps"] == 50
    # And globex's next version is its own 2, not acme's 3.
    assert _post(personas["outsider"], {"max_steps": 7}).json()["version"] == 2
