"""The audit log in the database: appends chain per org, UPDATE and DELETE are refused by the
database itself (whatever the client), a row forged with the triggers bypassed is named by
verification, and concurrent appends never fork the chain (PostgreSQL)."""

from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from threading import Barrier

import pytest
from django.db import DatabaseError, connection, transaction

from audit.chain import GENESIS_HASH, event_hash
from audit.models import AuditEvent
from audit.selectors import audit_verify
from audit.services import SYSTEM_ACTOR, audit_append, event_payload
from orgs.services import org_create
from tests.conftest import postgres_only
from tests.db_support import triggers_bypassed


def chain(org) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_org(org).order_by("seq"))


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def acme_events(acme):
    for n in range(5):
        with transaction.atomic():
            audit_append(org=acme, actor=None, action="test.tick", data={"n": n})
    return chain(acme)


# ---------------------------------------------------------------------------------------------
# Appending


@pytest.mark.django_db
def test_appends_form_a_chain_per_org(acme, globex, acme_events):
    assert [e.seq for e in acme_events] == list(range(1, len(acme_events) + 1))
    assert acme_events[0].prev_hash == GENESIS_HASH
    for previous, event in pairwise(acme_events):
        assert event.prev_hash == previous.hash
    for event in acme_events:
        assert event.hash == event_hash(event.prev_hash, event_payload(event))
    # globex's chain is its own: it starts at 1 from genesis, whatever acme did.
    globex_chain = chain(globex)
    assert globex_chain[0].seq == 1 and globex_chain[0].prev_hash == GENESIS_HASH
    assert audit_verify(org=acme).ok and audit_verify(org=globex).ok


@pytest.mark.django_db
def test_event_records_actor_subject_and_normalised_data(personas, acme):
    admin = personas["admin"].user
    with transaction.atomic():
        event = audit_append(
            org=acme,
            actor=admin,
            action="test.subject",
            subject=("thing", "42"),
            data={"when": acme.created_at, "id": acme.pk},
        )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor_id, stored.actor_label) == (admin.pk, admin.username)
    assert (stored.subject_type, stored.subject_id) == ("thing", "42")
    assert stored.data == {"when": event.data["when"], "id": str(acme.pk)}
    # What the database gives back hashes to what was stored.
    assert stored.hash == event_hash(stored.prev_hash, event_payload(stored))
    with transaction.atomic():
        system = audit_append(org=acme, actor=None, action="test.system", subject=acme)
    assert (system.actor_id, system.actor_label) == (None, SYSTEM_ACTOR)
    assert (system.subject_type, system.subject_id) == ("orgs.organization", str(acme.pk))


@pytest.mark.django_db
def test_event_rolls_back_with_its_change(acme_events, acme):
    before = len(acme_events)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit_append(org=acme, actor=None, action="test.doomed")
        _ = 1 / 0
    assert len(chain(acme)) == before
    with transaction.atomic():
        event = audit_append(org=acme, actor=None, action="test.after")
    assert event.seq == before + 1
    assert audit_verify(org=acme).ok


# ---------------------------------------------------------------------------------------------
# Append-only, in the database


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'x'",
        "UPDATE audit_auditevent SET data = data",
        "DELETE FROM audit_auditevent",
    ],
)
def test_raw_sql_update_and_delete_fail(acme_events, acme, sql):
    before = [(e.pk, e.action, e.hash) for e in chain(acme)]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw(sql)
    # The savepoint was rolled back and the test's connection is still usable.
    assert [(e.pk, e.action, e.hash) for e in chain(acme)] == before
    assert audit_verify(org=acme).ok


