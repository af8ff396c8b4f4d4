"""Text the database cannot hold, and dates at the end of the calendar, sent to the pages that
read request.GET and request.POST directly: each is a 4xx, never a 500, on both databases.

PostgreSQL refuses NUL (U+0000) in any text parameter with an error, so before the door guard
(mintmark/nul_guard.py) a NUL in a portal form or filter, in /sso/login/?org= or in the API's
X-Org header was a 500 there."""

import pytest

from tests.mm_api_support import make_dataset, row_counts
from tests.security.url_support import Route, routes

PAGES = [route for route in routes() if not route.template.startswith("/api/")]
NUL = "a\x00b"


def _page_url(route: Route) -> str:
    # Ids that exist nowhere: the guard answers before any view looks anything up.
    return route.url(
        {name: "00000000-0000-0000-0000-000000000000" for name in route.params}
        | {
            "org": "acme",
            "version": 1,
        }
    )


@pytest.mark.parametrize("route", PAGES, ids=lambda route: route.template)
def test_nul_in_any_field_or_filter_of_any_page_is_400(personas, route):
    client = personas["admin"].portal()
    url = _page_url(route)
    assert client.get(url, {"q": NUL}).status_code == 400
    assert client.post(url, {"name": NUL}).status_code == 400
    assert client.post(url, {NUL: "x"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/o/acme/tokens/", {"name": NUL}),
        ("/o/acme/manage/members/", {"email": "a\x00@x.test", "role": "staff"}),
        ("/o/acme/manage/datasets/", {"key": "k1", "name": NUL, "custom_text": "x"}),
    ],
)
def test_nul_in_a_portal_form_writes_nothing(personas, path, form):
    before = row_counts()
    assert personas["admin"].portal().post(path, form).status_code == 400
    assert row_counts() == before


def test_nul_in_a_dataset_search_is_400(personas):
    dataset, _ = make_dataset(personas["admin"].org)
    url = f"/o/acme/manage/datasets/{dataset.pk}/"
    assert personas["admin"].portal().get(url, {"q": NUL}).status_code == 400
    assert personas["admin"].portal().get(url, {"q": "ab"}).status_code == 200


def test_nul_in_the_sso_org_is_400(anon):
    assert anon.get("/sso/login/", {"org": NUL}).status_code == 400


@pytest.mark.parametrize("org", [NUL, "acme/../globex", "ü", "x" * 61])
def test_an_x_org_that_cannot_name_an_org_is_404(personas, org):
    response = personas["admin"].client().get("/api/me", HTTP_X_ORG=org)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_api_still_answers_401_before_looking_at_x_org(anon):
    assert anon.get("/api/me", HTTP_X_ORG=NUL).status_code == 401


@pytest.mark.parametrize("path", ["/o/acme/audit/", "/o/acme/export/audit/?format=csv"])
def test_audit_dates_at_the_ends_of_the_calendar_are_answered(personas, path):
    client = personas["auditor"].portal()
    joiner = "&" if "?" in path else "?"
    response = client.get(f"{path}{joiner}date_from=0001-01-01&date_to=9999-12-31")
    assert response.status_code == 200
    # The whole calendar holds every event.
    everything = client.get(path)
    if "format" in path:
        body = b"".join(response.streaming_content)
        assert body == b"".join(everything.streaming_content)
    else:
        assert (
            response.context["page"].paginator.count == everything.context["page"].paginator.count
        )
