"""Admin pages: datasets with their licences, items, imports and opt-outs, and the org's
licences (the API's licensing services). Bulk imports are `manage.py import_dataset`."""

from django.contrib import messages
from django.core.files.storage import storages
from django.db.models import Count, Q
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from licensing.api import LicenceIn, OptOutIn
from licensing.models import DatasetItem, Licence
from licensing.selectors import dataset_imports, dataset_opt_outs, datasets_counted
from licensing.services import item_consent_record, licence_create
from mintmark.errors import ApiError
from orgs.access import ADMIN
from portal.access import org_page
from portal.manage_forms import refusal_errors, validated
from portal.paging import page_of, query_without_page

LICENCE_FIELD_OF_CODE = {"licence_exists": "key", "invalid_licence": "spdx_id"}
LICENCE_WORDING = {
    "key": "A key of letters, digits and . _ + - (for example CC-BY-4.0 or acme-stock-2024).",
    "url": "At most 200 characters.",
}
OPT_OUTS_SHOWN = 50


def _licence_entered(data) -> dict:
    expires = data.get("expires_at", "").strip()
    return {
        **{name: data.get(name, "").strip() for name in ("key", "name", "spdx_id", "url")},
        "custom_text": data.get("custom_text", ""),
        **{
            flag: flag in data
            for flag in ("allows_training", "allows_commercial", "requires_attribution")
        },
        # The date input gives a day; the licence ends at its start, in UTC.
        "expires_at": f"{expires}T00:00:00+00:00" if expires else None,
    }


def _datasets_page(request, *, status: int = 200, **extra):
    org = request.membership.org
    page = page_of(request, datasets_counted(org=org).order_by("name"))
    used = (
        DatasetItem.objects.filter(dataset__in=list(page.object_list))
        .values("dataset_id", "licence__key")
        .annotate(items=Count("id"))
        .order_by("licence__key")
    )
    licences_by_dataset: dict = {}
    for row in used:
        licences_by_dataset.setdefault(row["dataset_id"], []).append(row)
    rows = [
        {
            "dataset": dataset,
            "licences": licences_by_dataset.get(dataset.pk, []),
            "last_import": dataset_imports(dataset=dataset).first(),
        }
        for dataset in page.object_list
    ]
    licences = Licence.objects.for_org(org).annotate(items_count=Count("items")).order_by("key")
    context = {
        "page": page,
        "query": query_without_page(request),
        "rows": rows,
        "licences": licences,
        "now": timezone.now(),
        "errors": {},
        "entered": {},
        **extra,
    }
    return render(request, "portal/manage/datasets.html", context, status=status)


@org_page(ADMIN)
def datasets(request):
    if request.method != "POST":
        return _datasets_page(request)
    entered = _licence_entered(request.POST)
    body, errors = validated(LicenceIn, entered, LICENCE_WORDING)
    if errors:
        return _datasets_page(request, status=422, errors=errors, entered=request.POST)
    try:
        licence = licence_create(
            org=request.membership.org, actor=request.user, **body.model_dump()
        )
    except ApiError as exc:
        return _datasets_page(
            request,
            status=exc.status,
            errors=refusal_errors(exc, LICENCE_FIELD_OF_CODE),
            entered=request.POST,
        )
    messages.success(request, f"Licence {licence.key} added.")
    return redirect("portal:manage_datasets", org=request.membership.org.slug)


@org_page(ADMIN)
def dataset(request, dataset_id):
    org = request.membership.org
    shown = datasets_counted(org=org).get_for_org(org, pk=dataset_id)
    items = (
        DatasetItem.objects.filter(dataset=shown).select_related("licence").order_by("-created_at")
    )
    search = request.GET.get("q", "").strip()
    if search:
        items = items.filter(
            Q(sha256__startswith=search.lower())
            | Q(source_url__icontains=search)
            | Q(creator__icontains=search)
            | Q(caption__icontains=search)
        )
    consent = request.GET.get("consent", "")
    if consent in DatasetItem.Consent.values:
        items = items.filter(consent=consent)
    context = {
        "dataset": shown,
        "page": page_of(request, items),
        "query": query_without_page(request),
        "search": search,
        "consent": consent,
        "consents": DatasetItem.Consent.choices,
        "imports": dataset_imports(dataset=shown)[:20],
        "opt_outs": dataset_opt_outs(dataset=shown)[:OPT_OUTS_SHOWN],
        "opt_outs_shown": OPT_OUTS_SHOWN,
        "models": shown.models_trained.order_by("name", "version"),
    }
    return render(request, "portal/manage/dataset.html", context)


def _item_of(request, dataset_id, item_id) -> DatasetItem:
    org = request.membership.org
    shown = datasets_counted(org=org).get_for_org(org, pk=dataset_id)
    return DatasetItem.objects.select_related("licence", "dataset").get_for_org(
        org, pk=item_id, dataset=shown
    )


@org_page(ADMIN)
def item_opt_out(request, dataset_id, item_id):
    item = _item_of(request, dataset_id, item_id)
    context = {
        "item": item,
        "models": item.dataset.models_trained.order_by("name", "version"),
        "errors": {},
        "entered": {},
    }
    if request.method != "POST":
        return render(request, "portal/manage/opt_out.html", context)
    entered = {
        "requested_by": request.POST.get("requested_by", "").strip(),
        "reason": request.POST.get("reason", ""),
    }
    body, errors = validated(OptOutIn, entered)
    if not errors:
        try:
            item_consent_record(
                item=item,
                actor=request.user,
                kind="opt_out",
                requested_by=body.requested_by,
                reason=body.reason,
            )
        except ApiError as exc:
            errors = refusal_errors(exc, {"invalid_request": "requested_by"})
    if errors:
        context.update(errors=errors, entered=entered)
        return render(request, "portal/manage/opt_out.html", context, status=422)
    messages.success(
        request,
        f"Opt-out recorded for item {item.sha256[:12]}. Models trained on {item.dataset.name} "
        "are not usable while it stands, unless the policy allows opted-out models.",
    )
    return redirect(
        "portal:manage_dataset", org=request.membership.org.slug, dataset_id=item.dataset_id
    )


@org_page(ADMIN)
def item_image(request, dataset_id, item_id):
    item = _item_of(request, dataset_id, item_id)
    response = FileResponse(storages["datasets"].open(item.file_key))
    response["Cache-Control"] = "private, max-age=3600"
    return response
