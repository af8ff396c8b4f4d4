"""SSO settings (API, admin site), their refusals, password login per org, the client secret
from the environment, and which existing accounts an org's provider may sign in as."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import SuspiciousOperation
from django.test import Client

from audit.models import AuditEvent
from orgs.models import Membership
from sso.config import sso_config_update
from sso.login import sso_login
from sso.oidc import SsoBackend
from sso.secrets import client_secret
from tests.conftest import PASSWORD
from tests.sso.conftest import ROLE_GROUPS

ISSUER = "https://idp.acme.example"


def patch(persona, body):
    return persona.client().patch("/api/sso", json.dumps(body), content_type="application/json")


def enable(org, **extra):
    return sso_config_update(
        org=org,
        actor=None,
        enabled=True,
        issuer=ISSUER,
        client_id="mintmark",
        role_groups=ROLE_GROUPS,
        **extra,
    )


def test_admins_read_and_change_sso_settings_and_each_change_is_audited(personas, monkeypatch):
    admin = personas["admin"]
    start = admin.client().get("/api/sso").json()
    assert start["enabled"] is False and start["password_login"] is True
    assert start["client_secret_variable"] == "MINTMARK_SSO_CLIENT_SECRET_ACME"
    assert start["client_secret_configured"] is False

    body = {"enabled": True, "issuer": ISSUER, "client_id": "mintmark", "role_groups": ROLE_GROUPS}
    response = patch(admin, body)
    assert response.status_code == 200, response.content
    assert response.json()["role_groups"] == ROLE_GROUPS
    event = AuditEvent.objects.filter(org=admin.org, action="sso.config_changed").get()
    assert event.data["issuer"] == {"from": "", "to": ISSUER}
    assert event.actor_label == admin.user.username

    monkeypatch.setenv("MINTMARK_SSO_CLIENT_SECRET_ACME", "from-the-environment")
    after = patch(admin, {"password_login": False}).json()
    assert after["password_login"] is False and after["client_secret_configured"] is True
    assert "from-the-environment" not in json.dumps(after)
    assert AuditEvent.objects.filter(org=admin.org, action="sso.config_changed").count() == 2
    # The other org is untouched.
    assert personas["outsider"].client().get("/api/sso").json()["enabled"] is False


@pytest.mark.parametrize("role", ["staff", "reviewer", "auditor"])
def test_only_admins_see_or_change_sso(personas, role):
    client = personas[role].client()
    assert client.get("/api/sso").status_code == 403
    assert patch(personas[role], {"enabled": False}).json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"issuer": "http://idp.acme.example"}, "invalid_issuer"),
        ({"issuer": "https://idp.acme.example/?x=1"}, "invalid_issuer"),
        ({"issuer": "idp.acme.example"}, "invalid_issuer"),
        ({"scopes": "email groups"}, "invalid_scopes"),
        ({"groups_claim": "a claim"}, "invalid_groups_claim"),
        ({"enabled": True}, "sso_incomplete"),
        ({"enabled": True, "issuer": ISSUER, "client_id": "c"}, "sso_incomplete"),
        ({"password_login": False}, "password_login_needs_sso"),
        ({"role_groups": {"owner": ["x"]}}, "invalid_request"),
        ({"role_groups": {"admin": [""]}}, "invalid_role_groups"),
        ({"enabled": "maybe"}, "invalid_request"),
    ],
)
def test_bad_sso_settings_are_422_with_the_reason(personas, body, code):
    response = patch(personas["admin"], body)
    assert response.status_code == 422, response.content
    assert response.json()["error"] == code and response.json()["detail"]
    assert not AuditEvent.objects.filter(action="sso.config_changed").exists()


def test_http_issuer_only_when_the_operator_allows_it(personas, settings):
    settings.SSO_ALLOW_HTTP_ISSUER = True
    response = patch(personas["admin"], {"issuer": "http://127.0.0.1:9999"})
    assert response.status_code == 200


def test_the_client_secret_comes_from_the_environment_or_a_file(monkeypatch, tmp_path, settings):
    assert client_secret("acme-studio") is None
    settings.SSO_SECRETS_DIR = str(tmp_path / "sso")
    (tmp_path / "sso").mkdir()
    (tmp_path / "sso" / "acme-studio").write_text("in-the-folder\n")
    assert client_secret("acme-studio") == "in-the-folder"
    monkeypatch.setenv("MINTMARK_SSO_CLIENT_SECRET_ACME_STUDIO", "in-env")
    assert client_secret("acme-studio") == "in-env"
    monkeypatch.delenv("MINTMARK_SSO_CLIENT_SECRET_ACME_STUDIO")
    (tmp_path / "secret").write_text("in-a-file\n")
    monkeypatch.setenv("MINTMARK_SSO_CLIENT_SECRET_ACME_STUDIO_FILE", str(tmp_path / "secret"))
    assert client_secret("acme-studio") == "in-a-file"
    assert client_secret("globex") is None


def test_sso_login_start_refuses_unknown_orgs_and_a_missing_secret(personas, anon):
    response = anon.get("/sso/login/?org=nowhere")
    assert response.status_code == 404
    assert b"No organization" in response.content
    enable(personas["admin"].org)
    response = anon.get("/sso/login/?org=acme")
    assert response.status_code == 503
    assert b"has not set its client secret" in response.content
    assert b"MINTMARK_SSO" not in response.content


def test_password_login_off_refuses_the_orgs_members_everywhere(personas):
    org = personas["admin"].org
    enable(org, password_login=False)
    client = Client(HTTP_HOST="localhost")
    response = client.post("/login/", {"username": "staff@acme.test", "password": PASSWORD})
    assert response.status_code == 200
    assert b"signs in through its identity provider only" in response.content
    assert client.get("/o/acme/").status_code == 302
    refused = AuditEvent.objects.filter(org=org, action="sso.password_login_refused").get()
    assert refused.data == {"user": "staff@acme.test"}
    # The admin site's login asks the same backend.
    assert authenticate(username="admin@acme.test", password=PASSWORD) is None
    # A wrong password is still just a wrong password, and other orgs are not affected.
    response = client.post("/login/", {"username": "staff@acme.test", "password": "nope-nope"})
    assert b"didn" in response.content and b"identity provider" not in response.content
    response = client.post("/login/", {"username": "admin@globex.test", "password": PASSWORD})
    assert response.status_code == 302
    # Password login back on: the member logs in again.
    sso_config_update(org=org, actor=None, password_login=True)
    assert authenticate(username="staff@acme.test", password=PASSWORD) is not None


def test_an_orgs_provider_cannot_sign_in_as_another_orgs_member_or_an_operator(personas):
    org = personas["admin"].org
    config = enable(org)
    outsider = sso_login(
        config=config,
        claims={"sub": "x1", "email": "admin@globex.test", "groups": ["mm-admins"]},
    )
    assert outsider.user is None and "another organization" in outsider.refusal
    get_user_model().objects.create_superuser("root@acme.test", "root@acme.test", "pw-x-12345")
    operator = sso_login(
        config=config, claims={"sub": "x2", "email": "root@acme.test", "groups": ["mm-admins"]}
    )
    assert operator.user is None and "operator" in operator.refusal
    assert not Membership.objects.filter(org=org, user__username="root@acme.test").exists()
    reasons = AuditEvent.objects.filter(org=org, action="sso.login_refused")
    assert [event.data["reason"] for event in reasons] == ["account_conflict"] * 2
    # An existing member of this org alone is linked by email, keeping the account.
    staff = sso_login(
        config=config,
        claims={"sub": "s1", "email": "STAFF@acme.test", "groups": ["mm-auditors", "mm-staff"]},
    )
    assert staff.user == personas["staff"].user and staff.role == "staff"


def test_operators_configure_sso_in_the_admin_site_with_the_same_checks(personas):
    operator = get_user_model().objects.create_superuser("operator", "op@x.test", "pw-operator-1")
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator)
    org = personas["admin"].org
    form = {
        "org": str(org.pk),
        "enabled": "on",
        "issuer": "ftp://idp.acme.example",
        "client_id": "mintmark",
        "scopes": "openid email groups",
        "groups_claim": "groups",
        "role_groups": json.dumps(ROLE_GROUPS),
        "password_login": "on",
    }
    response = client.post("/admin/sso/orgsso/add/", form)
    assert response.status_code == 200 and b"issuer must be an https" in response.content
    response = client.post("/admin/sso/orgsso/add/", {**form, "issuer": ISSUER})
    assert response.status_code == 302
    event = AuditEvent.objects.filter(org=org, action="sso.config_changed").get()
    assert event.actor_label == "operator" and event.data["enabled"] == {"from": False, "to": True}
    for changelist in ("/admin/sso/orgsso/", "/admin/sso/ssoidentity/"):
        assert client.get(changelist).status_code == 200
    assert (
        b"MINTMARK_SSO_CLIENT_SECRET_ACME"
        in client.get(f"/admin/sso/orgsso/{org.sso.pk}/change/").content
    )


def test_admins_set_sso_in_the_portal_with_the_refusals_at_their_fields(personas):
    admin = personas["admin"].portal()
    page = admin.get("/o/acme/manage/sso/")
    assert page.status_code == 200
    assert b"http://localhost/sso/callback/" in page.content
    assert b"MINTMARK_SSO_CLIENT_SECRET_ACME" in page.content
    form = {
        "enabled": "on",
        "issuer": "http://idp.acme.example",
        "client_id": "mintmark",
        "scopes": "openid email groups",
        "groups_claim": "groups",
        "groups_admin": "mm-admins",
        "groups_staff": "designers, illustrators",
    }
    refused = admin.post("/o/acme/manage/sso/", form)
    assert refused.status_code == 422
    assert b'id="issuer-error"' in refused.content and b"https://" in refused.content
    assert b'value="designers, illustrators"' in refused.content
    saved = admin.post("/o/acme/manage/sso/", {**form, "issuer": ISSUER})
    assert saved.status_code == 302
    config = personas["admin"].org.sso
    assert config.enabled and not config.password_login
    assert config.role_groups["staff"] == ["designers", "illustrators"]
    event = AuditEvent.objects.filter(action="sso.config_changed").get()
    assert event.actor_label == "admin@acme.test"
    # Password login is off now: sessions opened with a password (these test sessions are)
    # are refused from their next request, the admin's own included.
    assert admin.get("/o/acme/manage/sso/").status_code == 302


def test_only_admins_have_the_portals_sso_page(personas):
    assert personas["staff"].portal().get("/o/acme/manage/sso/").status_code == 403
    assert personas["outsider"].portal().get("/o/acme/manage/sso/").status_code == 404


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"iss": ISSUER, "aud": "mintmark"}, True),
        ({"iss": ISSUER, "aud": ["other", "mintmark"]}, True),
        ({"iss": "https://evil.example", "aud": "mintmark"}, False),
        ({"iss": ISSUER, "aud": "another-client"}, False),
    ],
)
def test_id_tokens_must_come_from_the_orgs_issuer_for_this_client(personas, claims, accepted):
    """The library checks the signature, expiry and nonce; the issuer and audience are checked
    here (sso/oidc.py), against an ID token signed as a provider signs it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    backend = SsoBackend()
    backend.config = enable(personas["admin"].org)
    backend.OIDC_RP_IDP_SIGN_KEY = key.public_key()
    backend.OIDC_RP_CLIENT_SECRET = "unused with RS256"
    token = jwt.encode(
        {"sub": "u1", "nonce": "n-1", "exp": int(time.time()) + 60, **claims}, key, "RS256"
    )
    if accepted:
        assert backend.verify_token(token, nonce="n-1")["sub"] == "u1"
    else:
        with pytest.raises(SuspiciousOperation):
            backend.verify_token(token, nonce="n-1")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(token, nonce="another-nonce")


