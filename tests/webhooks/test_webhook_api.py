"""The org's webhook settings and a job's callback through the API: who may change them, what
is refused at submission and why, and who sees deliveries."""

import json

import pytest

from audit.models import AuditEvent
from generation.models import GenerationJob
from tests.mm_api_support import make_dataset, make_model
from tests.webhooks.webhook_support import webhooks_enable
from webhooks.models import Delivery


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org)
    return make_model(personas["admin"].org, tmp_path, datasets=[dataset])


def submit(persona, **body):
    payload = {"prompt": "a red cube", "model": "tiny", "width": 64, "height": 64, "steps": 2}
    return persona.client().post(
        "/api/generations", json.dumps({**payload, **body}), content_type="application/json"
    )


def put_hosts(persona, hosts):
    return persona.client().put(
        "/api/webhooks/allowed-hosts", json.dumps({"hosts": hosts}), content_type="application/json"
    )


def test_only_admins_see_or_change_the_allow_list_and_secret(personas):
    for role in ("staff", "reviewer", "auditor"):
        client = personas[role].client()
        assert client.get("/api/webhooks/settings").status_code == 403
        assert put_hosts(personas[role], ["evil.example"]).status_code == 403
        assert client.post("/api/webhooks/secret").status_code == 403
    outsider = personas["outsider"].client()
    assert outsider.get("/api/webhooks/settings", HTTP_X_ORG="acme").status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="webhooks.").exists()

    admin = personas["admin"]
    response = put_hosts(admin, ["Hooks.Example.COM.", "*.Corp.Example", "hooks.example.com"])
    assert response.status_code == 200
    assert response.json()["allowed_hosts"] == ["*.corp.example", "hooks.example.com"]
    bad = put_hosts(admin, ["exa mple.com"])
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_host"
    put_hosts(admin, ["hooks.example.com", "10.0.0.5"])
    changes = [e.data for e in AuditEvent.objects.filter(action="webhooks.allowed_hosts_changed")]
    assert changes == [
        {"added": ["*.corp.example", "hooks.example.com"], "removed": []},
        {"added": ["10.0.0.5"], "removed": ["*.corp.example"]},
    ]

    created = admin.client().post("/api/webhooks/secret").json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["previous_secret_valid_until"] is None
    shown = admin.client().get("/api/webhooks/settings").json()
    assert "secret" not in shown and created["secret"] not in json.dumps(shown)
    assert shown["secret_hint"] == created["secret"][:10] + "…"
    rotated = admin.client().post("/api/webhooks/secret").json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_valid_until"]
    actions = [e.action for e in AuditEvent.objects.filter(action__contains="secret")]
    assert actions == ["webhooks.secret_created", "webhooks.secret_rotated"]
    assert created["secret"] not in json.dumps([e.data for e in AuditEvent.objects.all()])


def test_a_callback_the_org_does_not_allow_is_refused_at_submission(personas, model, settings):
    staff, admin = personas["staff"], personas["admin"]
    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = submit(staff, callback_url="https://hooks.example.com/in")
    assert refused.status_code == 422
    assert refused.json()["error"] == "callback_not_allowed"
    assert "not on this organization's webhook allow-list" in refused.json()["detail"]

    put_hosts(admin, ["hooks.example.com", "127.0.0.1", "localhost", "169.254.169.254"])
    no_secret = submit(staff, callback_url="http://127.0.0.1:9/in")
    assert no_secret.json()["error"] == "callback_not_allowed"
    assert "no webhook secret yet" in no_secret.json()["detail"]
    admin.client().post("/api/webhooks/secret")

    for url, code, reason in (
        ("ftp://hooks.example.com/in", "invalid_callback_url", "must be http or https"),
        ("http://u:p@hooks.example.com/in", "invalid_callback_url", "user name or password"),
        ("https://evil.example.net/in", "callback_not_allowed", "evil.example.net is not on"),
        ("http://127.0.0.1:9/in", "callback_address_refused", "loopback address"),
        ("http://localhost:9/in", "callback_address_refused", "loopback address"),
        ("http://169.254.169.254/latest", "callback_address_refused", "link-local address"),
    ):
        response = submit(staff, callback_url=url)
        assert (response.status_code, response.json()["error"]) == (422, code), url
        assert reason in response.json()["detail"], response.json()
    assert not GenerationJob.objects.exists()

    settings.WEBHOOK_ALLOW_PRIVATE = True
    accepted = submit(staff, callback_url="http://127.0.0.1:9/in")
    assert accepted.status_code == 202, accepted.content
    assert accepted.json()["callback_url"] == "http://127.0.0.1:9/in"
    assert submit(staff).json()["callback_url"] == ""


def test_deliveries_are_seen_by_the_org_only(personas, model, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    staff, admin, outsider = personas["staff"], personas["admin"], personas["outsider"]
    webhooks_enable(admin)
    job_id = submit(staff, callback_url="http://127.0.0.1:9/in").json()["id"]
    assert staff.client().post(f"/api/generations/{job_id}/cancel").status_code == 200
    delivery = Delivery.objects.get()
    assert (delivery.event_type, delivery.state, str(delivery.job_id)) == (
        "job.cancelled",
        "PENDING",
        job_id,
    )

    for persona in (staff, admin, personas["auditor"]):
        listed = persona.client().get(f"/api/generations/{job_id}/deliveries").json()
        assert [d["id"] for d in listed["items"]] == [str(delivery.pk)]
        by_org = persona.client().get("/api/webhooks/deliveries", {"job": job_id}).json()
        assert by_org["count"] == 1
    detail = staff.client().get(f"/api/webhooks/deliveries/{delivery.pk}").json()
    assert json.loads(detail["body"])["type"] == "job.cancelled"
    assert detail["attempt_list"] == []

    client = outsider.client()
    assert client.get("/api/webhooks/deliveries").json() == {"items": [], "count": 0}
    assert client.get(f"/api/webhooks/deliveries/{delivery.pk}").status_code == 404
    assert client.get(f"/api/generations/{job_id}/deliveries").status_code == 404
    assert client.post(f"/api/webhooks/deliveries/{delivery.pk}/redeliver").status_code == 404
    refused = staff.client().post(f"/api/webhooks/deliveries/{delivery.pk}/redeliver")
    assert refused.status_code == 403
    pending = admin.client().post(f"/api/webhooks/deliveries/{delivery.pk}/redeliver")
    assert (pending.status_code, pending.json()["error"]) == (409, "delivery_pending")
