"""`manage.py provenance_init [--org SLUG] [--rotate]`: makes the installation's local root CA
and each organization's content-signing key and certificate, keeping whatever already exists;
`--rotate` replaces the signing key, keeping the old certificate so images it signed still
verify. Prints certificates, never keys."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.services import audit_append
from orgs.models import Organization
from provenance import keys
from provenance.release import watermark_key
from provenance.signing import signing_passphrase


def _describe(cert: keys.CertInfo) -> str:
    return (
        f"{cert.subject}, serial {cert.serial_hex}, sha256 {cert.sha256}, "
        f"valid until {cert.not_after:%Y-%m-%d}"
    )


class Command(BaseCommand):
    help = (
        "Makes the local root CA and each organization's content-signing key and certificate "
        "under DATA_DIR/keys, keeping those that exist. --rotate issues a new key and retires "
        "the old certificate (kept for verification)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", help="only this organization (default: all)")
        parser.add_argument(
            "--rotate", action="store_true", help="replace the signing key (old cert kept)"
        )

    def handle(self, *args, org: str | None, rotate: bool, **options):
        orgs = Organization.objects.order_by("slug")
        if org is not None:
            orgs = orgs.filter(slug=org.strip())
            if not orgs.exists():
                raise CommandError(f"No organization with slug {org!r}.")
        base = settings.DATA_DIR / "keys"
        passphrase = signing_passphrase()
        try:
            root, created = keys.ca_ensure(base, passphrase)
            self.stdout.write(
                f"Root CA {'created' if created else 'kept'}: {_describe(root)} ({root.path})"
            )
            for organization in orgs:
                self._org(base, organization, passphrase, rotate=rotate)
            watermark_key()
            self.stdout.write(f"Watermark key: {base / 'watermark.key'} (kept once made)")
        except keys.KeyMissing as exc:
            # KeyLocked too: existing files that do not open are reported, never replaced.
            raise CommandError(str(exc)) from None
        if not orgs.exists():
            self.stdout.write("No organizations yet: run provenance_init again after create_org.")

    def _org(self, base, org: Organization, passphrase: bytes, *, rotate: bool) -> None:
        with transaction.atomic():
            if rotate:
                before = keys.org_certificates(base, org.slug)
                info = keys.org_key_rotate(base, org.slug, org.name, passphrase)
                action, verb = "signing_key.rotated", "rotated"
            else:
                before = []
                info = keys.org_key_ensure(base, org.slug, org.name, passphrase)
                action, verb = "signing_key.created", "created" if info.created else "kept"
            if info.created:
                audit_append(
                    org=org,
                    actor=None,
                    action=action,
                    subject=org,
                    data={
                        "serial": info.cert.serial_hex,
                        "sha256": info.cert.sha256,
                        "subject": info.cert.subject,
                        "not_after": info.cert.not_after.isoformat(),
                        "retired": before[0].serial_hex if before else None,
                    },
                )
        self.stdout.write(f"{org.slug}: signing key {verb}: {_describe(info.cert)}")
        self.stdout.write(f"  certificate {info.cert.path}")
        self.stdout.write(f"  chain {info.chain_path}")
        self.stdout.write(f"  key (encrypted) {info.key_path}")
        if before:
            self.stdout.write(f"  retired {before[0].serial_hex}, kept for verification")
