"""Two admins who demote or remove each other at the same moment cannot leave their
organization without an admin: each request runs through the whole HTTP stack in a thread of
its own (its own database connection, committed transactions), and exactly one of each pair
succeeds. Before the org row was locked first, on PostgreSQL both demotions succeeded and the
org had no admin left."""

import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection

from orgs.models import Membership
from orgs.services import member_role_update
from tests.conftest import make_persona

ROUNDS = 5


def _at_once(*calls):
    start = Barrier(len(calls))

    def run(call):
        try:
            start.wait(timeout=60)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize("action", ["demote", "remove"])
def test_two_admins_acting_on_each_other_at_once_leave_one_admin(live_db, personas, action):
    org = personas["admin"].org
    admins = Membership.objects.filter(org=org, role=Membership.Role.ADMIN)
    for n in range(ROUNDS):
        first, second = (
            make_persona(org, "admin", f"{who}-{action}-{n}@acme.test") for who in ("a", "b")
        )
        # The two are the org's only admins (the earlier round's survivor steps down).
        for other in admins.exclude(pk__in=[first.membership.pk, second.membership.pk]):
            member_role_update(membership=other, actor=None, role="staff")

        def act(caller, target):
            path = f"/api/members/{target.membership.pk}"
            if action == "remove":
                return lambda: caller.client().delete(path).status_code
            body = json.dumps({"role": "staff"})
            return lambda: caller.client().patch(path, body, "application/json").status_code

        answers = _at_once(act(first, second), act(second, first))
        assert admins.count() == 1, (n, answers)
        # The other is refused: 409 last_admin, or, when the first change committed before its
        # request was authorised, 403 (no longer an admin, or no longer a member).
        assert sorted(answers) in ([200, 403], [200, 409], [204, 403], [204, 409]), (n, answers)


def test_two_admins_removing_one_member_at_once(live_db, personas):
    """The second removal finds the member gone: 404, as for any member that does not exist
    (it was a 500, DoesNotExist, after waiting for the first one's lock)."""
    org = personas["admin"].org
    other_admin = make_persona(org, "admin", "other-admin@acme.test")
    for n in range(ROUNDS):
        member = make_persona(org, "staff", f"leaving-{n}@acme.test").membership
        path = f"/api/members/{member.pk}"
        answers = _at_once(
            *(
                lambda caller=caller, path=path: caller.client().delete(path).status_code
                for caller in (personas["admin"], other_admin)
            )
        )
        assert sorted(answers) == [204, 404], (n, answers)
        assert not Membership.objects.filter(pk=member.pk).exists()
