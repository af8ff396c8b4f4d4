"""GET /metrics refused without its token. What it serves after real jobs (a worker's counters and
this process's, added up from one multiprocess folder, with the gauges read at scrape time) is
checked in tests/test_s3_storage.py, whose worker makes those jobs."""

import pytest

from generation.models import GenerationJob
from tests.metrics_support import TOKEN, metrics_dir, scrape, value  # noqa: F401


def test_metrics_are_off_without_a_token(settings, anon):
    settings.METRICS_TOKEN = None
    response = anon.get("/metrics")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "detail": "Metrics are off: set MINTMARK_METRICS_TOKEN.",
    }


@pytest.mark.usefixtures("metrics_dir")
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_metrics_refuse_a_request_without_the_bearer_token(anon, db, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = anon.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["error"] == "unauthorized"
    assert "MINTMARK_METRICS_TOKEN" in response.json()["detail"]
    assert anon.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


@pytest.mark.usefixtures("metrics_dir")
def test_metrics_with_the_token_serve_the_scrape_time_gauges(db):
    samples = scrape()
    for state in GenerationJob.State.values:
        assert value(samples, "mintmark_jobs", state=state) == 0
    assert ("mintmark_review_queue_assets", ()) in samples
    assert ("mintmark_queue_depth", (("queue", "gpu"),)) in samples


@pytest.mark.usefixtures("metrics_dir")
def test_the_scraper_is_not_redirected_to_https(settings, anon, db):
    # Behind MINTMARK_HTTPS the site redirects plain http; Prometheus on the internal network
    # asks the web server directly over http, like the health probes.
    settings.SECURE_SSL_REDIRECT = True
    assert anon.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert anon.get("/api/me").status_code == 301
