from contextlib import contextmanager

from django.db import connection

from audit import triggers


@contextmanager
def triggers_bypassed():
    """What an attacker with direct database access could do: switch the append-only triggers
    off (PostgreSQL: replica mode skips ordinary triggers; SQLite: drop them) and back on."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = origin")
    else:
        triggers.uninstall(connection)
        try:
            yield
        finally:
            triggers.install(connection)
