from orgs.models import Membership


def memberships_of(*, user):
    return Membership.objects.filter(user=user).select_related("org").order_by("created_at")


def membership_resolve(*, user, org_slug: str | None) -> Membership | None:
    """The membership a request acts under: the org named by X-Org, else the user's first."""
    memberships = memberships_of(user=user)
    if org_slug:
        return memberships.filter(org__slug=org_slug).first()
    return memberships.first()
