from generation.models import Asset, GenerationJob
from orgs.models import Membership

Role = Membership.Role
# Staff see their own jobs; the roles that oversee the org see all of them.
SEES_ALL_JOBS = frozenset({Role.ADMIN, Role.REVIEWER, Role.AUDITOR})


def jobs_visible(*, membership: Membership):
    jobs = GenerationJob.objects.for_org(membership.org)
    if membership.role not in SEES_ALL_JOBS:
        jobs = jobs.filter(user=membership.user)
    return jobs


def assets_visible(*, membership: Membership):
    assets = Asset.objects.for_org(membership.org)
    if membership.role not in SEES_ALL_JOBS:
        assets = assets.filter(job__user=membership.user)
    return assets
