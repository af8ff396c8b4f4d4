"""API tokens: the secret is shown once, only its SHA-256 is kept, revoked tokens stop working."""

import hashlib
import json

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgs import services
from orgs.models import ApiToken
from tests.mm_api_support import HEX64, assert_error, events


def _bearer(secret: str) -> Client:
    return Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def staff(personas):
    return personas["staff"]


def _create(persona, name="laptop"):
    response = persona.client().post(
        "/api/tokens", data=json.dumps({"name": name}), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_secret_is_shown_once_and_only_its_sha256_is_stored(staff):
    created = _create(staff)
    secret = created["token"]
    assert secret.startswith("mm_") and len(secret) > 40
    assert created["prefix"] == secret[:8]
    assert created["name"] == "laptop"
    assert created["last_used_at"] is None and created["revoked_at"] is None

    token = ApiToken.objects.get(pk=created["id"])
    assert token.user == staff.user
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert HEX64.match(token.token_hash)
    stored = [str(getattr(token, f.attname)) for f in ApiToken._meta.concrete_fields]
    assert not any(secret in value for value in stored)

    listed = staff.client().get("/api/tokens").json()
    assert listed["count"] == 2  # the persona's own token and this one
    mine = next(t for t in listed["items"] if t["id"] == created["id"])
    assert "token" not in mine
    assert secret not in json.dumps(listed)

    (event,) = events(staff.org, "token.created")[-1:]
    assert event.actor_id == staff.user.pk
    assert event.subject_id == created["id"]
    assert event.data == {"name": "laptop", "prefix": secret[:8]}
    assert not AuditEvent.objects.filter(data__icontains=secret[8:]).exists()


def test_list_shows_only_the_callers_tokens(staff, personas):
    _create(personas["admin"], "admin's")
    names = [t["name"] for t in staff.client().get("/api/tokens").json()["items"]]
    assert names == ["tests"]


def test_new_token_authenticates_and_records_last_use(staff):
    created = _create(staff)
    token = ApiToken.objects.get(pk=created["id"])
    assert token.last_used_at is None
    assert _bearer(created["token"]).get("/api/me").json()["user"] == "staff@acme.test"
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    # Within a minute a second use does not write again.
    _bearer(created["token"]).get("/api/me")
    token.refresh_from_db()
    assert token.last_used_at == first_use
    listed = staff.client().get("/api/tokens").json()["items"]
    assert next(t for t in listed if t["id"] == created["id"])["last_used_at"] is not None


def test_revoked_token_is_401_and_revocation_is_audited(staff):
    created = _create(staff)
    client = _bearer(created["token"])
    assert client.get("/api/me").status_code == 200
    response = staff.client().delete(f"/api/tokens/{created['id']}")
    assert response.status_code == 204
    assert_error(client.get("/api/me"), 401, "not_authenticated")
    token = ApiToken.objects.get(pk=created["id"])
    assert token.revoked_at is not None
    (event,) = events(staff.org, "token.revoked")
    assert event.actor_id == staff.user.pk
    assert event.subject_id == created["id"]
    assert event.data == {"name": "laptop", "prefix": created["prefix"]}
    listed = staff.client().get("/api/tokens").json()["items"]
    assert next(t for t in listed if t["id"] == created["id"])["revoked_at"] is not None
    # Revoking again changes nothing and records nothing.
    assert staff.client().delete(f"/api/tokens/{created['id']}").status_code == 204
    assert len(events(staff.org, "token.revoked")) == 1


def test_a_token_can_revoke_itself(staff):
    own = ApiToken.objects.get(user=staff.user)
    assert staff.client().delete(f"/api/tokens/{own.pk}").status_code == 204
    assert_error(staff.client().get("/api/tokens"), 401, "not_authenticated")


def test_another_users_token_is_404_and_keeps_working(staff, personas):
    admin_token = ApiToken.objects.get(user=personas["admin"].user)
    assert_error(staff.client().delete(f"/api/tokens/{admin_token.pk}"), 404, "not_found")
    assert personas["admin"].client().get("/api/me").status_code == 200
    assert events(staff.org, "token.revoked") == []


def test_token_name_must_not_be_blank(staff):
    for name in ("", "   ", "x" * 101):
        response = staff.client().post(
            "/api/tokens", data=json.dumps({"name": name}), content_type="application/json"
        )
        assert_error(response, 422)
    assert ApiToken.objects.filter(user=staff.user).count() == 1


def test_a_user_holds_at_most_max_active_tokens(staff, monkeypatch):
    monkeypatch.setattr(services, "MAX_ACTIVE_TOKENS", 3)
    for number in (2, 3):  # the fixture's token is the first
        _create(staff, name=f"device {number}")
    response = staff.client().post(
        "/api/tokens", data=json.dumps({"name": "one more"}), content_type="application/json"
    )
    body = assert_error(response, 409, "too_many_tokens")
    assert "revoke one first" in body["detail"]
    assert ApiToken.objects.filter(user=staff.user, revoked_at=None).count() == 3
    # A revoked token does not count.
    device = ApiToken.objects.get(user=staff.user, name="device 3")
    services.token_revoke(membership=staff.membership, token=device)
    assert _create(staff, name="one more")
