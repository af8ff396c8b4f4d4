"""`manage.py audit_verify [--org SLUG]`: recomputes each organization's audit hash chain and
names the first broken link. Exits non-zero if any chain is broken."""

from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_verify
from orgs.models import Organization


class Command(BaseCommand):
    help = (
        "Recomputes the audit hash chain of one organization (--org) or of every organization, "
        "prints one line per organization and exits non-zero if any chain is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", help="only this organization (default: all)")

    def handle(self, *args, org: str | None, **options):
        orgs = Organization.objects.order_by("slug")
        if org:
            orgs = orgs.filter(slug=org)
            if not orgs.exists():
                raise CommandError(f"No organization with slug {org!r}.")
        broken = []
        for organization in orgs.iterator():
            result = audit_verify(org=organization)
            if result.ok:
                self.stdout.write(
                    f"{organization.slug}: ok, checked {result.checked} events, "
                    f"head {result.head_hash}"
                )
            else:
                broken.append(f"{organization.slug} (seq {result.first_bad_seq})")
                self.stdout.write(
                    f"{organization.slug}: BROKEN at seq {result.first_bad_seq}: {result.reason} "
                    f"(checked {result.checked} events, last good hash {result.head_hash})"
                )
        if broken:
            raise CommandError(f"{len(broken)} audit chain(s) broken: {', '.join(broken)}")
