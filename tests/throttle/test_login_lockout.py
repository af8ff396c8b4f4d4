"""Password guessing on the portal's and the admin site's login: locked per username and
address after MINTMARK_LOGIN_FAILURE_LIMIT failures (5) for MINTMARK_LOGIN_LOCKOUT_S (900 s),
through the real login views, axes' rows in the test database and the audit log."""

import time
from datetime import timedelta

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from sso.config import sso_config_update
from tests.conftest import PASSWORD

STAFF = "staff@acme.test"
LOCKED = "it is locked for 15 minutes"


def login(username: str, password: str, *, ip: str = "127.0.0.1", path="/login/", **headers):
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR=ip, **headers)
    response = client.post(path, {"username": username, "password": password})
    return client, response


def lock(username: str, *, ip: str = "127.0.0.1", path="/login/", **headers):
    for attempt in range(1, 6):
        _, response = login(username, f"wrong-{attempt}", ip=ip, path=path, **headers)
        if attempt < 5:
            assert response.status_code == 200 and LOCKED not in response.text, attempt
    return response


def test_five_wrong_passwords_lock_the_account_for_that_address(personas, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(seconds=900)
    response = lock(STAFF)
    assert response.status_code == 429
    assert LOCKED in response.text and 'role="alert"' in response.text
    assert response["Retry-After"] == "900"
    # The right password is refused now, with the same message, and opens no session.
    client, response = login(STAFF, PASSWORD)
    assert response.status_code == 429 and LOCKED in response.text
    assert client.get("/").status_code == 302
    # The lockout is in the org's audit log once, though two attempts met it.
    events = AuditEvent.objects.filter(org=personas["staff"].org, action="auth.login_locked_out")
    assert [(e.data["user"], e.data["ip"], e.data["failures"]) for e in events] == [
        (STAFF, "127.0.0.1", 5)
    ]
    assert events.get().actor_label == "system"


def test_another_address_and_another_account_are_not_locked(personas):
    lock(STAFF)
    client, response = login(STAFF, PASSWORD, ip="198.51.100.7")
    assert response.status_code == 302
    assert client.get("/", follow=True).status_code == 200
    _, response = login("reviewer@acme.test", PASSWORD)
    assert response.status_code == 302


def test_the_lockout_ends_after_the_cool_off(personas, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    assert lock(STAFF).status_code == 429
    _, response = login(STAFF, PASSWORD)
    assert response.status_code == 429
    # Each attempt during the lockout starts it again: wait it out from the last one.
    time.sleep(2.2)
    _, response = login(STAFF, PASSWORD)
    assert response.status_code == 302
    # A right password clears the count: four more failures do not lock.
    for attempt in range(4):
        assert login(STAFF, f"wrong-again-{attempt}")[1].status_code == 200
    assert login(STAFF, PASSWORD)[1].status_code == 302


def test_x_forwarded_for_is_ignored_unless_from_a_trusted_proxy(personas, settings):
    for attempt in range(5):
        login(STAFF, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}")
    _, response = login(STAFF, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429
    # Behind a configured proxy each forwarded client is its own: 203.0.113.99 is not locked,
    # whatever it claims left of what the proxy saw.
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    _, response = login(STAFF, PASSWORD, HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.99")
    assert response.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_the_admin_site_login_is_locked_too(personas):
    get_user_model().objects.create_superuser("operator", "op@x.test", PASSWORD)
    response = lock("operator", path="/admin/login/")
    assert response.status_code == 429 and LOCKED in response.text
    _, response = login("operator", PASSWORD, path="/admin/login/")
    assert response.status_code == 429


def test_an_operator_unlocks_with_the_reset_command(personas):
    lock(STAFF)
    call_command("axes_reset_username", STAFF)
    assert login(STAFF, PASSWORD)[1].status_code == 302


def test_locked_attempts_are_listed_in_the_admin_site(personas):
    lock(STAFF)
    operator = get_user_model().objects.create_superuser("operator", "op@x.test", "pw-op-12345")
    admin = Client(HTTP_HOST="localhost")
    admin.force_login(operator)
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and STAFF in page.text


def test_a_locked_member_of_an_sso_only_org_is_not_told_the_password_was_right(personas):
    sso_config_update(
        org=personas["staff"].org,
        actor=None,
        enabled=True,
        issuer="https://idp.example",
        client_id="mintmark",
        role_groups={"staff": ["mm-staff"]},
        password_login=False,
    )
    lock(STAFF)
    _, response = login(STAFF, PASSWORD)
    assert response.status_code == 429 and LOCKED in response.text
    assert "identity provider only" not in response.text
