"""Every URL the project serves, walked as an outside tester would: each of acme's four roles
asks for it with the ids of globex's objects, with ids that exist nowhere and with malformed
ids, by every method the route takes.

Routes are read from the URL configuration and the API object, so a page or an operation added
later (by any app) is walked as soon as it exists. What must hold everywhere:

- never a 5xx, whatever the id or the query string (a malformed one is a 4xx);
- another organization's object is never served: its answer is never a success or a redirect
  other than to the login page, and it is exactly the answer an id that exists nowhere gets
  (the same status, and under /api/ the same body), so existence is not disclosed;
- no redirect leaves the site, whatever `next` says.

tests/test_access_matrix.py checks each API operation's intended answers role by role;
tests/portal/test_portal_access_matrix.py the portal's role gates. This module is the broad
sweep behind them."""

import re
import uuid

import pytest
from django.test import Client

from tests.conftest import ROLES
from tests.security.url_support import Route, django_patterns, routes
from tests.test_access_matrix import Ctx, World

OWN, OTHER = "acme", "globex"
# Values a path parameter is given besides real ids: wrong types, out of range, traversal,
# NUL, non-ASCII, overlong (percent-encoded as a client sends them).
MALFORMED = (
    "abc",
    "-1",
    "0",
    "9" * 40,
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "%C3%BC",
    "x" * 300,
)
# Query strings every page and list is given: paging out of range, NUL in filters, dates at
# the ends of the calendar, unknown formats, redirects off the site.
QUERIES = (
    "limit=-1",
    "limit=1000000000",
    "offset=-5",
    "offset=99999999999999999999",
    "page=-1",
    "page=99999999999999999999999",
    "q=%00",
    "state=%00",
    "job=%00",
    "action=%00&actor=%00&subject_id=%00",
    "since=nonsense&until=9999-12-31T23:59:59-23:00",
    "date_from=0001-01-01&date_to=9999-12-31",
    "format=xml",
    "seen=%00",
    "org=%00",
    "next=//evil.example/",
)


ROUTES = routes()
WITH_IDS = [route for route in ROUTES if set(route.params) - {"org"}]
WITHOUT_IDS = [route for route in ROUTES if not set(route.params) - {"org"}]


def ids_of(world: World, mode: str) -> list[dict[str, object]]:
    """Ids by the parameter names routes give them, for acme's admin: globex's objects
    ("other", one of every kind an org owns) or ids that exist nowhere ("missing"). Assets come
    twice, a released one and one held for review, since the routes that serve each differ."""
    ctx = Ctx(world, world.personas["admin"], OWN, mode)
    ids = {
        "member_id": ctx.member_id,
        "token_id": ctx.token_id,
        "dataset_id": ctx.dataset_id,
        "item_id": ctx.item_id,
        "model_id": ctx.model_id,
        "job_id": ctx.ended_job_id,
        "asset_id": ctx.asset_id,
        "delivery_id": ctx.delivery_id,
        "suspension_id": ctx.suspension_id,
        "version": ctx.policy_version,
    }
    return [ids, {**ids, "asset_id": ctx.held_asset_id}]


def _caller(world: World, role: str, route: Route) -> Client:
    persona = world.personas[role]
    return persona.client() if route.template.startswith("/api/") else persona.portal()


def _send(client: Client, method: str, url: str):
    return getattr(client, method.lower())(url)


def _answer(response):
    """What a caller learns from an answer: its status, and an API error's code and detail
    (portal pages carry per-session tokens, so only their status is compared)."""
    if response["Content-Type"].startswith("application/json") and response.status_code >= 400:
        body = response.json()
        return response.status_code, body.get("error"), body.get("detail")
    return (response.status_code,)


def _to_login(response) -> bool:
    return response.status_code == 302 and "/login/" in response["Location"]


def _assert_no_server_error(response, where):
    assert response.status_code < 500, (where, response.status_code)


@pytest.mark.parametrize("route", WITH_IDS, ids=lambda route: route.template)
def test_another_orgs_ids_are_as_unknown_as_missing_ones(world, route):
    variants = zip(ids_of(world, "other"), ids_of(world, "missing"), strict=True)
    if "asset_id" not in route.params:
        variants = list(variants)[:1]
    for foreign, nowhere in variants:
        for role in ROLES:
            client = _caller(world, role, route)
            for method in route.methods:
                # A parameter no kind above names (a route added later) gets a fresh id.
                fresh = {name: uuid.uuid4() for name in route.params}
                other = _send(client, method, route.url({**fresh, **foreign, "org": OWN}))
                missing = _send(client, method, route.url({**fresh, **nowhere, "org": OWN}))
                where = (role, method, route.template)
                _assert_no_server_error(other, where)
                assert not 200 <= other.status_code < 400 or _to_login(other), (
                    where,
                    other.status_code,
                )
                assert _answer(other) == _answer(missing), where


@pytest.mark.parametrize("route", WITH_IDS, ids=lambda route: route.template)
def test_malformed_ids_are_refused_without_a_server_error(world, route):
    for role in ROLES:
        client = _caller(world, role, route)
        for method in route.methods:
            for value in MALFORMED:
                values = dict.fromkeys(route.params, value)
                values["org"] = OWN
                response = _send(client, method, route.url(values))
                _assert_no_server_error(response, (role, method, route.template, value))
                assert not 200 <= response.status_code < 300, (role, method, route, value)


@pytest.mark.parametrize("route", WITHOUT_IDS, ids=lambda route: route.template)
def test_hostile_query_strings_are_refused_without_a_server_error(world, route):
    if "GET" not in route.methods:
        pytest.skip("takes no query string worth walking")
    url = route.url({"org": OWN})
    callers = (
        ROLES if "{org}" in route.template or route.template.startswith("/api/") else ["admin"]
    )
    for role in callers:
        client = _caller(world, role, route)
        for query in QUERIES:
            response = _send(client, "GET", f"{url}?{query}")
            where = (role, url, query)
            _assert_no_server_error(response, where)
            if 300 <= response.status_code < 400:
                assert not response["Location"].startswith(("//", "http")), where


def test_every_org_page_of_another_org_is_404_for_every_role(world):
    (foreign, _) = ids_of(world, "other")
    for route in ROUTES:
        if "{org}" not in route.template:
            continue
        values = {name: foreign.get(name, uuid.uuid4()) for name in route.params}
        values["org"] = OTHER
        for role in ROLES:
            client = world.personas[role].portal()
            for method in route.methods:
                response = _send(client, method, route.url(values))
                assert response.status_code == 404, (role, method, route.template)


def test_the_admin_site_is_for_operators_only(world):
    """Org admins are not operators: every admin page sends them to the admin login."""
    for pattern in django_patterns():
        if not pattern.startswith("admin/") or pattern.startswith("admin/^"):
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", str(world.orgs[OTHER].asset.pk), pattern)
        if path.rstrip("/").endswith(("logout", "login")):
            continue
        for role in ROLES:
            response = world.personas[role].portal().get(path)
            assert response.status_code in (302, 404), (role, path, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/admin/login/"), (role, path)
