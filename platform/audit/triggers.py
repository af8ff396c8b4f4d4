"""Append-only enforcement in the database itself: UPDATE and DELETE on the audit table raise,
whatever client issues them (the ORM, raw SQL, a database shell)."""

TABLE = "audit_auditevent"
MESSAGE = "audit events are append-only"

POSTGRES_CREATE = [
    f"""
    CREATE OR REPLACE FUNCTION mintmark_audit_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql;
    """,
    f"""
    CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION mintmark_audit_append_only();
    """,
    # TRUNCATE fires no row trigger, so it gets a statement trigger of its own.
    f"""
    CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION mintmark_audit_append_only();
    """,
]
POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS audit_event_no_truncate ON {TABLE};",
    f"DROP TRIGGER IF EXISTS audit_event_append_only ON {TABLE};",
    "DROP FUNCTION IF EXISTS mintmark_audit_append_only();",
]

SQLITE_CREATE = [
    f"""
    CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """,
    f"""
    CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_no_update;",
    "DROP TRIGGER IF EXISTS audit_event_no_delete;",
]

_STATEMENTS = {
    "postgresql": (POSTGRES_CREATE, POSTGRES_DROP),
    "sqlite": (SQLITE_CREATE, SQLITE_DROP),
}


def _statements(vendor: str, index: int) -> list[str]:
    if vendor not in _STATEMENTS:
        raise RuntimeError(f"no append-only triggers for database vendor {vendor!r}")
    return _STATEMENTS[vendor][index]


def install(connection) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, 0):
            cursor.execute(sql)


def uninstall(connection) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, 1):
            cursor.execute(sql)
