from django.core.management.base import CommandError

from orgs.models import Membership, Organization


def command_actor(org: Organization, username: str | None):
    """The user a command acts as: None (the platform itself) or an admin of the org."""
    if username is None:
        return None
    membership = (
        Membership.objects.for_org(org)
        .select_related("user")
        .filter(user__username__iexact=username.strip())
        .first()
    )
    if membership is None:
        raise CommandError(f"{username!r} is not a member of {org.slug}.")
    if membership.role != Membership.Role.ADMIN:
        raise CommandError(f"{username!r} is {membership.role} of {org.slug}; this needs admin.")
    return membership.user
