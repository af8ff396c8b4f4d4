"""Seeds the demo organization of the embedded default: org "Demo" (slug demo), one login per
role, and a tiny demo model with the small CC0 dataset it is registered as trained on, so a
generation request runs end to end. Idempotent: a second run creates nothing and prints the
same logins.

The demo password is public (it is printed and written in the README): never run this against a
database that real people use."""

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from generation.demo import demo_model_ensure
from mintmark.errors import ApiError
from orgs.models import Membership, Organization
from orgs.services import member_add, org_create

DEMO_ORG_NAME = "Demo"
DEMO_ORG_SLUG = "demo"
DEMO_PASSWORD = "mintmark-demo"  # noqa: S105 - public on purpose, printed and in the README
DEMO_ROLES = ("admin", "staff", "reviewer", "auditor")
DEFAULT_URL = "http://127.0.0.1:8000/"


def demo_email(role: str) -> str:
    return f"{role}@demo.local"


class Command(BaseCommand):
    help = (
        f"Creates the demo organization {DEMO_ORG_NAME!r} (slug {DEMO_ORG_SLUG!r}) with one login "
        f"per role ({', '.join(DEMO_ROLES)}) and prints the logins. Idempotent. The default "
        f"password {DEMO_PASSWORD!r} is public: for demos only."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"password for logins this run creates (default: {DEMO_PASSWORD})",
        )
        parser.add_argument(
            "--url",
            default=DEFAULT_URL,
            help=f"the portal's address, printed with the logins (default: {DEFAULT_URL})",
        )

    def handle(self, *args, password: str, url: str, **options):
        try:
            with transaction.atomic():
                org = self._org()
                rows = [self._login(org, role, password) for role in DEMO_ROLES]
                model = demo_model_ensure(org=org, root=settings.DATA_DIR / "models")
        except ApiError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from None
        self._print(org, rows, url)
        self.stdout.write(
            f"Demo model: {model} (random weights: its images are noise; it is there to try "
            "the platform end to end)"
        )

    def _org(self) -> Organization:
        org = Organization.objects.filter(slug=DEMO_ORG_SLUG).first()
        if org is None:
            org = org_create(name=DEMO_ORG_NAME, slug=DEMO_ORG_SLUG, actor=None)
        return org

    def _login(self, org: Organization, role: str, password: str) -> tuple[str, str, str]:
        email = demo_email(role)
        membership = (
            Membership.objects.for_org(org).select_related("user").filter(user__username=email)
        ).first()
        if membership is None:
            membership = member_add(org=org, actor=None, email=email, role=role, password=password)
        # Existing accounts are left as they are: their password is shown only if it is the one
        # given (an operator may have changed it), and their role is whatever it is now.
        user = membership.user
        shown = password if _password_matches(user, password) else "(unchanged, set earlier)"
        return user.username, membership.role, shown

    def _print(self, org: Organization, rows: list[tuple[str, str, str]], url: str) -> None:
        header = ("username", "role", "password")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]

        def line(cells) -> str:
            padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            return "  ".join(padded).rstrip()

        out = self.stdout
        out.write(f"Demo organization: {org.name} (slug {org.slug})")
        out.write("")
        out.write(line(header))
        out.write(line("-" * width for width in widths))
        for row in rows:
            out.write(line(row))
        out.write("")
        out.write(f"Portal: {url}")
        out.write(f"API docs: {url.rstrip('/')}/api/docs")


def _password_matches(user, password: str) -> bool:
    # User.check_password() may re-hash and save a password whose hasher is outdated; this
    # command promises to change nothing on a re-run, so it compares without that side effect.
    return user.has_usable_password() and check_password(password, user.password)
