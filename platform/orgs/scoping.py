"""The one mechanism that scopes data to an organization.

Every org-owned model uses OrgScopedQuerySet as its manager; views and services fetch through
`for_org` / `get_for_org`, so an object of another organization is indistinguishable from one
that does not exist (404, never 403)."""

from django.core.exceptions import ValidationError
from django.db import models

from mintmark.errors import ApiError


class OrgScopedQuerySet(models.QuerySet):
    # The lookup from the model to its Organization; models owned through a parent override it.
    org_lookup = "org"

    def for_org(self, org) -> "OrgScopedQuerySet":
        return self.filter(**{self.org_lookup: org})

    def get_for_org(self, org, **lookup):
        try:
            return self.for_org(org).get(**lookup)
        except (self.model.DoesNotExist, ValidationError, ValueError, TypeError):
            # ValueError/TypeError: a malformed id is as unknown as a missing one.
            raise ApiError(404, "not_found", f"No such {self.model._meta.verbose_name}.") from None


def scoped_queryset(org_lookup: str) -> type[OrgScopedQuerySet]:
    return type("OrgScopedQuerySet", (OrgScopedQuerySet,), {"org_lookup": org_lookup})
