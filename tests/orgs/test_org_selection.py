from django.test import Client

from orgs.services import member_add, token_create


def _client(token: str, **headers) -> Client:
    return Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}", **headers)


def test_x_org_chooses_among_the_users_orgs(personas, globex):
    staff = personas["staff"]
    member_add(org=globex, actor=None, email=staff.user.username, role="auditor")
    assert staff.client().get("/api/me").json()["org"]["slug"] == "acme"
    chosen = _client(staff.token, HTTP_X_ORG="globex").get("/api/me").json()
    assert chosen["org"]["slug"] == "globex" and chosen["role"] == "auditor"
    assert sorted(chosen["orgs"]) == ["acme", "globex"]


def test_x_org_naming_an_org_the_user_is_not_in_is_404(personas):
    response = _client(personas["staff"].token, HTTP_X_ORG="globex").get("/api/me")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    unknown = _client(personas["staff"].token, HTTP_X_ORG="no-such-org").get("/api/me")
    assert unknown.status_code == 404


def test_a_deactivated_users_token_stops_working(personas):
    staff = personas["staff"]
    assert staff.client().get("/api/me").status_code == 200
    staff.user.is_active = False
    staff.user.save()
    assert staff.client().get("/api/me").status_code == 401


def test_a_user_without_membership_is_refused(personas):
    staff = personas["staff"]
    membership = staff.membership
    secret = token_create(membership=membership, name="x").secret
    membership.delete()
    response = _client(secret).get("/api/me")
    assert response.status_code == 403
    assert response.json()["error"] == "no_membership"
