"""`manage.py provenance_export --org SLUG --output FILE` writes an organization's audit log
plus every asset's provenance record as signed JSON Lines; `--check FILE` re-verifies such a
file (digest, signature, certificate under this installation's root, audit chain)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.provenance_record import org_provenance_records
from orgs.models import Organization
from provenance.export import export_check, export_lines
from provenance.release import StampingError, org_signer, trust_anchors


class Command(BaseCommand):
    help = (
        "Exports an organization's audit log and provenance records as signed JSON Lines "
        "(--org, --output), or checks such an export (--check FILE)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG")
        parser.add_argument("--output", metavar="FILE", help="where to write the export")
        parser.add_argument("--check", metavar="FILE", help="verify an export instead")

    def handle(self, *args, org: str | None, output: str | None, check: str | None, **options):
        if check:
            self._check(Path(check))
            return
        if not org or not output:
            raise CommandError("Give --org SLUG and --output FILE (or --check FILE).")
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        try:
            signer = org_signer(organization)
        except StampingError as exc:
            raise CommandError(f"{exc} (run manage.py provenance_init)") from None
        try:
            with Path(output).open("w", encoding="utf-8") as handle:
                for line in export_lines(
                    org=organization, signer=signer, records=org_provenance_records(organization)
                ):
                    handle.write(line)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc}") from None
        result = self._verify(Path(output))
        if not result.ok:
            raise CommandError(f"Wrote {output}, but it does not check: {result.reason}")
        self.stdout.write(
            f"Wrote {result.events} audit events and {result.records} provenance records of "
            f"{organization.slug} to {output}; chain head {result.head_hash}; signed."
        )

    def _verify(self, path: Path):
        try:
            with path.open(encoding="utf-8") as handle:
                return export_check(handle, trust_anchors_pem=trust_anchors())
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None

    def _check(self, path: Path) -> None:
        result = self._verify(path)
        if not result.ok:
            raise CommandError(f"{path}: NOT valid: {result.reason}")
        self.stdout.write(
            f"{path}: valid: {result.events} audit events, {result.records} provenance records, "
            f"chain head {result.head_hash}, signature and certificate verified."
        )
