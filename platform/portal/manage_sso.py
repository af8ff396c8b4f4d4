"""Admin page: the organization's single sign-on (the same service and checks as
PATCH /api/sso; README "Single sign-on")."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from mintmark.errors import ApiError
from orgs.access import ADMIN
from portal.access import org_page
from portal.manage_forms import GENERAL, refusal_errors
from sso.config import sso_config, sso_config_out, sso_config_update
from sso.models import ROLE_ORDER

FIELD_OF_CODE = {
    "invalid_issuer": "issuer",
    "invalid_client_id": "client_id",
    "invalid_scopes": "scopes",
    "invalid_groups_claim": "groups_claim",
    "invalid_role_groups": "role_groups",
    "sso_incomplete": "enabled",
    "password_login_needs_sso": "password_login",
}


def _groups(text: str) -> list[str]:
    return [group.strip() for group in text.replace("\n", ",").split(",") if group.strip()]


def _page(request, values: dict, *, errors=None, status: int = 200):
    org = request.membership.org
    context = {
        "values": values,
        "roles": [(role, ", ".join(values["role_groups"].get(role, []))) for role in ROLE_ORDER],
        "errors": errors or {},
        "general": GENERAL,
        "redirect_uri": request.build_absolute_uri(reverse("sso:callback")),
        "logout_uri": request.build_absolute_uri(reverse("portal:login")),
        "login_link": request.build_absolute_uri(reverse("sso:login") + f"?org={org.slug}"),
    }
    return render(request, "portal/manage/sso.html", context, status=status)


@org_page(ADMIN)
def sso(request):
    config = sso_config(request.membership.org)
    if request.method != "POST":
        return _page(request, sso_config_out(config))
    changes = {
        "enabled": request.POST.get("enabled") == "on",
        "issuer": request.POST.get("issuer", ""),
        "client_id": request.POST.get("client_id", ""),
        "scopes": request.POST.get("scopes", ""),
        "groups_claim": request.POST.get("groups_claim", ""),
        "role_groups": {
            role: _groups(request.POST.get(f"groups_{role}", "")) for role in ROLE_ORDER
        },
        "password_login": request.POST.get("password_login") == "on",
    }
    try:
        sso_config_update(org=request.membership.org, actor=request.user, **changes)
    except ApiError as exc:
        entered = {**sso_config_out(config), **changes}
        return _page(request, entered, errors=refusal_errors(exc, FIELD_OF_CODE), status=exc.status)
    messages.success(request, "Single sign-on settings saved.")
    return redirect("portal:manage_sso", org=request.membership.org.slug)
