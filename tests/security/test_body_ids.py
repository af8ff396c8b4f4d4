"""Ids of another organization's objects sent in a body or a query string rather than the
path: each is refused exactly as an id that exists nowhere (the same status, code and detail
once the id itself is left out), and nothing is written. (An upscale's parent_asset of
another org is tests/generation/test_upscale.py's.)"""

import json
import uuid

import pytest

from generation.models import GenerationJob, GenerativeModel
from tests.mm_api_support import model_folder
from tests.test_access_matrix import Ctx

OWN = "acme"


def _post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def _generation(c: Ctx, **fields) -> dict:
    own_model = c.world.orgs[OWN].model
    return {"prompt": "a red cube", "model": str(own_model.pk), "width": 64, "height": 64, **fields}


def _model_ref(c: Ctx):
    ref = str(c.model_id)
    return "post", "/api/generations", _generation(c, model=ref), ref


def _trained_on(c: Ctx):
    ref = str(c.dataset_id)
    body = {
        "name": f"m{c.n}",
        "version": "1",
        "family": "sd15",
        "local_path": str(model_folder(c.world.root / OWN, f"m{c.n}")),
        "trained_on": [ref],
    }
    return "post", "/api/models", body, ref


def _deliveries_of(c: Ctx):
    return "get", f"/api/webhooks/deliveries?job={c.ended_job_id}", None, ""


def _audit_of(c: Ctx):
    return "get", f"/api/audit/events?subject_id={c.ended_job_id}", None, ""


CASES = {
    "generation's model": _model_ref,
    "model trained on a dataset": _trained_on,
    "deliveries of a job": _deliveries_of,
    "audit events of a subject": _audit_of,
}


def _answer(response, the_id: str):
    body = response.content.decode()
    return response.status_code, body.replace(the_id, "<id>") if the_id else body


@pytest.mark.parametrize("case", CASES)
def test_another_orgs_id_in_a_body_or_query_is_as_unknown_as_a_missing_one(world, case):
    admin = world.personas["admin"]
    acme = admin.org

    def written():
        return (
            GenerationJob.objects.filter(org=acme).count(),
            GenerativeModel.objects.filter(org=acme).count(),
        )

    before = written()
    answers = []
    for mode in ("other", "missing"):
        method, path, body, the_id = CASES[case](Ctx(world, admin, OWN, mode))
        client = admin.client()
        response = _post(client, path, body) if method == "post" else client.get(path)
        assert response.status_code < 500, response.content
        answers.append(_answer(response, the_id))
    assert answers[0] == answers[1]
    assert written() == before


def test_lists_filtered_by_another_orgs_ids_are_empty(world):
    admin = world.personas["admin"]
    globex = Ctx(world, admin, OWN, "other")
    for path in (
        f"/api/webhooks/deliveries?job={globex.delivery_id and globex.ended_job_id}",
        f"/api/audit/events?subject_id={globex.ended_job_id}",
        f"/api/audit/events?subject_id={uuid.UUID(str(globex.dataset_id))}",
    ):
        body = admin.client().get(path).json()
        assert body["count"] == 0 and body["items"] == [], path
