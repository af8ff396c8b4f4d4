"""Two requests creating the same thing at the same moment (the same member, dataset, licence):
one succeeds, the other is refused with a 4xx as when they come one after the other, never a
500 from the database's unique constraint. Each request runs through the whole HTTP stack in a
thread of its own (its own connection, committed transactions)."""

import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection

ROUNDS = 4


def _at_once(calls):
    start = Barrier(len(calls))

    def run(call):
        try:
            start.wait(timeout=60)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _licence(n):
    return {
        "key": f"custom-{n}",
        "name": "Custom",
        "custom_text": "You may train on it.",
        "allows_training": True,
        "allows_commercial": False,
        "requires_attribution": False,
    }


CREATES = {
    "member": ("/api/members", lambda n: {"email": f"twice-{n}@x.test", "role": "staff"}),
    "dataset": ("/api/datasets", lambda n: {"name": f"twice {n}"}),
    "licence": ("/api/licences", _licence),
}


@pytest.mark.parametrize("what", CREATES)
def test_the_same_create_twice_at_once_is_one_success_and_one_refusal(live_db, personas, what):
    path, body = CREATES[what]
    admin = personas["admin"]
    for n in range(ROUNDS):
        payload = json.dumps(body(n))

        def post(payload=payload):
            response = admin.client().post(path, payload, content_type="application/json")
            return response.status_code

        answers = sorted(_at_once([post, post]))
        assert answers[0] == 201 and 400 <= answers[1] < 500, (n, answers)


def test_the_same_member_added_twice_at_once_through_the_portal(live_db, personas):
    admin = personas["admin"]
    for n in range(ROUNDS):
        form = {"email": f"portal-twice-{n}@x.test", "role": "staff"}

        def post(form=form):
            return admin.portal().post("/o/acme/manage/members/", form).status_code

        answers = sorted(_at_once([post, post]))
        # Added (a redirect to the list), and refused on the page (409), never a 500.
        assert answers == [302, 409], (n, answers)
