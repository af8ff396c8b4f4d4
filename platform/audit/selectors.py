from collections.abc import Iterator
from datetime import datetime

from audit.chain import ChainLink, VerifyResult, verify_chain
from audit.models import AuditEvent
from audit.services import event_payload
from orgs.models import Organization


def audit_events(
    *,
    org: Organization,
    action: str | None = None,
    actor: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    queryset = AuditEvent.objects.for_org(org)
    if action:
        # "policy." matches every policy action; "policy.created" exactly that one.
        queryset = (
            queryset.filter(action__startswith=action)
            if action.endswith(".")
            else queryset.filter(action=action)
        )
    if actor:
        queryset = queryset.filter(actor_label=actor)
    if subject_type:
        queryset = queryset.filter(subject_type=subject_type)
    if subject_id:
        queryset = queryset.filter(subject_id=subject_id)
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    return queryset


def audit_verify(*, org: Organization) -> VerifyResult:
    """Recomputes the org's whole chain from the stored rows."""

    def links() -> Iterator[ChainLink]:
        rows = AuditEvent.objects.for_org(org).order_by("seq").iterator(chunk_size=2000)
        for event in rows:
            yield ChainLink(event.seq, event.prev_hash, event.hash, event_payload(event))

    return verify_chain(links())


def event_record(event: AuditEvent) -> dict:
    """The exported form of an event: its hashed payload plus the chain fields, so an export
    can be re-verified offline."""
    return {**event_payload(event), "prev_hash": event.prev_hash, "hash": event.hash}
