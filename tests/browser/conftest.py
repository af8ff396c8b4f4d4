"""Browser tests: Debian's Chromium driven by Playwright against a live server (on the run's
database) and, where a test needs one, a real Celery worker.

Every page load is screenshotted into <pytest's base temp>/screenshots/<test name>/, so a
failure can be looked at; the folder is not committed."""

import functools
import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.conftest import PASSWORD
from tests.worker_support import celery_worker

CHROMIUM = os.environ.get("MINTMARK_TEST_CHROMIUM", "/usr/bin/chromium")
# Playwright's sync API runs an event loop in the test's thread; Django's ORM, used by the
# tests between browser steps, refuses to run beside one unless told that it is safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# Per module, not per session: Playwright's sync API keeps an event loop running in the test's
# thread while it is open, and Django's test Client cannot call an async view (the event
# stream) from a thread with a running loop, so tests of other modules that run later in the
# same process must find it closed.
@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots_root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "screenshots"


class PageShots:
    """Screenshots a page at every load. The shot is taken while the test goes on, so calls
    that would change what is on screen (goto, reload, viewport, close) first wait for it."""

    SETTLING = ("goto", "reload", "go_back", "go_forward", "set_viewport_size", "close")

    def __init__(self, page, folder: Path, counter: list[int]) -> None:
        self.page, self.folder, self.counter, self.busy = page, folder, counter, False
        page.on("load", self.snap)
        for name in self.SETTLING:
            setattr(page, name, self._after_settling(getattr(page, name)))

    def snap(self, page) -> None:
        self.busy = True
        self.counter[0] += 1
        name = re.sub(r"[^A-Za-z0-9]+", "-", page.url.split("://", 1)[-1])[:80].strip("-")
        try:
            page.screenshot(path=self.folder / f"{self.counter[0]:03d}-{name}.png", full_page=True)
        except PlaywrightError:
            # The page was closed under the shot: nothing left to show.
            pass
        finally:
            self.busy = False

    def settle(self) -> None:
        while self.busy and not self.page.is_closed():
            # Waiting inside Playwright lets the shot's own calls run meanwhile.
            self.page.wait_for_timeout(20)

    def _after_settling(self, method):
        @functools.wraps(method)
        def call(*args, **kwargs):
            self.settle()
            return method(*args, **kwargs)

        return call


@pytest.fixture
def browser_context(chromium, request, screenshots_root):
    """A browser session with pages 1280 px wide."""
    folder = screenshots_root / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    # Generous: a busy machine (CI, two test processes, a worker) answers slowly.
    context.set_default_timeout(60_000)
    shots: list[PageShots] = []
    counter = [0]
    context.on("page", lambda page: shots.append(PageShots(page, folder, counter)))
    yield context
    for shot in shots:
        shot.settle()
    context.close()


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


def prompt_gate_load() -> None:
    """The prompt gate's encoders, loaded as a web process loads them at start
    (mintmark.warm): the live server runs in this process, and a first submission that loads
    them itself takes longer than a page action may wait on a busy machine. Loaded once a
    process (both loaders cache)."""
    from moderation.prompt_classifier import load_classifier
    from moderation.prompt_multilingual import load_multilingual

    load_classifier()
    load_multilingual()


@pytest.fixture
def portal_url(live_db):
    """A live server per test, started after the committed-data fixtures: pytest-django's
    session `live_server` would take the database before `live_db` could arrange the
    append-only triggers around the teardown flush."""
    prompt_gate_load()
    server = LiveServer("localhost")
    yield server.url
    server.stop()


def log_in(page, base_url: str, persona) -> None:
    """Logs in through the real form, as a person does."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(persona.user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/o/[^/]+/$"))


@pytest.fixture
def worker(live_db, org_signing_key, tmp_path):
    """A real Celery worker (GPU and gates queues) on the run's broker and database."""
    with celery_worker(tmp_path / "worker.log") as process:
        yield process


@pytest.fixture
def worker_storage(settings):
    """The live server reads files where the worker process writes them (the run's data
    folder), instead of the test's own temporary stores."""
    base = django_settings.DATA_DIR / "files"
    settings.STORAGES = {
        **settings.STORAGES,
        **{
            name: {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(base / name)},
            }
            for name in ("default", "quarantine", "release", "datasets")
        },
    }
