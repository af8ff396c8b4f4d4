import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditEvent
from orgs.models import Membership, Organization
from policies.models import Policy

README = Path(__file__).resolve().parent.parent.parent / "README.md"
ROLES = ("admin", "staff", "reviewer", "auditor")

pytestmark = pytest.mark.django_db


def readme_password() -> str:
    """The demo password as the README's logins table shows it."""
    match = re.search(r"^admin@demo\.local\s+admin\s+(\S+)\s*$", README.read_text(), re.MULTILINE)
    assert match, "README.md shows the seed_demo logins table"
    return match.group(1)


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "orgs": Organization.objects.count(),
        "users": get_user_model().objects.count(),
        "memberships": Membership.objects.count(),
        "policies": Policy.objects.count(),
        "events": AuditEvent.objects.count(),
    }


def test_prints_one_login_per_role_with_the_readme_password_and_the_portal():
    password = readme_password()
    output = seed()
    for role in ROLES:
        assert re.search(rf"^{role}@demo\.local\s+{role}\s+{re.escape(password)}$", output, re.M)
    assert "http://127.0.0.1:8000/" in output
    org = Organization.objects.get(slug="demo")
    assert org.name == "Demo"
    roles = dict(Membership.objects.for_org(org).values_list("user__username", "role"))
    assert roles == {f"{role}@demo.local": role for role in ROLES}


def test_the_readme_shows_what_it_prints():
    output = seed()
    readme = README.read_text().splitlines()
    for line in filter(None, output.splitlines()):
        assert line in readme, line


def test_is_idempotent():
    first = seed()
    before = counts()
    second = seed()
    assert second == first
    assert counts() == before
    assert before["orgs"] == 1 and before["memberships"] == 4


def test_the_logins_work():
    seed()
    password = readme_password()
    for role in ROLES:
        client = Client(HTTP_HOST="localhost")
        assert client.login(username=f"{role}@demo.local", password=password), role
        me = client.get("/api/me")
        assert me.status_code == 200, me.content
        assert me.json()["role"] == role
        assert me.json()["org"]["slug"] == "demo"


def test_a_rerun_with_another_password_changes_nothing():
    seed()
    before = counts()
    output = seed("--password", "another-demo-pass-7", "--url", "http://localhost:9000/")
    assert counts() == before
    assert "another-demo-pass-7" not in output
    assert "unchanged" in output
    assert "http://localhost:9000/" in output
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="admin@demo.local", password=readme_password())


def test_a_chosen_password_is_used_and_a_weak_one_refused():
    with pytest.raises(CommandError, match="weak_password"):
        seed("--password", "short")
    assert not Organization.objects.filter(slug="demo").exists()
    output = seed("--password", "a-chosen-demo-pass-1")
    assert "a-chosen-demo-pass-1" in output
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="staff@demo.local", password="a-chosen-demo-pass-1")
