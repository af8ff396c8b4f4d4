"""A signed export of an org's audit log plus the provenance record of every asset, as JSON
Lines: a header, the audit events in seq order, the records, then a trailer with the chain head
hash, the event and record counts, the sha256 of every line before it, and the org's signature
over all four (with the certificate chain, so it checks offline against the installation's root
certificate). Every trailer field a reader could rely on is either signed or re-derived.

`export_check` re-verifies a file: the digest, the signature, the certificate under the trust
anchors, the audit chain itself, and that the signed counts and head are those of the lines."""

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.http import StreamingHttpResponse
from django.utils import timezone

from audit.chain import GENESIS_HASH, ChainLink, verify_chain
from audit.models import AuditEvent
from audit.selectors import event_record
from mintmark.errors import ApiError
from provenance.release import StampingError, org_signer

FORMAT = "mintmark-provenance-export/2"
# The trailer fields the signature covers, besides the format.
SIGNED_FIELDS = ("head_hash", "events", "records", "sha256")


def _line(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def signed_statement(fields: dict) -> bytes:
    """The bytes the org signs: the format and the signed trailer fields as canonical JSON.
    Raises KeyError when a field is missing."""
    statement = {"format": FORMAT, **{name: fields[name] for name in SIGNED_FIELDS}}
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")


def export_lines(*, org, signer, records: Iterable[dict]) -> Iterator[str]:
    """The export's lines; `records` are the assets' provenance records, in the order they
    are to appear (the caller assembles them, so this module reads no generation data)."""
    digest = hashlib.sha256()

    def emit(obj: dict) -> str:
        line = _line(obj)
        digest.update(line.encode("utf-8"))
        return line

    yield emit({"type": "header", "format": FORMAT, "org": org.slug, "at": timezone.now()})
    head, count = GENESIS_HASH, 0
    for event in AuditEvent.objects.for_org(org).order_by("seq").iterator():
        head, count = event.hash, count + 1
        yield emit({"type": "audit_event", **event_record(event)})
    written = 0
    for record in records:
        written += 1
        yield emit({"type": "provenance", "record": record})
    signed = {"head_hash": head, "events": count, "records": written, "sha256": digest.hexdigest()}
    signature = signer.sign(signed_statement(signed))
    yield _line(
        {
            "type": "trailer",
            **signed,
            "alg": signer.alg.name,
            "signature": base64.b64encode(signature).decode("ascii"),
            "certificate_chain": signer.certificate_chain_pem.decode("ascii"),
        }
    )


def export_response(*, org, records: Iterable[dict]) -> StreamingHttpResponse:
    """The signed export as a download; 409 no_signing_key before anything is streamed when
    the org has no signing key yet."""
    try:
        signer = org_signer(org)
    except StampingError as exc:
        raise ApiError(409, "no_signing_key", f"{exc}; an operator runs provenance_init.") from None
    response = StreamingHttpResponse(
        export_lines(org=org, signer=signer, records=records), content_type="application/x-ndjson"
    )
    response["Content-Disposition"] = f'attachment; filename="{org.slug}-provenance.jsonl"'
    return response


@dataclass(frozen=True)
class ExportCheck:
    ok: bool
    reason: str
    events: int = 0
    records: int = 0
    head_hash: str = ""


def _link(record: dict) -> ChainLink:
    payload = {k: v for k, v in record.items() if k not in ("type", "prev_hash", "hash")}
    return ChainLink(record.get("seq"), record.get("prev_hash"), record.get("hash"), payload)


def _signature_der(signature: bytes) -> bytes:
    # ES256 signers may answer raw r||s (64 bytes) as C2PA callbacks do, or DER.
    if len(signature) == 64:
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        return encode_dss_signature(r, s)
    return signature


def _chain_ok(chain: list[x509.Certificate], anchors: list[x509.Certificate]) -> bool:
    leaf = chain[0]
    for anchor in anchors:
        try:
            leaf.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def export_check(lines: Iterable[str], *, trust_anchors_pem: bytes | None) -> ExportCheck:
    digest = hashlib.sha256()
    links, records, trailer = [], 0, None
    for number, line in enumerate(lines, 1):
        if trailer is not None:
            if line.strip():
                return ExportCheck(False, f"line {number} follows the signed trailer")
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            return ExportCheck(False, f"line {number} is not JSON")
        if not isinstance(obj, dict):
            return ExportCheck(False, f"line {number} is not a JSON object")
        if obj.get("type") == "trailer":
            trailer = obj
            continue
        digest.update(line.encode("utf-8"))
        if obj.get("type") == "audit_event":
            links.append(_link(obj))
        elif obj.get("type") == "provenance":
            records += 1
    if trailer is None:
        return ExportCheck(False, "no trailer: the file is truncated")
    if trailer.get("alg") != "ES256":
        return ExportCheck(False, f"signature algorithm {trailer.get('alg')!r} is not ES256")
    if digest.hexdigest() != trailer.get("sha256"):
        return ExportCheck(False, "the content does not match the signed digest")
    try:
        chain = x509.load_pem_x509_certificates(trailer["certificate_chain"].encode("ascii"))
        signature = _signature_der(base64.b64decode(trailer["signature"]))
        chain[0].public_key().verify(
            signature, signed_statement(trailer), ec.ECDSA(hashes.SHA256())
        )
    except (KeyError, ValueError, TypeError, AttributeError, InvalidSignature):
        return ExportCheck(False, "the signature does not verify")
    anchors = x509.load_pem_x509_certificates(trust_anchors_pem) if trust_anchors_pem else []
    if not _chain_ok(chain, anchors):
        return ExportCheck(False, "the signing certificate is not issued by a trusted root")
    chain_result = verify_chain(links)
    if not chain_result.ok:
        return ExportCheck(False, f"audit chain broken at seq {chain_result.first_bad_seq}")
    if chain_result.head_hash != trailer.get("head_hash"):
        return ExportCheck(False, "the audit chain head does not match the trailer")
    if (trailer["events"], trailer["records"]) != (len(links), records):
        return ExportCheck(False, "the signed counts do not match the lines")
    return ExportCheck(True, "", len(links), records, trailer["head_hash"])
