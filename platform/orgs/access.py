"""Who may act: the membership a request acts under and the roles an endpoint admits."""

from mintmark.errors import ApiError
from orgs.models import Membership
from orgs.selectors import membership_resolve

Role = Membership.Role
ALL_ROLES = frozenset(Role.values)
ADMIN = frozenset({Role.ADMIN})
ADMIN_AUDITOR = frozenset({Role.ADMIN, Role.AUDITOR})


def request_membership(request) -> Membership:
    """The caller's membership (cached on the request). A user who is not a member of the org
    named by X-Org gets 404, as for any object of an org they cannot see."""
    cached = getattr(request, "_mintmark_membership", None)
    if cached is not None:
        return cached
    user = request.auth
    membership = membership_resolve(user=user, org_slug=request.headers.get("X-Org"))
    if membership is None:
        if request.headers.get("X-Org"):
            raise ApiError(404, "not_found", "No such organization.")
        raise ApiError(403, "no_membership", "Your account is not a member of any organization.")
    request._mintmark_membership = membership
    return membership


def require_role(request, roles: frozenset) -> Membership:
    membership = request_membership(request)
    if membership.role not in roles:
        needed = ", ".join(sorted(roles))
        raise ApiError(
            403, "forbidden", f"This needs the role {needed}; you are {membership.role}."
        )
    return membership
