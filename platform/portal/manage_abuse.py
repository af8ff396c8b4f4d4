"""Admin page: users suspended for repeated blocked requests, and lifting a suspension with
a reason (the API's abuse service)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mintmark.errors import ApiError
from moderation.abuse import suspension_lift
from moderation.api import LiftIn
from moderation.models import Suspension
from orgs.access import ADMIN
from policies.selectors import policy_active_rules
from portal.access import org_page
from portal.manage_forms import validated
from portal.paging import page_of, query_without_page

RECENT_LIFTS = 20


def _abuse_page(request, *, status: int = 200, **extra):
    org = request.membership.org
    suspensions = Suspension.objects.for_org(org).select_related("user", "lifted_by")
    context = {
        "page": page_of(
            request, suspensions.filter(lifted_at__isnull=True).order_by("-created_at")
        ),
        "query": query_without_page(request),
        "lifted": suspensions.filter(lifted_at__isnull=False).order_by("-lifted_at")[:RECENT_LIFTS],
        "recent_lifts": RECENT_LIFTS,
        "abuse": policy_active_rules(org=org).abuse,
        "row_errors": {},
        "entered": {},
        **extra,
    }
    return render(request, "portal/manage/abuse.html", context, status=status)


@org_page(ADMIN)
def abuse(request):
    return _abuse_page(request)


@org_page(ADMIN)
@require_POST
def suspension_lift_view(request, suspension_id):
    suspension = Suspension.objects.get_for_org(request.membership.org, pk=suspension_id)
    reason = request.POST.get("reason", "")

    def refused(status: int, detail: str):
        if suspension.lifted_at is not None:
            # Not in the open list any more: there is no row to show the refusal on.
            return _abuse_page(request, status=status, error=detail)
        return _abuse_page(
            request,
            status=status,
            row_errors={suspension.pk: detail},
            entered={suspension.pk: reason},
        )

    body, errors = validated(LiftIn, {"reason": reason})
    if errors:
        return refused(422, f"Reason: {errors['reason']}")
    try:
        lifted = suspension_lift(suspension=suspension, actor=request.user, reason=body.reason)
    except ApiError as exc:
        return refused(exc.status, exc.detail)
    messages.success(request, f"Suspension of {lifted.user.username} lifted.")
    return redirect("portal:manage_abuse", org=request.membership.org.slug)
