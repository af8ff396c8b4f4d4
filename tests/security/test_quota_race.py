"""Concurrent submissions cannot take more images than the month's quota leaves: many requests
at once, each through the whole HTTP stack in a thread of its own (its own database
connection, committed transactions), and exactly as many jobs as the quota holds are made."""

import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from django.db import connection

from generation.models import GenerationJob
from policies.rules import default_rules
from policies.services import policy_create
from tests.mm_api_support import make_dataset, make_model

SUBMITTERS = 6
QUOTA = 2


def test_concurrent_submissions_never_exceed_the_quota(live_db, personas, tmp_path):
    org = personas["admin"].org
    dataset, _ = make_dataset(org, seeds=(1,))
    make_model(org, tmp_path, name="tiny", datasets=[dataset])
    rules = default_rules()
    rules["quota"]["org_monthly_images"] = QUOTA
    rules["quota"]["user_monthly_images"] = QUOTA
    policy_create(org=org, actor=None, rules=rules)
    staff = personas["staff"]
    body = json.dumps(
        {"prompt": "a red cube on a table", "model": "tiny", "width": 64, "height": 64, "steps": 4}
    )
    start = Barrier(SUBMITTERS)

    def submit(_):
        try:
            start.wait(timeout=60)
            response = staff.client().post(
                "/api/generations", body, content_type="application/json"
            )
            return response.status_code, response.json().get("error") or None
        finally:
            connection.close()

    with ThreadPoolExecutor(SUBMITTERS) as pool:
        answers = list(pool.map(submit, range(SUBMITTERS)))

    assert sorted(answers).count((202, None)) == QUOTA, answers
    assert answers.count((429, "quota_exceeded")) == SUBMITTERS - QUOTA, answers
    assert GenerationJob.objects.filter(org=org).count() == QUOTA
