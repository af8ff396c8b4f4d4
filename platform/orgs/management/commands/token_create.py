"""`manage.py token_create --org SLUG --user USERNAME --name NAME`: issues an API token for a
member and prints only its secret, so that `TOKEN=$(manage.py token_create …)` works in a
script."""

from django.core.management.base import BaseCommand, CommandError

from mintmark.errors import ApiError
from orgs.models import Membership
from orgs.services import token_create


class Command(BaseCommand):
    help = (
        "Issues an API token for a member of an organization and prints its secret alone on "
        "one line (it is shown only this once; only its hash is stored)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", required=True)
        parser.add_argument("--user", metavar="USERNAME", required=True)
        parser.add_argument("--name", required=True, help="what the token is for, e.g. 'cli'")

    def handle(self, *args, org: str, user: str, name: str, **options):
        membership = (
            Membership.objects.select_related("org", "user")
            .filter(org__slug=org, user__username__iexact=user.strip())
            .first()
        )
        if membership is None:
            raise CommandError(f"{user!r} is not a member of an organization with slug {org!r}.")
        try:
            issued = token_create(membership=membership, name=name)
        except ApiError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(issued.secret)
