"""Single sign-on end to end: Chromium (Playwright) against the live portal and a real OpenID
Connect provider process (oidc-provider under Node, tests/oidc_provider/), which requires PKCE
of every client."""

import base64
import hashlib
import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from audit.models import AuditEvent
from orgs.models import Membership
from sso.config import sso_config_update
from sso.models import SsoIdentity
from tests.conftest import PASSWORD, make_persona
from tests.sso.oidc_support import CLIENT_ID

pytestmark = [pytest.mark.slow]

CAROL = "carol@acme.test"


@pytest.fixture
def portal_page(page, browser_context):
    # The provider's stock pages import a web font; nothing outside is reachable from here.
    browser_context.route(re.compile(r"^https://fonts\."), lambda route: route.abort())
    return page


def new_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    context.route(re.compile(r"^https://fonts\."), lambda route: route.abort())
    return context.new_page()


def sso_sign_in(page, portal_url: str, login: str) -> None:
    """Through the portal's login page and the provider's own login and consent pages."""
    page.goto(f"{portal_url}/login/")
    page.get_by_label("Organization").fill("acme")
    page.get_by_role("button", name="Sign in with your organization").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("whatever-the-idp-checks")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(rf"^{re.escape(portal_url)}/"))


def actions(org) -> list[str]:
    return list(AuditEvent.objects.filter(org=org).order_by("seq").values_list("action", flat=True))


