"""schemathesis against the API with the demo organization's data and its admin's real token.

Every operation of /api/openapi.json gets generated requests, valid ones and ones that break the
schema, sent in process through the WSGI application (every middleware, the real database): no
answer may be a 5xx, and every answer must be one its OpenAPI entry documents (status, media
type, body). Hypothesis runs derandomized with no example database, so CI sees the same requests
every run. The example count bounds the time: on a busy 2-core machine 10 per mode took 36 s,
25 (which passed too) over three minutes. Cases it found are regression tests in
tests/test_bad_input.py."""

from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mintmark import health
from orgs.models import Membership
from orgs.services import token_create

EXAMPLES_PER_MODE = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_app():
    """The WSGI application, minus the end-of-request connection close that would end the
    test's transaction (Django's test client leaves it out the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(db, monkeypatch) -> str:
    """The demo org (seed_demo, a few training items) and a real API token of its admin."""
    # Health pings Celery workers with a 2 s timeout; none run here.
    monkeypatch.setattr(health, "_workers", lambda: "not checked here")
    call_command("seed_demo", shapes_items=4, stdout=StringIO())
    admin = Membership.objects.get(org__slug="demo", role="admin")
    return token_create(membership=admin, name="schemathesis").secret


def _run(operation, mode: GenerationMode, headers: dict) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()


def test_every_operation_answers_as_its_schema_says(wsgi_app, admin_token):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi_app)
    headers = {"Authorization": f"Bearer {admin_token}"}
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        definition = operation.definition.raw
        # Requests that break the schema need something to break: parameters or a body.
        negatable = definition.get("parameters") or definition.get("requestBody")
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable else [])
        for mode in modes:
            try:
                _run(operation, mode, headers)
            except Exception as exc:  # noqa: BLE001 - every operation is tried; all are reported
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    assert operations >= 40
    assert not failures, "\n\n".join(failures)
