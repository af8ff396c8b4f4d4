"""Seeds the demo organization of the embedded default: org "Demo" (slug demo), one login per
role, and the default model, models/mintmark-shapes, registered with its model card and its
training data, the Mintmark Shapes (CC0) dataset, imported item by item (generation/demo.py);
the demo policy's memorization radius suits that model. Idempotent: a second run creates
nothing, skips the drawing and import it finished, and prints the same lines.

The demo password is public (it is printed and written in the README): never run this against a
database that real people use."""

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from defaultmodel import scenes
from generation.demo import DEMO_MEMORIZATION_RADIUS, default_model_ensure, demo_policy_ensure
from mintmark.errors import ApiError
from mintmark.progress import progress
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
            "--shapes-items",
            type=int,
            default=scenes.DEFAULT_SIZE,
            metavar="N",
            help=f"training items of {scenes.DATASET_NAME} to import (default "
            f"{scenes.DEFAULT_SIZE}, the whole training set; fewer only for quick tests)",
        )
        parser.add_argument(
            "--url",
            default=DEFAULT_URL,
            help=f"the portal's address, printed with the logins (default: {DEFAULT_URL})",
        )

    def handle(self, *args, password: str, url: str, shapes_items: int, **options):
        if shapes_items < 1:
            raise CommandError("--shapes-items must be 1 or more.")
        try:
            with transaction.atomic():
                org = self._org()
                rows = [self._login(org, role, password) for role in DEMO_ROLES]
                demo_policy_ensure(org=org)
            # Outside the transaction: the import commits in batches, so an interrupted first
            # run keeps what it imported and the next run resumes.
            model = default_model_ensure(
                org=org,
                n=shapes_items,
                export_root=settings.DATA_DIR / "exports",
                progress=self._progress,
                say=self.stderr.write,
            )
        except ApiError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from None
        self._print(org, rows, url)
        self.stdout.write(
            f"Default model: {model} (models/mintmark-shapes), trained on "
            f'"{scenes.DATASET_NAME}", {scenes.LICENCE} by {scenes.CREATOR}; '
            f"memorization radius {DEMO_MEMORIZATION_RADIUS}"
        )

    @staticmethod
    def _progress(rows):
        return progress(rows, desc="import", unit="image")

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
