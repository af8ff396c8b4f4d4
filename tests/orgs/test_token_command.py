"""`manage.py token_create`: the README's command, as written there, prints a secret that works
as a bearer token and nothing else."""

import io
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from orgs.models import ApiToken
from orgs.services import member_add, org_create

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_token_commands() -> list[list[str]]:
    """The arguments after `manage.py` of every token_create command line in the README."""
    commands = []
    for line in README.read_text().splitlines():
        if "python manage.py token_create" in line:
            argv = shlex.split(re.sub(r"^\s*\w+=\$\(", "", line).rstrip(")"))
            commands.append(argv[argv.index("manage.py") + 1 :])
    assert commands, "the README shows no token_create command"
    return commands


@pytest.fixture
def demo_staff(db):
    org = org_create(name="Demo", slug="demo")
    return member_add(org=org, actor=None, email="staff@demo.local", role="staff", password=None)


@pytest.mark.parametrize("argv", readme_token_commands())
def test_readme_command_prints_only_a_working_secret(demo_staff, argv):
    assert argv[0] == "token_create"
    out = io.StringIO()
    call_command(*argv, stdout=out)
    text = out.getvalue()
    assert text.count("\n") == 1
    secret = text.strip()
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/me")
    assert response.status_code == 200
    assert response.json()["role"] == "staff"
    assert ApiToken.objects.filter(user=demo_staff.user, revoked_at=None).count() == 1


@pytest.mark.parametrize(
    ("org", "user", "name", "message"),
    [
        ("demo", "nobody@demo.local", "cli", "is not a member"),
        ("other", "staff@demo.local", "cli", "is not a member"),
        ("demo", "staff@demo.local", " ", "needs a name"),
    ],
)
def test_refusals_issue_nothing(demo_staff, org, user, name, message):
    with pytest.raises(CommandError, match=message):
        call_command("token_create", "--org", org, "--user", user, "--name", name)
    assert not ApiToken.objects.exists()
