import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

OUR_APPS = (
    "orgs",
    "policies",
    "licensing",
    "audit",
    "generation",
    "moderation",
    "provenance",
    "sso",
    "webhooks",
)


def _our_models():
    return [model for model in apps.get_models() if model._meta.app_label in OUR_APPS]


def test_every_model_is_in_the_admin():
    missing = [model._meta.label for model in _our_models() if not admin.site.is_registered(model)]
    assert missing == []


@pytest.mark.django_db
def test_admin_changelists_load_for_an_operator(personas):
    operator = get_user_model().objects.create_superuser("operator", "op@x.test", "pw-operator-1")
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator)
    for model in _our_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_append_only_records_cannot_be_changed_in_the_admin(personas):
    from audit.models import AuditEvent
    from policies.models import Policy

    operator = get_user_model().objects.create_superuser("operator", "op@x.test", "pw-operator-1")
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator)
    event = AuditEvent.objects.first()
    url = reverse("admin:audit_auditevent_change", args=[event.pk])
    before = event.hash
    client.post(url, {"action": "forged"})
    event.refresh_from_db()
    assert event.hash == before and event.action != "forged"
    delete_url = reverse("admin:policies_policy_delete", args=[Policy.objects.first().pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
