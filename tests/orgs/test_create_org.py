"""`manage.py create_org`: an organization with its default policy, the standard licences and
optionally its first admin, created together or not at all."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditEvent
from audit.selectors import audit_verify
from licensing.models import Licence
from orgs.models import Membership, Organization
from policies.models import Policy
from tests.mm_api_support import row_counts

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password-7"


def create(*args) -> str:
    out = io.StringIO()
    call_command("create_org", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refused(*args) -> str:
    before = row_counts() | {"Organization": Organization.objects.count()}
    with pytest.raises(CommandError) as excinfo:
        create(*args)
    assert row_counts() | {"Organization": Organization.objects.count()} == before
    return str(excinfo.value)


def test_create_org_with_policy_and_licences():
    out = create("Initech Labs")
    org = Organization.objects.get(slug="initech-labs")
    assert org.name == "Initech Labs"
    assert f"Created organization Initech Labs (slug initech-labs, id {org.pk})" in out
    assert "Admin" not in out
    assert Policy.objects.for_org(org).get().version == 1
    assert Licence.objects.for_org(org).filter(key="CC0-1.0").exists()
    assert Membership.objects.for_org(org).count() == 0
    actions = list(AuditEvent.objects.for_org(org).order_by("seq").values_list("action", flat=True))
    assert actions[:2] == ["org.created", "policy.created"]
    assert audit_verify(org=org).ok


def test_create_org_with_admin_who_can_log_in():
    out = create("Initech", "--slug", "ini", "--admin", "Boss@Initech.test", "--password", PASSWORD)
    org = Organization.objects.get(slug="ini")
    membership = Membership.objects.for_org(org).select_related("user").get()
    assert membership.role == "admin"
    assert membership.user.username == "boss@initech.test"
    assert "Admin: boss@initech.test (password set)" in out
    event = AuditEvent.objects.for_org(org).get(action="member.added")
    assert event.data == {"user": "boss@initech.test", "role": "admin"}
    # The admin can log in straight away.
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="boss@initech.test", password=PASSWORD)
    assert audit_verify(org=org).ok


def test_admin_without_password_cannot_log_in_yet():
    out = create("Initech", "--admin", "boss@initech.test")
    assert "no password: set one before logging in" in out
    user = get_user_model().objects.get(username="boss@initech.test")
    assert not user.has_usable_password()


def test_existing_user_becomes_admin_and_keeps_password(personas):
    staff = personas["staff"].user
    out = create("Second", "--admin", staff.username, "--password", "ignored-password-123")
    assert "existing account, password unchanged" in out
    staff.refresh_from_db()
    assert not staff.check_password("ignored-password-123")
    assert Membership.objects.get(org__slug="second", user=staff).role == "admin"


def test_weak_password_leaves_no_org_behind():
    message = refused("Initech", "--admin", "boss@initech.test", "--password", "123")
    assert "too short" in message or "too common" in message
    assert not Organization.objects.filter(slug="initech").exists()
    assert not get_user_model().objects.filter(username="boss@initech.test").exists()


def test_refusals(acme):
    assert "slug 'acme' exists" in refused("Acme")
    assert "slug 'acme' exists" in refused("Something else", "--slug", "ACME")
    assert "needs a name" in refused("  ")
    assert "needs a name or slug" in refused("!!!")
    assert "--password needs --admin" in refused("Initech", "--password", PASSWORD)
