from django.core.validators import slug_re

from orgs.models import Membership, Organization

SLUG_MAX_LENGTH = Organization._meta.get_field("slug").max_length


def memberships_of(*, user):
    return Membership.objects.filter(user=user).select_related("org").order_by("created_at")


def slug_possible(slug: str) -> bool:
    """Whether `slug` could name an organization at all. A value that cannot (a NUL byte, which
    PostgreSQL refuses in any text comparison with an error, or an overlong one) is simply
    unknown, and is never sent to the database."""
    return len(slug) <= SLUG_MAX_LENGTH and slug_re.fullmatch(slug) is not None


def membership_resolve(*, user, org_slug: str | None) -> Membership | None:
    """The membership a request acts under: the org named by X-Org, else the user's first."""
    memberships = memberships_of(user=user)
    if org_slug:
        if not slug_possible(org_slug):
            return None
        return memberships.filter(org__slug=org_slug).first()
    return memberships.first()
