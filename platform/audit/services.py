"""Writing to the audit log. Every append happens inside the transaction of the change it
records, so a change and its event commit or roll back together."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, event_hash, format_time
from audit.models import AuditEvent
from orgs.models import Organization

SYSTEM_ACTOR = "system"


def event_payload(event: AuditEvent) -> dict:
    return {
        "org": str(event.org_id),
        "seq": event.seq,
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "created_at": format_time(event.created_at),
    }


def _subject(subject) -> tuple[str, str]:
    if subject is None:
        return "", ""
    if isinstance(subject, tuple):
        return subject
    return subject._meta.label_lower, str(subject.pk)


def audit_append(*, org: Organization, actor, action: str, subject=None, data=None) -> AuditEvent:
    """Appends one event to the org's chain. `actor` is a user or None for the platform itself;
    `subject` a model instance or a (type, id) pair."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_append must run inside the transaction of the change it records")
    # Appends are serialized per org by locking the org's row: two writers can never read the
    # same head and fork the chain. (SQLite runs IMMEDIATE transactions, one writer at a time.)
    Organization.objects.select_for_update().only("id").get(pk=org.pk)
    head = AuditEvent.objects.for_org(org).order_by("-seq").only("seq", "hash").first()
    subject_type, subject_id = _subject(subject)
    event = AuditEvent(
        org_id=org.pk,
        seq=(head.seq + 1) if head else 1,
        actor_id=getattr(actor, "pk", None),
        actor_label=actor.get_username() if actor is not None else SYSTEM_ACTOR,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        # Normalised through JSON now so the hash covers exactly what the database gives back.
        data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
        created_at=timezone.now(),
        prev_hash=head.hash if head else GENESIS_HASH,
    )
    event.hash = event_hash(event.prev_hash, event_payload(event))
    event.save(force_insert=True)
    return event
