"""Auditor pages: the org's audit log with filters and paging, the chain check, each asset's
provenance record and the exports, through the same selectors and export functions as
/api/audit and /api/provenance."""

from datetime import date, datetime, time, timedelta

from django import forms
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit.export import FORMATS
from audit.export import export_response as audit_export_response
from audit.models import AuditEvent
from audit.selectors import audit_events, audit_verify
from generation.provenance_record import (
    org_provenance_records,
    provenance_readable,
    provenance_record,
)
from mintmark.errors import ApiError
from orgs.access import ADMIN_AUDITOR
from portal.access import org_page
from portal.paging import page_of, query_without_page
from provenance.export import export_response as provenance_export_response
from provenance.record import PROVENANCE_READERS


class EventFilterForm(forms.Form):
    # The lengths the API's filters accept (audit/api.py EventFilters).
    action = forms.CharField(max_length=100, required=False)
    actor = forms.CharField(max_length=200, required=False)
    subject_type = forms.CharField(max_length=100, required=False)
    subject_id = forms.CharField(max_length=100, required=False)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def selector_filters(self) -> dict:
        """The filters for audit_events: whole days in the installation's time zone, the end
        date included."""
        data = self.cleaned_data
        fields = ("action", "actor", "subject_type", "subject_id")
        filters = {name: data[name].strip() or None for name in fields}
        if data["date_from"]:
            filters["since"] = _day_start(data["date_from"])
        # The last day a date can name (9999-12-31) has no next day: it leaves the end open.
        if data["date_to"] and data["date_to"] < date.max:
            filters["until"] = _day_start(data["date_to"] + timedelta(days=1))
        return filters


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _log_page(request, *, chain=None):
    org = request.membership.org
    form = EventFilterForm(request.GET)
    valid = form.is_valid()
    events = (
        audit_events(org=org, **form.selector_filters()) if valid else AuditEvent.objects.none()
    )
    query = query_without_page(request)
    context = {
        "form": form,
        "page": page_of(request, events.order_by("-seq")),
        "query": query,
        "actions": AuditEvent.objects.for_org(org)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct(),
        "chain": chain,
    }
    return render(request, "portal/audit/log.html", context, status=200 if valid else 400)


@org_page(ADMIN_AUDITOR)
def log(request):
    return _log_page(request)


@org_page(ADMIN_AUDITOR)
@require_POST
def verify(request):
    chain = audit_verify(org=request.membership.org)
    if request.htmx:
        return render(request, "portal/audit/chain_result.html", {"chain": chain})
    return _log_page(request, chain=chain)


@org_page(PROVENANCE_READERS)
def provenance(request, asset_id):
    asset = provenance_readable(membership=request.membership, asset_id=asset_id)
    context = {
        "asset": asset,
        "record": provenance_record(asset),
        "api_url": f"/api/assets/{asset.pk}/provenance",
    }
    return render(request, "portal/audit/provenance.html", context)


def _export_page(request, *, status: int = 200, error: str | None = None):
    context = {"error": error, "formats": sorted(FORMATS)}
    return render(request, "portal/audit/export.html", context, status=status)


@org_page(ADMIN_AUDITOR)
def export(request):
    return _export_page(request)


@org_page(ADMIN_AUDITOR)
def export_provenance(request):
    try:
        org = request.membership.org
        return provenance_export_response(org=org, records=org_provenance_records(org))
    except ApiError as exc:
        return _export_page(request, status=exc.status, error=exc.detail)


@org_page(ADMIN_AUDITOR)
def export_audit(request):
    """The audit events matching the log page's filters, as JSON Lines or CSV."""
    fmt = request.GET.get("format", "")
    if fmt not in FORMATS:
        choices = " or ".join(sorted(FORMATS))
        return _export_page(request, status=400, error=f"Choose the format {choices}.")
    form = EventFilterForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        return _export_page(request, status=400, error=f"The filters are not valid: {problems}")
    org = request.membership.org
    events = audit_events(org=org, **form.selector_filters())
    return audit_export_response(org=org, events=events, fmt=fmt)
