"""`manage.py create_org NAME [--slug S] [--admin EMAIL [--password P]]`: creates an
organization with its default policy and the standard licences, and optionally its first
admin."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mintmark.errors import ApiError
from orgs.services import member_add, org_create


class Command(BaseCommand):
    help = (
        "Creates an organization (default policy, standard licences) and optionally its first "
        "admin. Without --password a new admin account cannot log in until one is set; an "
        "existing account keeps its password."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("--slug", default="", help="URL name (default: from NAME)")
        parser.add_argument("--admin", metavar="EMAIL", help="the organization's first admin")
        parser.add_argument("--password", help="password of the admin account, if it is new")

    def handle(self, *args, name: str, slug: str, admin: str | None, password, **options):
        if password and not admin:
            raise CommandError("--password needs --admin.")
        if not name.strip():
            raise CommandError("An organization needs a name.")
        existing = (
            admin and get_user_model().objects.filter(username__iexact=admin.strip()).exists()
        )
        try:
            # The org and its admin are created together or not at all (a weak password
            # leaves no admin-less organization behind).
            with transaction.atomic():
                org = org_create(name=name.strip(), slug=slug, actor=None)
                membership = (
                    member_add(org=org, actor=None, email=admin, role="admin", password=password)
                    if admin
                    else None
                )
        except ApiError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(f"Created organization {org.name} (slug {org.slug}, id {org.pk})")
        if membership is not None:
            user = membership.user
            if existing:
                note = "existing account, password unchanged"
            elif password:
                note = "password set"
            else:
                note = "no password: set one before logging in"
            self.stdout.write(f"Admin: {user.username} ({note})")
