from generation.selectors import SEES_ALL_JOBS
from orgs.models import Membership
from webhooks.models import Delivery


def deliveries_visible(*, membership: Membership):
    """Deliveries of the jobs the member sees: staff their own, the overseeing roles all."""
    deliveries = Delivery.objects.for_org(membership.org).select_related("job")
    if membership.role not in SEES_ALL_JOBS:
        deliveries = deliveries.filter(job__user=membership.user)
    return deliveries
