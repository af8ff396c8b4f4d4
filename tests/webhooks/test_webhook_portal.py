"""The webhook pages through the Django test client: an admin's allowed hosts and secret, the
deliveries every member sees of their jobs, redelivery, and the generate form's callback."""

import re

import pytest

from audit.models import AuditEvent
from generation.models import GenerationJob
from tests.mm_api_support import make_dataset, make_model
from tests.webhooks.webhook_support import webhooks_enable
from webhooks.models import Delivery
from webhooks.services import config_of

FORM = {"prompt": "a red cube", "model": "tiny", "width": "64", "height": "64", "steps": "2"}


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org)
    return make_model(personas["admin"].org, tmp_path, datasets=[dataset])


def test_an_admin_sets_hosts_and_sees_a_new_secret_once(personas):
    admin = personas["admin"].portal()
    assert admin.get("/o/acme/manage/webhooks/").status_code == 200
    saved = admin.post("/o/acme/manage/webhooks/hosts/", {"hosts": "Hooks.Example.com\n\n*.corp.x"})
    assert saved.status_code == 302
    assert config_of(org=personas["admin"].org).allowed_hosts == ["*.corp.x", "hooks.example.com"]
    assert AuditEvent.objects.filter(action="webhooks.allowed_hosts_changed").count() == 1
    page = admin.get("/o/acme/manage/webhooks/").content.decode()
    assert "*.corp.x\nhooks.example.com\n</textarea>" in page
    refused = admin.post("/o/acme/manage/webhooks/hosts/", {"hosts": "bad host!"})
    assert refused.status_code == 422
    assert "is not a valid host name" in refused.content.decode()

    shown = admin.post("/o/acme/manage/webhooks/secret/").content.decode()
    secret = re.search(r'data-testid="webhook-secret">(whsec_[^<]+)<', shown).group(1)
    later = admin.get("/o/acme/manage/webhooks/").content.decode()
    assert secret not in later and f'data-testid="secret-hint">{secret[:10]}…<' in later

    for role in ("staff", "reviewer", "auditor"):
        client = personas[role].portal()
        assert client.get("/o/acme/manage/webhooks/").status_code == 403
        assert client.post("/o/acme/manage/webhooks/hosts/", {"hosts": "x.test"}).status_code == 403
        assert client.post("/o/acme/manage/webhooks/secret/").status_code == 403
    assert personas["outsider"].portal().get("/o/acme/manage/webhooks/").status_code == 404
    assert config_of(org=personas["admin"].org).allowed_hosts == ["*.corp.x", "hooks.example.com"]


def test_the_generate_form_takes_a_callback_and_shows_its_refusal(personas, model, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    staff = personas["staff"].portal()
    assert 'name="callback_url"' in staff.get("/o/acme/generate/").content.decode()
    refused = staff.post("/o/acme/generate/", {**FORM, "callback_url": "http://127.0.0.1:9/in"})
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "not on this organization&#x27;s webhook allow-list" in html
    assert re.search(r'id="callback_url"[^>]*aria-invalid="true"', html)
    webhooks_enable(personas["admin"])
    made = staff.post("/o/acme/generate/", {**FORM, "callback_url": "http://127.0.0.1:9/in"})
    assert made.status_code == 302
    assert GenerationJob.objects.get().callback_url == "http://127.0.0.1:9/in"


def test_deliveries_pages_and_redelivery(personas, model, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    webhooks_enable(personas["admin"])
    staff = personas["staff"].portal()
    staff.post("/o/acme/generate/", {**FORM, "callback_url": "http://127.0.0.1:9/in"})
    job = GenerationJob.objects.get()
    assert staff.post(f"/o/acme/jobs/{job.pk}/cancel/").status_code == 302
    delivery = Delivery.objects.get()
    page = staff.get(f"/o/acme/jobs/{job.pk}/").content.decode()
    assert f'href="/o/acme/webhooks/?job={job.pk}">deliveries</a>' in page
    listed = staff.get("/o/acme/webhooks/", {"job": str(job.pk)}).content.decode()
    assert listed.count('data-testid="delivery"') == 1 and "job.cancelled" in listed
    detail = staff.get(f"/o/acme/webhooks/{delivery.pk}/").content.decode()
    assert "Not attempted yet." in detail and "Send again" not in detail
    assert "&quot;type&quot;:&quot;job.cancelled&quot;" in detail

    outsider = personas["outsider"].portal()
    assert outsider.get("/o/acme/webhooks/").status_code == 404
    assert outsider.get(f"/o/globex/webhooks/{delivery.pk}/").status_code == 404
    assert 'data-testid="delivery"' not in outsider.get("/o/globex/webhooks/").content.decode()
    assert outsider.post(f"/o/globex/webhooks/{delivery.pk}/redeliver/").status_code == 404
    assert staff.post(f"/o/acme/webhooks/{delivery.pk}/redeliver/").status_code == 403

    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED)
    admin = personas["admin"].portal()
    assert "Send again" in admin.get(f"/o/acme/webhooks/{delivery.pk}/").content.decode()
    sent = admin.post(f"/o/acme/webhooks/{delivery.pk}/redeliver/")
    again = Delivery.objects.exclude(pk=delivery.pk).get()
    assert sent.status_code == 302 and sent["Location"] == f"/o/acme/webhooks/{again.pk}/"
    assert (again.redelivery_of_id, again.event_id) == (delivery.pk, delivery.event_id)
