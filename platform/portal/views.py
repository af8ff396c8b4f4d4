"""The portal's own pages: the landing redirect, each org's start page, API tokens and the
error pages. Pages for each role live in modules named for them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mintmark.errors import ApiError
from orgs.models import ApiToken
from orgs.selectors import memberships_of
from orgs.services import token_create, token_revoke
from portal.access import org_page
from portal.nav import menu_for


@login_required
def home(request):
    """Sends a member to their first organization; an account without one is told so."""
    first = memberships_of(user=request.user).first()
    if first is None:
        return render(request, "portal/no_membership.html")
    return redirect("portal:org_home", org=first.org.slug)


@org_page()
def org_home(request):
    return render(request, "portal/org_home.html", {"entries": menu_for(request.membership.role)})


@org_page()
def tokens(request):
    membership = request.membership
    context = {"tokens": ApiToken.objects.filter(user=membership.user).order_by("-created_at")}
    if request.method == "POST":
        try:
            issued = token_create(membership=membership, name=request.POST.get("name", ""))
        except ApiError as exc:
            context["error"] = exc.detail
        else:
            # The secret is rendered once, in this response, and never stored in clear.
            context["issued"] = issued
    return render(request, "portal/tokens.html", context)


@org_page()
@require_POST
def token_revoke_view(request, token_id):
    membership = request.membership
    token = ApiToken.objects.filter(user=membership.user, pk=token_id).first()
    if token is None:
        return render(
            request,
            "portal/error.html",
            {"status": 404, "title": "No such token", "detail": "No such token."},
            status=404,
        )
    token_revoke(membership=membership, token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("portal:tokens", org=membership.org.slug)


def csrf_failure(request, reason=""):
    return render(
        request,
        "portal/error.html",
        {
            "status": 403,
            "title": "This form expired",
            "detail": "The page was open too long or cookies are blocked. Reload it and try again.",
        },
        status=403,
    )
