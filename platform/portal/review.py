"""Reviewer pages: the queue of held images (never the reviewer's own jobs) with why each is
held, and approve/reject with a reason, through the same review services as /api/reviews."""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mintmark.errors import ApiError
from moderation.models import GateResult, Review
from moderation.review import REVIEWERS, hold_reasons, review_decide, review_image, review_queue
from portal.access import org_page
from portal.paging import page_of, query_without_page

OUTCOME = {
    Review.Decision.APPROVE: "Approved: the image goes on to stamping and release.",
    Review.Decision.REJECT: "Rejected: the image will never be released.",
}


def _queue(membership):
    prompt_results = GateResult.objects.filter(asset=None).order_by("created_at")
    return review_queue(membership=membership).prefetch_related(
        Prefetch("gate_results", queryset=GateResult.objects.order_by("created_at")),
        Prefetch("job__gate_results", queryset=prompt_results, to_attr="prompt_results"),
    )


def _with_reasons(membership, assets: list) -> list:
    reasons = hold_reasons(org=membership.org, asset_ids=[asset.pk for asset in assets])
    for asset in assets:
        asset.hold_reasons = reasons.get(str(asset.pk), [])
    return assets


def _queue_page(request, *, status: int = 200, error=None, error_for=None, reason: str = ""):
    membership = request.membership
    page = page_of(request, _queue(membership))
    assets = _with_reasons(membership, list(page.object_list))
    context = {
        "page": page,
        "assets": assets,
        "query": query_without_page(request),
        "error": error,
        "error_for": error_for,
        "entered_reason": reason,
        # A refusal about an item that is no longer listed is shown above the list.
        "error_above": error and not any(asset.pk == error_for for asset in assets),
    }
    return render(request, "portal/review/queue.html", context, status=status)


@org_page(REVIEWERS)
def queue(request):
    return _queue_page(request)


@org_page(REVIEWERS)
def image(request, asset_id):
    return review_image(membership=request.membership, asset_id=asset_id)


@org_page(REVIEWERS)
@require_POST
def decide(request, asset_id):
    membership = request.membership
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    try:
        review = review_decide(
            membership=membership, asset_id=asset_id, decision=decision, reason=reason
        )
    except ApiError as exc:
        if exc.status == 404:
            raise
        return _refused(request, asset_id, exc, reason)
    if request.htmx:
        return render(
            request,
            "portal/review/outcome.html",
            {"review": review, "outcome": OUTCOME[review.decision]},
        )
    messages.success(request, f"{OUTCOME[review.decision]} Reason: {review.reason}")
    return redirect("portal:review_queue", org=membership.org.slug)


def _refused(request, asset_id, exc: ApiError, reason: str):
    """Bad input (422) keeps the form with the reason typed so far; a refusal that ends the
    matter (409 decided already or job ended, 403 own job) replaces the item with it."""
    if not request.htmx:
        return _queue_page(
            request, status=exc.status, error=exc.detail, error_for=asset_id, reason=reason
        )
    # htmx swaps only 2xx answers by default, so the explanation comes back as 200.
    asset = _queue(request.membership).filter(pk=asset_id).first()
    if exc.status == 422 and asset is not None:
        context = {
            "asset": _with_reasons(request.membership, [asset])[0],
            "error": exc.detail,
            "error_for": asset.pk,
            "entered_reason": reason,
        }
        return render(request, "portal/review/item.html", context)
    return render(request, "portal/review/refused.html", {"detail": exc.detail})