@postgres_only
@pytest.mark.django_db
def test_truncate_fails_on_postgres(acme_events, acme):
    before = len(chain(acme))
    # The test's own inserts leave deferred foreign-key checks pending, and PostgreSQL refuses
    # TRUNCATE while any are; run them first so that the refusal seen is the trigger's.
    raw("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("TRUNCATE audit_auditevent CASCADE")
    assert len(chain(acme)) == before


@pytest.mark.django_db
def test_orm_update_and_delete_fail(acme_events, acme):
    event = acme_events[-1]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    event.action = "x"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.tick"
    assert audit_verify(org=acme).ok


@pytest.mark.django_db
def test_triggers_are_installed_after_migrate():
    if connection.vendor == "postgresql":
        sql = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass"
    else:
        sql = (
            "SELECT name FROM sqlite_master "
            "WHERE type = 'trigger' AND tbl_name = 'audit_auditevent'"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        names = {row[0] for row in cursor.fetchall() if not row[0].startswith("RI_")}
    expected = (
        {"audit_event_append_only", "audit_event_no_truncate"}
        if connection.vendor == "postgresql"
        else {"audit_event_no_update", "audit_event_no_delete"}
    )
    assert names == expected


# ---------------------------------------------------------------------------------------------
# Forgeries made with the triggers bypassed are named by verification


@pytest.mark.django_db
def test_forged_data_is_named(acme_events, acme, globex):
    target = acme_events[3]
    with triggers_bypassed():
        AuditEvent.objects.filter(pk=target.pk).update(data={"n": 999})
    # The triggers are back on: the next tamper is refused again.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("UPDATE audit_auditevent SET action = 'x'")
    result = audit_verify(org=acme)
    assert not result.ok
    assert result.first_bad_seq == target.seq
    assert result.reason == "hash does not match the event's content"
    assert result.head_hash == acme_events[2].hash
    assert audit_verify(org=globex).ok


@pytest.mark.django_db
def test_forged_raw_update_is_named(acme_events, acme):
    target = acme_events[1]
    with triggers_bypassed():
        raw("UPDATE audit_auditevent SET actor_label = %s WHERE id = %s", ["mallory", target.pk])
    result = audit_verify(org=acme)
    assert (result.ok, result.first_bad_seq) == (False, target.seq)


@pytest.mark.django_db
def test_deleted_middle_row_is_named_as_a_gap(acme_events, acme):
    target = acme_events[4]
    with triggers_bypassed():
        raw("DELETE FROM audit_auditevent WHERE id = %s", [target.pk])
    result = audit_verify(org=acme)
    assert not result.ok
    assert result.first_bad_seq == target.seq + 1
    assert result.reason == f"seq {target.seq} is missing"


@pytest.mark.django_db
def test_renumbered_row_is_named(acme_events, acme):
    """Deleting a row and renumbering the rest to hide the gap still breaks the hashes."""
    target = acme_events[2]
    with triggers_bypassed():
        raw("DELETE FROM audit_auditevent WHERE id = %s", [target.pk])
        for event in acme_events[3:]:
            raw("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [event.seq - 1, event.pk])
    result = audit_verify(org=acme)
    assert (result.ok, result.first_bad_seq) == (False, target.seq)


# ---------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL: SQLite has one writer at a time by construction)

WRITERS = 50


@postgres_only
def test_concurrent_appends_keep_a_contiguous_chain(live_db):
    org = org_create(name="Busy")
    before = AuditEvent.objects.for_org(org).count()
    start = Barrier(WRITERS)

    def append(n: int) -> int:
        try:
            start.wait(timeout=60)
            with transaction.atomic():
                return audit_append(org=org, actor=None, action="load.tick", data={"n": n}).seq
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        seqs = list(pool.map(append, range(WRITERS)))

    assert sorted(seqs) == list(range(before + 1, before + WRITERS + 1))
    events = chain(org)
    assert [e.seq for e in events] == list(range(1, before + WRITERS + 1))
    assert sorted(e.data["n"] for e in events if e.action == "load.tick") == list(range(WRITERS))
    result = audit_verify(org=org)
    assert result.ok and result.checked == before + WRITERS
    assert result.head_hash == events[-1].hash


@postgres_only
def test_append_outside_a_transaction_is_refused(live_db):
    org = org_create(name="Loose")
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_append(org=org, actor=None, action="test.loose")
