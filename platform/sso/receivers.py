"""Keeps each account an org's provider signs in as inside that org. The provider is the org
admin's to run and may assert any subject and email, so an account linked to it must never gain
a membership elsewhere: it would hand the other org's data to whoever runs that provider."""

from mintmark.errors import ApiError
from sso.models import SsoIdentity

REFUSAL = (
    "This account signs in through another organization's identity provider, so it cannot "
    "join this organization. Use another email address, or ask the operator."
)


def signs_in_elsewhere(*, user_id, org_id) -> bool:
    return SsoIdentity.objects.filter(user_id=user_id).exclude(org_id=org_id).exists()


def membership_guard(sender, instance, **kwargs):
    """pre_save of a Membership: one in another org than those whose providers sign in as the
    account is refused, whichever path saves it (API, portal, commands, admin site)."""
    if signs_in_elsewhere(user_id=instance.user_id, org_id=instance.org_id):
        raise ApiError(409, "account_signs_in_elsewhere", REFUSAL)
