"""Webhook pages: the deliveries of the jobs a member sees (every role), one delivery with its
attempts, and for admins the allowed hosts, the signing secret and redelivery (the webhooks
app's services, as in the API)."""

import uuid

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mintmark.errors import ApiError
from orgs.access import ADMIN, ALL_ROLES
from portal.access import org_page
from portal.paging import page_of, query_without_page
from webhooks.models import Delivery
from webhooks.selectors import deliveries_visible
from webhooks.services import allowed_hosts_set, config_of, delivery_redeliver, secret_rotate


@org_page(ALL_ROLES)
def deliveries(request):
    membership = request.membership
    rows = deliveries_visible(membership=membership).prefetch_related("attempt_set")
    job = request.GET.get("job", "")
    if job:
        rows = rows.filter(job_id=job) if _is_uuid(job) else rows.none()
    context = {
        "page": page_of(request, rows),
        "query": query_without_page(request),
        "job": job,
        "is_admin": membership.role in ADMIN,
    }
    return render(request, "portal/webhooks/deliveries.html", context)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@org_page(ALL_ROLES)
def delivery(request, delivery_id):
    membership = request.membership
    found = deliveries_visible(membership=membership).get_for_org(membership.org, pk=delivery_id)
    context = {
        "delivery": found,
        "attempts": found.attempt_set.all(),
        "is_admin": membership.role in ADMIN,
    }
    return render(request, "portal/webhooks/delivery.html", context)


@org_page(ADMIN)
@require_POST
def redeliver(request, delivery_id):
    org = request.membership.org
    found = Delivery.objects.get_for_org(org, pk=delivery_id)
    again = delivery_redeliver(delivery=found, actor=request.user)
    messages.success(request, "The event is being sent again.")
    return redirect("portal:webhook_delivery", org=org.slug, delivery_id=again.pk)


def _settings_page(request, *, status: int = 200, **extra):
    context = {"config": config_of(org=request.membership.org), "entered": None, **extra}
    return render(request, "portal/manage/webhooks.html", context, status=status)


@org_page(ADMIN)
def settings_page(request):
    return _settings_page(request)


@org_page(ADMIN)
@require_POST
def hosts_save(request):
    entered = request.POST.get("hosts", "")
    lines = [line.strip() for line in entered.splitlines() if line.strip()]
    try:
        allowed_hosts_set(org=request.membership.org, actor=request.user, hosts=lines)
    except ApiError as exc:
        return _settings_page(request, status=exc.status, hosts_error=exc.detail, entered=entered)
    messages.success(request, "Allowed hosts saved.")
    return redirect("portal:manage_webhooks", org=request.membership.org.slug)


@org_page(ADMIN)
@require_POST
def secret_new(request):
    _, issued = secret_rotate(org=request.membership.org, actor=request.user)
    # Rendered once, in this response (not a redirect): the secret is in no URL or session.
    return _settings_page(request, issued=issued)
