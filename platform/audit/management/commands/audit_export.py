"""`manage.py audit_export --org SLUG [--format jsonl|csv] [--output FILE]`: streams an
organization's whole audit log in seq order, with the chain fields, so it can be re-verified
offline."""

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.export import FORMATS, export_lines
from audit.selectors import audit_events
from orgs.models import Organization


class Command(BaseCommand):
    help = (
        "Exports an organization's audit log (JSON Lines or CSV, in seq order) to stdout or a "
        "file. Each record carries prev_hash and hash so the export can be re-verified."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", metavar="SLUG", required=True)
        parser.add_argument("--format", choices=sorted(FORMATS), default="jsonl")
        parser.add_argument("--output", metavar="FILE", help="write here (default: stdout)")

    def handle(self, *args, org: str, format: str, output: str | None, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        rows = audit_events(org=organization).order_by("seq").iterator(chunk_size=2000)
        lines = export_lines(rows, format)
        if output is None:
            try:
                for line in lines:
                    self.stdout.write(line, ending="")
                self.stdout.flush()
            except BrokenPipeError:
                # The reader stopped early (`| head`): not a failure of the export. Point
                # stdout at /dev/null so the interpreter's final flush does not raise again.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        count = 0
        try:
            # newline="" so the CSV writer's \r\n line endings are written as they are.
            with Path(output).open("w", encoding="utf-8", newline="") as handle:
                for line in lines:
                    handle.write(line)
                    count += 1
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc}") from None
        events = count - 1 if format == "csv" else count
        self.stderr.write(f"Wrote {events} events of {organization.slug} to {output}")
