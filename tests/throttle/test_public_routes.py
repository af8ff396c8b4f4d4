"""Every route anyone can reach without an account is either limited per address
(throttle/limits.py ROUTES) or named here as cheap. Routes are read from the URL configuration
and the API object (tests/security/url_support.py), so a public route added later fails this
test until someone decides which it is."""

import uuid

import pytest
from django.test import Client
from django.urls import resolve, reverse

from mintmark import health
from tests.security.url_support import routes
from throttle.limits import ROUTES

# Answers without an account that cost about as much as a 404: a page, a redirect or a form.
CHEAP = {
    ("mintmark.urls.favicon", "GET"): "a redirect to a static file",
    ("mintmark.urls.favicon", "POST"): "a redirect to a static file",
    ("api:openapi-view", "GET"): "the docs page is a static template",
    ("portal:home", "GET"): "redirects to the login page",
    ("portal:login", "GET"): "the login form",
    ("portal:verify", "GET"): "the upload form",
    ("portal:logout", "POST"): "ends a session: nothing to compute",
    ("portal:logout", "GET"): "refused with 405",
}
# Answers that mean "not without an account".
REFUSED = {401, 403, 404, 405}


def _public(response) -> bool:
    if response.status_code in REFUSED:
        return False
    return not (response.status_code == 302 and "/login/" in response["Location"])


@pytest.fixture
def quiet_health(monkeypatch):
    # Health pings Celery workers with a 2 s timeout; none run here.
    monkeypatch.setattr(health, "_workers", lambda: "not checked here")


def test_every_public_route_is_limited_or_named_cheap(db, quiet_health):
    client = Client(HTTP_HOST="localhost")
    found = set()
    for route in routes():
        url = route.url({name: uuid.uuid4() for name in route.params} | {"org": "acme"})
        for method in route.methods:
            response = getattr(client, method.lower())(url)
            if _public(response):
                found.add((resolve(url).view_name, method))
    unclassified = found - set(ROUTES) - set(CHEAP)
    assert not unclassified, (
        f"{sorted(unclassified)} answer without an account: limit them per address "
        "(throttle/limits.py ROUTES) or name them in CHEAP with the reason"
    )
    # The table names only routes that exist (SSO's answer 404 or go back to the login page
    # without an org or a login begun, so the walk does not find them public).
    for name, _ in ROUTES:
        assert reverse(name)
