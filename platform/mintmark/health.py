"""GET /api/health: each dependency ok or not, with a reason. Open to anyone, so it says what
is wrong but not how the platform is wired (no hosts, no credentials)."""

import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from ninja import Router, Schema, Status

from mintmark.celery import app as celery_app

router = Router(tags=["health"])

CHECK_TIMEOUT_S = 2.0


class CheckOut(Schema):
    ok: bool
    detail: str


class HealthOut(Schema):
    ok: bool
    database: CheckOut
    broker: CheckOut
    workers: CheckOut
    storage: CheckOut
    signing_key: CheckOut


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)
        return "connected"


def _workers() -> str:
    replies = celery_app.control.ping(timeout=CHECK_TIMEOUT_S) or []
    if not replies:
        raise RuntimeError("no worker answered")
    return f"{len(replies)} worker(s) answered"


def _storage() -> str:
    store = storages["quarantine"]
    name = store.save(f"health/{uuid.uuid4().hex}", ContentFile(b"ok"))
    store.delete(name)
    return "quarantine store writable"


def _signing_key() -> str:
    folder = settings.DATA_DIR / "keys"
    if not folder.is_dir() or not any(folder.glob("*/signing-cert.pem")):
        raise RuntimeError("no signing key (provenance_init has not been run)")
    return "present"


def _check(probe: Callable[[], str]) -> dict:
    try:
        return {"ok": True, "detail": probe()}
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure, never raises
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}


@router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut})
def health(request):
    checks = {
        "database": _check(_database),
        "broker": _check(_broker),
        "workers": _check(_workers),
        "storage": _check(_storage),
        "signing_key": _check(_signing_key),
    }
    # The platform can take requests when its database and broker work; the rest degrade it.
    serving = checks["database"]["ok"] and checks["broker"]["ok"]
    return Status(200 if serving else 503, {"ok": all(c["ok"] for c in checks.values()), **checks})
