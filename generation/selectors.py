from generation.models import Asset, GenerationJob
from orgs.models import Membership

Role = Membership.Role
# Staff see their own jobs; the roles that oversee the org see all of them.
SEES_ALL_JOBS = frozenset({Role.ADMIN, Role.REVIEWER, Role.AUDITOR})
# The roles that may submit and cancel jobs.
SUBMITTERS = frozenset({Role.ADMIN, Role.STAFF})


def jobs_visible(*, membership: Membership):
    jobs = GenerationJob.objects.for_org(membership.org)
    if membership.role not in SEES_ALL_JOBS:
        jobs = jobs.filter(user=membership.user)
    return jobs


def jobs_with_outcomes(*, membership: Membership):
    """The visible jobs with everything `job_summary` reads, fetched in a fixed few queries."""
    return (
        jobs_visible(membership=membership)
        .select_related("user", "model", "policy")
        .prefetch_related("assets__gate_results", "assets__stamp", "assets__review", "assets__hold")
    )


def assets_visible(*, membership: Membership):
    assets = Asset.objects.for_org(membership.org)
    if membership.role not in SEES_ALL_JOBS:
        assets = assets.filter(job__user=membership.user)
    return assets


def asset_released_get(*, membership: Membership, asset_id) -> Asset:
    """A released asset the member may see. Anything not RELEASED is a 404 like a missing one:
    quarantined, held and blocked files are never served."""
    return assets_visible(membership=membership).get_for_org(
        membership.org, pk=asset_id, state=Asset.State.RELEASED
    )