def test_an_account_an_orgs_provider_signs_in_as_never_reaches_another_org(personas):
    """An org's provider may assert any email: the account it signs in as stays in that org,
    whether another org adds the address later or a membership was made some other way."""
    acme, globex = personas["admin"].org, personas["outsider"].org
    config = enable(acme)
    claims = {"sub": "squat", "email": "cfo@globex.test", "groups": ["mm-staff"]}
    squatted = sso_login(config=config, claims=claims)
    assert squatted.user is not None
    # Globex's admin then adds that address, through the API and the portal: refused.
    response = (
        personas["outsider"]
        .client()
        .post(
            "/api/members",
            json.dumps({"email": "cfo@globex.test", "role": "admin"}),
            content_type="application/json",
        )
    )
    assert response.status_code == 409, response.content
    assert response.json()["error"] == "account_signs_in_elsewhere"
    page = (
        personas["outsider"]
        .portal()
        .post(f"/o/{globex.slug}/manage/members/", {"email": "cfo@globex.test", "role": "admin"})
    )
    assert page.status_code == 409 and b"another organization" in page.content
    assert not Membership.objects.filter(org=globex, user=squatted.user).exists()
    # The operator's admin site refuses it at the form (not with a 500).
    operator = get_user_model().objects.create_superuser("operator", "op@x.test", "pw-operator-1")
    admin_site = Client(HTTP_HOST="localhost")
    admin_site.force_login(operator)
    form = {"user": str(squatted.user.pk), "org": str(globex.pk), "role": "admin"}
    page = admin_site.post("/admin/orgs/membership/add/", form)
    assert page.status_code == 200 and b"another organization" in page.content
    assert not Membership.objects.filter(org=globex, user=squatted.user).exists()
    # A membership made without those checks (bulk_create sends no signal) bars the provider's
    # next login through the already linked subject.
    Membership.objects.bulk_create([Membership(org=globex, user=squatted.user, role="admin")])
    again = sso_login(config=config, claims=claims)
    assert again.user is None and "another organization" in again.refusal
    # So does promotion to operator.
    Membership.objects.filter(org=globex, user=squatted.user).delete()
    get_user_model().objects.filter(pk=squatted.user.pk).update(is_staff=True)
    promoted = sso_login(config=config, claims=claims)
    assert promoted.user is None and "operator" in promoted.refusal
    # Adding a member to the org whose provider signs the account in is still allowed.
    get_user_model().objects.filter(pk=squatted.user.pk).update(is_staff=False)
    Membership.objects.filter(org=acme, user=squatted.user).delete()
    response = (
        personas["admin"]
        .client()
        .post(
            "/api/members",
            json.dumps({"email": "cfo@globex.test", "role": "auditor"}),
            content_type="application/json",
        )
    )
    assert response.status_code == 201, response.content


