"""Template context for every portal page: the acting membership, its menu and, for the roles
that generate, its quota."""

from django.urls import reverse

from generation.quota import membership_quota
from generation.selectors import SUBMITTERS
from orgs.selectors import memberships_of
from portal.nav import menu_for


def portal(request) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    slug = membership.org.slug
    return {
        "membership": membership,
        "org": membership.org,
        "menu": [
            {
                "label": entry.label,
                "url": reverse(f"portal:{entry.name}", kwargs={"org": slug}),
                "current": request.resolver_match is not None
                and request.resolver_match.url_name == entry.name,
            }
            for entry in menu_for(membership.role)
        ],
        "other_orgs": [
            m.org for m in memberships_of(user=request.user) if m.org_id != membership.org_id
        ],
        # Reviewers and auditors cannot generate: a quota would be a number they cannot use.
        "quota": membership_quota(membership) if membership.role in SUBMITTERS else None,
    }
