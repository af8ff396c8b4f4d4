"""Shared personas: an org 'acme' with one user per role, and an outsider admin of 'globex'.
Clients authenticate with real API tokens, the way SDKs do."""

import os
import shutil
import uuid
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from audit import triggers
from generation.tiny import save_tiny_pipeline
from orgs.models import Membership, Organization
from orgs.services import member_add, org_create, token_create
from provenance import keys
from provenance.signing import signing_passphrase
from tests import worker_support
from tests.mm_api_support import register_tiny

# Servers and workers the tests start have data folders of their own; they share the run's
# prompt classifier cache, so only the run's first process fits the classifier.
os.environ.setdefault("MINTMARK_PROMPT_CACHE_DIR", str(settings.PROMPT_CACHE_DIR))

PASSWORD = "correct-horse-battery-9"
ROLES = ("admin", "staff", "reviewer", "auditor")


@dataclass
class Persona:
    membership: Membership
    token: str

    @property
    def user(self):
        return self.membership.user

    @property
    def org(self) -> Organization:
        return self.membership.org

    def client(self) -> Client:
        return Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {self.token}")

    def portal(self) -> Client:
        """A logged-in portal session (cookie auth, as a browser has)."""
        client = Client(HTTP_HOST="localhost")
        client.force_login(self.user)
        return client


def make_persona(org: Organization, role: str, email: str) -> Persona:
    membership = member_add(org=org, actor=None, email=email, role=role, password=PASSWORD)
    return Persona(membership, token_create(membership=membership, name="tests").secret)


@pytest.fixture(autouse=True)
def current_test(request):
    worker_support.current_test = request.node
    yield request.node
    worker_support.current_test = None


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness would dominate the suite; what is tested is the flow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The cache as the run configures it, which the servers and workers tests start use.
RUN_CACHES = settings.CACHES


@pytest.fixture(autouse=True)
def own_cache_keys(settings):
    """Rate-limit counts and event-stream leases live in the shared cache, which on Redis
    outlives a test and is shared with the other test processes: each test keeps its keys under
    a prefix of its own, so it counts from zero against the real limits and starts with no
    leases. Nothing may clear the cache instead: on Redis that flushes the database, which is
    the broker's by default (a parallel test's counter vanished between its add and its incr,
    and its Celery messages with it)."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
    }


@pytest.fixture
def run_cache_keys(settings):
    """For a test that reads what a server process it started keeps in the cache: the run's
    keys, without a prefix of the test's own."""
    settings.CACHES = RUN_CACHES


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Every test writes its files under its own temporary folder."""
    store = "django.core.files.storage.FileSystemStorage"
    settings.STORAGES = {
        **settings.STORAGES,
        **{
            name: {"BACKEND": store, "OPTIONS": {"location": str(tmp_path / "files" / name)}}
            for name in ("default", "quarantine", "release", "datasets")
        },
    }
    return tmp_path / "files"


@pytest.fixture(autouse=True)
def model_roots(settings, tmp_path_factory):
    """Tests make their model folders under pytest's temporary folder, so it is a model root
    besides the defaults (the repository's models/ holds the demo model)."""
    settings.MODEL_ROOTS = (*settings.MODEL_ROOTS, tmp_path_factory.getbasetemp())
    return settings.MODEL_ROOTS


@pytest.fixture
def acme(db) -> Organization:
    return org_create(name="Acme")


@pytest.fixture
def globex(db) -> Organization:
    return org_create(name="Globex")


@pytest.fixture
def personas(acme, globex) -> dict[str, Persona]:
    people = {role: make_persona(acme, role, f"{role}@acme.test") for role in ROLES}
    people["outsider"] = make_persona(globex, "admin", "admin@globex.test")
    return people


@pytest.fixture
def anon() -> Client:
    return Client(HTTP_HOST="localhost")


def requires_vendor(vendor: str):
    return pytest.mark.skipif(connection.vendor != vendor, reason=f"needs {vendor}")


postgres_only = requires_vendor("postgresql")
sqlite_only = requires_vendor("sqlite")


@pytest.fixture
def _triggers_back_after_flush(django_db_blocker):
    yield
    with django_db_blocker.unblock():
        triggers.install(connection)


@pytest.fixture
def live_db(_triggers_back_after_flush, transactional_db):
    """Committed data a worker process can see. The append-only triggers are lifted only for
    the test database's teardown flush (SQLite flushes with DELETE) and put back after it."""
    yield
    triggers.uninstall(connection)


@pytest.fixture
def org_signing_key(personas):
    """The org's signing key where a worker process looks (the run's data folder); one the tests
    made is removed when the run ends."""
    org = personas["admin"].org
    base = settings.DATA_DIR / "keys"
    if keys.org_key_ensure(base, org.slug, org.name, signing_passphrase()).created:
        (base / f"{org.slug}{TEST_KEY_MARK}").touch()
    yield


# The pytest-xdist processes share the data folder, so one process removing the key it made
# when its test ended took it from under the other's test (CI's stop 26). The keys the tests
# made stay until the whole run has ended, then the controlling process removes them; a key
# that was there before the run carries no mark and is kept.
TEST_KEY_MARK = ".made-by-tests"


def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        return
    base = settings.DATA_DIR / "keys"
    for mark in base.glob(f"*{TEST_KEY_MARK}"):
        shutil.rmtree(base / mark.name.removesuffix(TEST_KEY_MARK), ignore_errors=True)
        mark.unlink()


@pytest.fixture
def tiny_model(live_db, personas, tmp_path):
    """A real, tiny diffusers model of the org that a worker process can load and see."""
    return register_tiny(personas["admin"].org, save_tiny_pipeline(tmp_path / "tiny-sd"))