def test_the_provider_must_be_on_a_public_address_and_may_not_redirect(
    personas, anon, settings, monkeypatch
):
    """An org admin chooses the issuer: Mintmark must not request its own network for them
    (SSRF) unless the operator allows private providers, and follows no redirect."""
    hits = []

    class Provider(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path.startswith("/moved/"):
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
            body = json.dumps(
                {
                    "issuer": issuer,
                    **{
                        key: f"{issuer}/{key}"
                        for key in (
                            "authorization_endpoint",
                            "token_endpoint",
                            "jwks_uri",
                            "userinfo_endpoint",
                        )
                    },
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SSO_ALLOW_HTTP_ISSUER = True
    settings.SSO_DISCOVERY_CACHE_S = 0
    monkeypatch.setenv("MINTMARK_SSO_CLIENT_SECRET_ACME", "s3cret")
    enable(personas["admin"].org)
    try:
        sso_config_update(org=personas["admin"].org, actor=None, issuer=issuer)
        response = anon.get("/sso/login/?org=acme")
        assert response.status_code == 503, response.content
        assert b"loopback address" in response.content and hits == []
        # Allowed by the operator, the same provider is used.
        settings.SSO_ALLOW_PRIVATE = True
        response = anon.get("/sso/login/?org=acme")
        assert response.status_code == 302 and response.url.startswith(f"{issuer}/authorization")
        assert hits == ["/.well-known/openid-configuration"]
        # A discovery document that redirects (here towards a metadata service) is refused.
        sso_config_update(org=personas["admin"].org, actor=None, issuer=f"{issuer}/moved/x")
        response = anon.get("/sso/login/?org=acme")
        assert response.status_code == 503 and b"redirect" in response.content
        assert hits[-1] == "/moved/x/.well-known/openid-configuration" and len(hits) == 2
    finally:
        server.shutdown()
        server.server_close()
