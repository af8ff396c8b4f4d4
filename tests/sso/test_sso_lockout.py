"""A password lockout leaves single sign-on alone: an account locked for its password at an
address still signs in through its org's provider from there, and refused provider logins are
not counted as password guesses (Chromium against the live portal and the real provider)."""

import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests.conftest import PASSWORD, make_persona
from tests.sso.test_sso_browser import sso_sign_in

pytestmark = [pytest.mark.slow]


def test_a_locked_password_does_not_lock_sso(acme_sso, idp, portal_url, page):
    member = make_persona(acme_sso.org, "staff", "staff@acme.test")
    browser_ip = "127.0.0.1"
    for attempt in range(5):
        Client(HTTP_HOST="localhost", REMOTE_ADDR=browser_ip).post(
            "/login/", {"username": "staff@acme.test", "password": f"wrong-{attempt}"}
        )
    refused = Client(HTTP_HOST="localhost", REMOTE_ADDR=browser_ip).post(
        "/login/", {"username": "staff@acme.test", "password": PASSWORD}
    )
    assert refused.status_code == 429
    # Refused provider logins from the same address: not password failures.
    for _ in range(6):
        Client(HTTP_HOST="localhost", REMOTE_ADDR=browser_ip).get("/sso/callback/?state=nope")
    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [
        ("staff@acme.test", 6)
    ]
    idp.set_account("s-2001", "staff@acme.test", ["mm-staff"])
    sso_sign_in(page, portal_url, "s-2001")
    page.wait_for_url(f"{portal_url}/o/acme/")
    assert member.user.username in page.content()
