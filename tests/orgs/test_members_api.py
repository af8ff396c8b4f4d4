"""Members: admins list, add, re-role and remove members; every change is an audit event."""

import json

import pytest
from django.test import Client

from orgs.models import Membership
from tests.mm_api_support import assert_error, events


def _json(client, method, path, body):
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def admin(personas):
    return personas["admin"]


def test_list_shows_the_orgs_members_newest_first(admin, personas):
    body = admin.client().get("/api/members").json()
    assert body["count"] == 4
    emails = [m["email"] for m in body["items"]]
    assert emails == [
        "auditor@acme.test",
        "reviewer@acme.test",
        "staff@acme.test",
        "admin@acme.test",
    ]
    assert "admin@globex.test" not in emails
    roles = {m["email"]: m["role"] for m in body["items"]}
    assert roles["reviewer@acme.test"] == "reviewer"
    page = admin.client().get("/api/members?limit=2&offset=1").json()
    assert page["count"] == 4
    assert [m["email"] for m in page["items"]] == emails[1:3]


def test_add_member_writes_an_audit_event(admin):
    response = _json(
        admin.client(), "post", "/api/members", {"email": "New@Acme.test", "role": "reviewer"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new@acme.test" and body["user"] == "new@acme.test"
    assert body["role"] == "reviewer"
    membership = Membership.objects.get(pk=body["id"])
    assert membership.org == admin.org
    # Without a password the account exists but cannot log in yet.
    assert not membership.user.has_usable_password()
    (event,) = events(admin.org, "member.added")[-1:]
    assert event.actor_id == admin.user.pk
    assert event.subject_id == body["id"]
    assert event.data == {"user": "new@acme.test", "role": "reviewer"}


def test_added_member_with_a_password_can_log_in(admin):
    payload = {"email": "pw@acme.test", "role": "staff", "password": "a-long-passphrase-42"}
    assert _json(admin.client(), "post", "/api/members", payload).status_code == 201
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="pw@acme.test", password="a-long-passphrase-42")
    assert client.get("/api/me").json()["role"] == "staff"


def test_a_user_of_another_org_can_be_added_and_keeps_both(admin, personas):
    response = _json(
        admin.client(), "post", "/api/members", {"email": "admin@globex.test", "role": "auditor"}
    )
    assert response.status_code == 201
    outsider = personas["outsider"]
    assert outsider.client().get("/api/me").json()["org"]["slug"] == "globex"
    acme_view = outsider.client().get("/api/me", HTTP_X_ORG="acme").json()
    assert acme_view["role"] == "auditor"


def test_change_role_writes_an_audit_event(admin, personas):
    staff = personas["staff"].membership
    response = _json(admin.client(), "patch", f"/api/members/{staff.pk}", {"role": "reviewer"})
    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    staff.refresh_from_db()
    assert staff.role == "reviewer"
    (event,) = events(admin.org, "member.role_changed")
    assert event.actor_id == admin.user.pk
    assert event.subject_id == str(staff.pk)
    assert event.data == {"user": "staff@acme.test", "from": "staff", "to": "reviewer"}
    # The new role applies to the member's very next request.
    assert personas["staff"].client().get("/api/members").status_code == 403
    assert personas["staff"].client().get("/api/me").json()["role"] == "reviewer"


def test_setting_the_same_role_is_a_no_op(admin, personas):
    staff = personas["staff"].membership
    response = _json(admin.client(), "patch", f"/api/members/{staff.pk}", {"role": "staff"})
    assert response.status_code == 200
    assert events(admin.org, "member.role_changed") == []


def test_promoted_member_gains_admin_rights(admin, personas):
    auditor = personas["auditor"]
    assert auditor.client().get("/api/members").status_code == 403
    _json(admin.client(), "patch", f"/api/members/{auditor.membership.pk}", {"role": "admin"})
    assert auditor.client().get("/api/members").status_code == 200


def test_remove_member_writes_an_audit_event_and_ends_access(admin, personas):
    reviewer = personas["reviewer"]
    response = admin.client().delete(f"/api/members/{reviewer.membership.pk}")
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=reviewer.membership.pk).exists()
    (event,) = events(admin.org, "member.removed")
    assert event.actor_id == admin.user.pk
    assert event.subject_id == str(reviewer.membership.pk)
    assert event.data == {"user": "reviewer@acme.test", "role": "reviewer"}
    # The account still exists, but it belongs to no org any more.
    assert_error(reviewer.client().get("/api/me"), 403, "no_membership")
    assert_error(admin.client().delete(f"/api/members/{reviewer.membership.pk}"), 404, "not_found")


def test_an_admin_may_step_down_while_another_admin_remains(admin, personas):
    auditor = personas["auditor"].membership
    _json(admin.client(), "patch", f"/api/members/{auditor.pk}", {"role": "admin"})
    response = _json(
        admin.client(), "patch", f"/api/members/{admin.membership.pk}", {"role": "staff"}
    )
    assert response.status_code == 200
    # Now the auditor-turned-admin is the last admin: demoting or removing them is refused.
    new_admin = personas["auditor"].client()
    assert_error(
        _json(new_admin, "patch", f"/api/members/{auditor.pk}", {"role": "staff"}),
        409,
        "last_admin",
    )
    assert_error(new_admin.delete(f"/api/members/{auditor.pk}"), 409, "last_admin")


def test_an_admin_may_remove_themselves_while_another_admin_remains(admin, personas):
    staff = personas["staff"].membership
    _json(admin.client(), "patch", f"/api/members/{staff.pk}", {"role": "admin"})
    assert admin.client().delete(f"/api/members/{admin.membership.pk}").status_code == 204
    assert Membership.objects.filter(org=admin.org, role="admin").count() == 1
