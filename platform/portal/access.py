"""Who may see a portal page: the organization named in the URL and the caller's role there.

Portal pages live under /o/<org>/ and call the same services and selectors as the API, which
refuse with ApiError; here those refusals become the portal's own error pages, so another
organization's page is a 404 (as in the API) and a page for another role is a 403."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import render

from mintmark.errors import ApiError, concurrent_conflict
from orgs.access import ALL_ROLES
from orgs.selectors import memberships_of


def org_page(roles: frozenset = ALL_ROLES):
    """Decorates a view taking (request, org, ...): resolves `org` (a slug) to the caller's
    membership as `request.membership`, checks the role, and renders refusals as pages."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, org: str, *args, **kwargs):
            membership = memberships_of(user=request.user).filter(org__slug=org).first()
            if membership is None:
                raise Http404("No such organization.")
            if membership.role not in roles:
                needed = " or ".join(sorted(roles))
                raise PermissionDenied(
                    f"This page is for the {needed} role; you are {membership.role}."
                )
            request.membership = membership
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return api_error_page(request, exc)
            except IntegrityError:
                return api_error_page(request, concurrent_conflict())

        wrapper.portal_roles = roles
        return wrapper

    return decorate


def api_error_page(request, exc: ApiError):
    if exc.status == 404:
        raise Http404(exc.detail)
    if exc.status == 403:
        raise PermissionDenied(exc.detail)
    return render(
        request,
        "portal/error.html",
        {"status": exc.status, "title": "That did not work", "detail": exc.detail},
        status=exc.status,
    )
