"""Admin pages: the organization's members and their roles (the API's member services)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mintmark.errors import ApiError
from orgs.access import ADMIN
from orgs.api import MemberIn
from orgs.models import Membership
from orgs.services import member_add, member_remove, member_role_update
from portal.access import org_page
from portal.manage_forms import refusal_errors, validated
from portal.paging import page_of, query_without_page

WORDING = {"email": "Enter an email address, like name@example.org."}
FIELD_OF_CODE = {"already_member": "email", "weak_password": "password", "invalid_role": "role"}


def _members_page(request, *, status: int = 200, **extra):
    org = request.membership.org
    members = Membership.objects.for_org(org).select_related("user").order_by("created_at")
    context = {
        "page": page_of(request, members),
        "query": query_without_page(request),
        "roles": Membership.Role.choices,
        "errors": {},
        "row_errors": {},
        "entered": {},
        **extra,
    }
    return render(request, "portal/manage/members.html", context, status=status)


@org_page(ADMIN)
def members(request):
    if request.method != "POST":
        return _members_page(request)
    entered = {
        "email": request.POST.get("email", "").strip(),
        "role": request.POST.get("role", ""),
        "password": request.POST.get("password") or None,
    }
    body, errors = validated(MemberIn, entered, WORDING)
    if errors:
        return _members_page(request, status=422, errors=errors, entered=entered)
    try:
        added = member_add(
            org=request.membership.org,
            actor=request.user,
            email=body.email,
            role=body.role,
            password=body.password,
        )
    except ApiError as exc:
        return _members_page(
            request,
            status=exc.status,
            errors=refusal_errors(exc, FIELD_OF_CODE),
            entered=entered,
        )
    messages.success(request, f"{added.user.username} added as {added.get_role_display()}.")
    return redirect("portal:manage_members", org=request.membership.org.slug)


def _away_from_admin_pages(request, target: Membership):
    # An admin who gave up their own admin role may no longer see these pages.
    if target.pk == request.membership.pk:
        return redirect("portal:home")
    return redirect("portal:manage_members", org=request.membership.org.slug)


@org_page(ADMIN)
@require_POST
def member_role(request, member_id):
    target = Membership.objects.get_for_org(request.membership.org, pk=member_id)
    try:
        updated = member_role_update(
            membership=target, actor=request.user, role=request.POST.get("role", "")
        )
    except ApiError as exc:
        return _members_page(request, status=exc.status, row_errors={target.pk: exc.detail})
    messages.success(request, f"{updated.user.username} is now {updated.get_role_display()}.")
    return _away_from_admin_pages(request, updated)


@org_page(ADMIN)
def member_remove_view(request, member_id):
    target = Membership.objects.get_for_org(request.membership.org, pk=member_id)
    context = {"target": target}
    if request.method == "POST":
        try:
            member_remove(membership=target, actor=request.user)
        except ApiError as exc:
            context["error"] = exc.detail
            return render(request, "portal/manage/member_remove.html", context, status=exc.status)
        messages.success(request, f"{target.user.username} removed from {target.org.name}.")
        return _away_from_admin_pages(request, target)
    return render(request, "portal/manage/member_remove.html", context)
