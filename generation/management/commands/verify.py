"""`manage.py verify FILE`: the same verdict as POST /api/verify, for an operator, with the
full provenance record when the image was issued here."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.provenance_record import provenance_record
from mintmark.errors import ApiError
from provenance.verify import image_verify


class Command(BaseCommand):
    help = (
        "Verifies an image file: content credentials, watermark and fingerprint, and prints one "
        "JSON verdict (issued_here / altered / unknown) with the evidence."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--record", action="store_true", help="include the asset's full provenance record"
        )

    def handle(self, *args, file: str, record: bool, **options):
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from None
        try:
            result = image_verify(data)
        except ApiError as exc:
            raise CommandError(exc.detail) from None
        out = {
            "verdict": result.verdict,
            "identified_by": result.identified_by,
            "explanation": result.explanation,
            "evidence": result.evidence,
            "c2pa": result.c2pa,
            "watermark": result.watermark,
            "fingerprint": result.fingerprint,
            "asset": str(result.asset.pk) if result.asset else None,
        }
        if record and result.asset is not None:
            out["provenance"] = provenance_record(result.asset)
        self.stdout.write(json.dumps(out, indent=2, default=str))
