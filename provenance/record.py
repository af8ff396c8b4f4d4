"""What provenance itself knows of a released asset: its stamp (watermark payload, manifest,
fingerprint, release time) and the certificate that signed it. The full record of an asset,
from prompt to release, is assembled by generation/provenance_record.py around this."""

from orgs.access import ADMIN_AUDITOR
from orgs.models import Membership
from provenance import keys
from provenance.models import Stamp
from provenance.release import keys_dir

# Auditors and admins of the org, and the staff member who made the asset.
PROVENANCE_READERS = ADMIN_AUDITOR | {Membership.Role.STAFF}


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


def certificate_summary(org, serial_hex: str) -> dict | None:
    """The org certificate (current or retired) that signed, by serial."""
    try:
        certificates = keys.org_certificates(keys_dir(), org.slug)
    except keys.KeyMissing:
        certificates = []
    for cert in certificates:
        if cert.serial_hex == serial_hex:
            return {
                "subject": cert.subject,
                "issuer": cert.issuer,
                "serial": cert.serial_hex,
                "sha256": cert.sha256,
                "not_before": _time(cert.not_before),
                "not_after": _time(cert.not_after),
                "pem": cert.pem.decode("ascii"),
            }
    return {"serial": serial_hex, "note": "certificate file not found"} if serial_hex else None


def stamp_summary(*, asset_id, org) -> dict | None:
    """The stamp of a released (or being released) asset, or None before stamping."""
    stamp = Stamp.objects.filter(asset_id=asset_id).first()
    if stamp is None:
        return None
    return {
        "watermark": {"algorithm": stamp.watermark_algorithm, "payload": f"{stamp.payload:x}"},
        "manifest_label": stamp.manifest_label,
        "released_sha256": stamp.sha256,
        "fingerprint": {"phash": stamp.phash, "dhash": stamp.dhash, "whash": stamp.whash},
        "released_at": _time(stamp.released_at),
        "certificate": certificate_summary(org, stamp.certificate_serial),
    }
