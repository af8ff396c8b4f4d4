"""Every org page of the portal, for every caller: anonymous → login, another org's member →
404, a role the page does not admit → 403, an admitted role → a page (or 404 for an unknown
object id), never a 500. Routes are read from the URL configuration, so new pages are covered
as soon as they exist."""

import uuid

import pytest
from django.urls import URLPattern, get_resolver

from tests.conftest import ROLES

ORG_PREFIX = "o/<slug:org>/"


def _org_routes() -> list[tuple[str, frozenset]]:
    routes = []
    for pattern in get_resolver().url_patterns:
        for inner in getattr(pattern, "url_patterns", []):
            if isinstance(inner, URLPattern) and str(inner.pattern).startswith(ORG_PREFIX):
                routes.append((str(inner.pattern), inner.callback.portal_roles))
    return routes


def _url(route: str, org: str) -> str:
    path = route.replace("<slug:org>", org)
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        converter = path[start + 1 : end].split(":")[0]
        value = str(uuid.uuid4()) if converter == "uuid" else "1"
        path = path[:start] + value + path[end + 1 :]
    return "/" + path


ROUTES = _org_routes()


def test_the_portal_has_org_pages():
    assert len(ROUTES) >= 2


@pytest.mark.parametrize(("route", "roles"), ROUTES, ids=[route for route, _ in ROUTES])
def test_org_page_refusals(personas, anon, route, roles):
    url = _url(route, "acme")
    for method in ("get", "post"):
        response = getattr(anon, method)(url)
        assert response.status_code == 302 and "/login/" in response["Location"], (method, url)
        outsider = getattr(personas["outsider"].portal(), method)(url)
        assert outsider.status_code == 404, (method, url, outsider.status_code)
        for role in ROLES:
            response = getattr(personas[role].portal(), method)(url)
            if role in roles:
                assert response.status_code < 500, (method, url, role, response.status_code)
            else:
                assert response.status_code == 403, (method, url, role, response.status_code)