def test_sso_login_maps_roles_changes_them_and_refuses_lost_access(
    acme_sso, idp, portal_url, portal_page, chromium, settings
):
    settings.SSO_SESSION_MAX_AGE_S = 900
    org = acme_sso.org
    page = portal_page
    idp.set_account("carol", CAROL, ["mm-staff", "unrelated"])
    authorizations = []
    page.on(
        "request",
        lambda request: (
            authorizations.append(request.url)
            if request.url.startswith(f"{idp.issuer}/auth?")
            else None
        ),
    )

    # First login: the account and its membership are created with the mapped role.
    sso_sign_in(page, portal_url, "carol")
    page.wait_for_url(f"{portal_url}/o/acme/")
    assert "Staff" in page.locator("header").inner_text()
    membership = Membership.objects.get(org=org, user__username=CAROL)
    assert membership.role == "staff"
    assert not membership.user.has_usable_password()
    assert SsoIdentity.objects.get(org=org, subject="carol").user == membership.user
    assert actions(org)[-2:] == ["sso.member_added", "sso.login"]
    # The session lasts MINTMARK_SSO_SESSION_MAX_AGE_S, not the password sessions' two weeks:
    # the groups behind it are read again only at the next login.
    [cookie] = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    assert time.time() + 600 < cookie["expires"] < time.time() + 900 + 60, cookie
    query = parse_qs(urlsplit(authorizations[0]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43

    # Logout ends the portal's session and, through the provider's logout, its session there.
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{portal_url}/login/")
    page.goto(f"{portal_url}/o/acme/")
    assert page.url.startswith(f"{portal_url}/login/")

    # The groups changed at the provider: the role changes at the next login (which asks for
    # the login again: the provider's session ended).
    idp.set_account("carol", CAROL, ["mm-reviewers"])
    sso_sign_in(page, portal_url, "carol")
    assert "Reviewer" in page.locator("header").inner_text()
    membership.refresh_from_db()
    assert membership.role == "reviewer"
    changed = AuditEvent.objects.filter(org=org, action="sso.role_changed").get()
    assert (changed.data["from"], changed.data["to"]) == ("staff", "reviewer")

    # A second browser holds a session of the same account.
    other = new_page(chromium)
    sso_sign_in(other, portal_url, "carol")
    assert other.url == f"{portal_url}/o/acme/"

    # No group maps any more. The second browser signs in again (its provider session answers
    # at once): refused, and logged out there; the membership is removed, and the session the
    # first browser still holds no longer reaches the org.
    idp.set_account("carol", CAROL, ["unrelated"])
    other.goto(f"{portal_url}/sso/login/?org=acme")
    other.wait_for_url(f"{portal_url}/login/")
    assert "none of your groups at Acme maps to a Mintmark role" in other.content()
    assert not Membership.objects.filter(org=org, user__username=CAROL).exists()
    assert actions(org)[-2:] == ["sso.member_removed", "sso.login_refused"]
    other.goto(f"{portal_url}/o/acme/")
    assert other.url.startswith(f"{portal_url}/login/")
    response = page.goto(f"{portal_url}/o/acme/")
    assert response.status == 404
    other.context.close()


def test_a_user_whose_groups_map_to_no_role_is_refused_and_gets_no_account(
    acme_sso, idp, portal_url, portal_page
):
    idp.set_account("dave", "dave@acme.test", ["contractors"])
    sso_sign_in(portal_page, portal_url, "dave")
    portal_page.wait_for_url(f"{portal_url}/login/")
    assert "Sign-in refused" in portal_page.locator("[role=status]").inner_text()
    assert not get_user_model().objects.filter(username="dave@acme.test").exists()
    refusal = AuditEvent.objects.filter(org=acme_sso.org, action="sso.login_refused").get()
    assert refusal.data["reason"] == "no_mapped_group"
    assert refusal.data["groups"] == ["contractors"]


def test_an_sso_only_org_refuses_password_login_and_its_member_signs_in_through_the_provider(
    acme_sso, idp, portal_url, portal_page
):
    org = acme_sso.org
    member = make_persona(org, "staff", "staff@acme.test")
    sso_config_update(org=org, actor=None, password_login=False)
    page = portal_page
    page.goto(f"{portal_url}/login/")
    page.get_by_label("Username").fill("staff@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert (
        "Acme signs in through its identity provider only"
        in page.locator("[role=alert]").inner_text()
    )
    assert page.url.startswith(f"{portal_url}/login/")
    assert actions(org)[-1] == "sso.password_login_refused"
    # The same person through the provider: the existing account (a member of this org only)
    # is linked by its email and keeps its membership.
    idp.set_account("s-1001", "staff@acme.test", ["mm-staff"])
    sso_sign_in(page, portal_url, "s-1001")
    page.wait_for_url(f"{portal_url}/o/acme/")
    assert SsoIdentity.objects.get(org=org, subject="s-1001").user == member.user
    assert actions(org)[-1] == "sso.login"


def test_pkce_is_sent_and_the_provider_refuses_a_login_without_it(acme_sso, idp, portal_url):
    browser = requests.Session()
    start = browser.get(f"{portal_url}/sso/login/?org=acme", allow_redirects=False)
    assert start.status_code == 302
    authorize = urlsplit(start.headers["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == idp.issuer
    query = {key: values[0] for key, values in parse_qs(authorize.query).items()}
    assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
    # The challenge is S256 of the verifier Mintmark keeps in the session for the token call.
    session = Session.objects.get(session_key=browser.cookies["sessionid"]).get_decoded()
    verifier = session["oidc_states"][query["state"]]["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    # The same request without the challenge: the provider refuses it and says why.
    del query["code_challenge"], query["code_challenge_method"]
    stripped = urlunsplit(authorize._replace(query=urlencode(query)))
    refused = browser.get(stripped, allow_redirects=False)
    assert refused.status_code in (302, 303)
    back = refused.headers["Location"]
    assert back.startswith(f"{portal_url}/sso/callback/")
    assert "PKCE" in parse_qs(urlsplit(back).query)["error_description"][0]

    # Mintmark's callback records the refusal and shows the login page, logged out.
    landing = browser.get(back)
    assert landing.url == f"{portal_url}/login/" and landing.status_code == 200
    assert "the identity provider refused it" in landing.text
    refusal = AuditEvent.objects.filter(org=acme_sso.org, action="sso.login_refused").get()
    assert refusal.data["reason"] == "provider_refused" and "PKCE" in refusal.data["detail"]


def test_a_discovery_document_naming_another_issuer_is_refused(acme_sso, idp, portal_url):
    sso_config_update(org=acme_sso.org, actor=None, issuer=f"{idp.issuer}/")
    response = requests.get(f"{portal_url}/sso/login/?org=acme", allow_redirects=False, timeout=30)
    assert response.status_code == 503
    assert "names another issuer" in response.text
