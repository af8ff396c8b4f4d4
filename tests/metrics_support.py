"""The metrics endpoint in tests: a fresh multiprocess folder for this process and the worker
processes a test starts, and the endpoint's text parsed back into samples."""

import warnings

import pytest
from django.test import Client
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from mintmark import metrics

TOKEN = "metrics-test-token-0123456789"


@pytest.fixture
def metrics_dir(settings, tmp_path, monkeypatch):
    """This process records into a fresh multiprocess folder, as a web process started with
    MINTMARK_METRICS_TOKEN does; worker processes are pointed at the same folder."""
    path = tmp_path / "metrics"
    path.mkdir()
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_DIR = path
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(metrics.process_identifier))
    _clear()  # the next labels() makes values of the multiprocess kind
    yield path
    _clear()


def _clear():
    with warnings.catch_warnings():
        # prometheus-client warns that clearing does not remove values already in the files:
        # what is wanted here is only that this process stops writing to the old ones.
        warnings.simplefilter("ignore", UserWarning)
        for metric in metrics.RECORDED:
            metric.clear()


def scrape(token: str = TOKEN) -> dict:
    response = Client(HTTP_HOST="localhost").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def worker_env(path) -> dict[str, str]:
    """What a worker process needs to record into the same folder."""
    return {"MINTMARK_METRICS_TOKEN": TOKEN, "MINTMARK_METRICS_DIR": str(path)}
