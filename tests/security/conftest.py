"""The world the security tests walk: acme and globex, each with a member to spare, a dataset
with one item, a model trained on it and a released asset (tests/test_access_matrix.py)."""

import pytest

from mintmark import health
from tests.gating_support import keys_make
from tests.test_access_matrix import World


@pytest.fixture
def world(personas, tmp_path, monkeypatch, settings) -> World:
    # Health pings Celery workers with a 2 s timeout; none run here.
    monkeypatch.setattr(health, "_workers", lambda: "not checked here")
    # The walk sends some routes dozens of requests from one address; the per-address limits
    # have tests of their own (tests/throttle/).
    settings.RATE_PUBLIC = settings.RATE_LOGIN = settings.RATE_VERIFY = "10000/m"
    keys_make(settings, tmp_path, personas["admin"].org, personas["outsider"].org)
    root = tmp_path / "models"
    root.mkdir()
    settings.MODEL_ROOTS = (root, *settings.MODEL_ROOTS)
    return World(personas, root)
