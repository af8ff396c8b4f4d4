"""GET /metrics: the Prometheus text format, for a scraper holding MINTMARK_METRICS_TOKEN.

What the processes recorded (mintmark/metrics.py) is added up from the shared folder; what
exists now is read at scrape time, so it is right however many processes run and survives their
restarts: jobs per state and the review queue from the database, queue depth from the broker."""

import hmac

import structlog
from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

log = structlog.get_logger(__name__)


class StateCollector:
    """Gauges read when scraped: jobs in each state, messages waiting in each Celery queue,
    and the human-review queue (assets held, and how long the oldest has waited)."""

    def collect(self):
        from generation.models import Asset, GenerationJob
        from moderation.models import Hold

        jobs = GaugeMetricFamily(
            "mintmark_jobs", "Generation jobs now in each state.", labels=["state"]
        )
        counts = dict(GenerationJob.objects.order_by().values_list("state").annotate(n=Count("pk")))
        for state in GenerationJob.State.values:
            jobs.add_metric([state], counts.get(state, 0))
        yield jobs

        held = Hold.objects.filter(asset__state=Asset.State.IN_REVIEW)
        summary = held.aggregate(n=Count("pk"), oldest=Min("created_at"))
        yield GaugeMetricFamily(
            "mintmark_review_queue_assets",
            "Images held for human review.",
            value=summary["n"],
        )
        oldest = summary["oldest"]
        yield GaugeMetricFamily(
            "mintmark_review_queue_oldest_seconds",
            "How long the image held longest for review has waited (0 when none is held).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )
        depth = queue_depths()
        if depth:
            family = GaugeMetricFamily(
                "mintmark_queue_depth",
                "Task messages waiting in each Celery queue (not yet taken by a worker).",
                labels=["queue"],
            )
            for name, count in depth.items():
                family.add_metric([name], count)
            yield family


def queue_depths() -> dict[str, int]:
    """Messages waiting per Celery queue, or nothing when the broker does not answer (the
    scrape still serves everything else; the missing series shows the broker is down)."""
    from mintmark.celery import app

    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            return {
                queue.name: queue(channel).queue_declare().message_count
                for queue in settings.CELERY_TASK_QUEUES
            }
    except Exception as exc:  # noqa: BLE001 - any broker failure only drops this gauge
        log.warning("queue depth unavailable", error=f"{type(exc).__name__}: {exc}")
        return {}


def _refused(status: int, error: str, detail: str) -> JsonResponse:
    response = JsonResponse({"error": error, "detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@require_GET
def metrics_endpoint(request):
    token = settings.METRICS_TOKEN
    if not token:
        return _refused(404, "not_found", "Metrics are off: set MINTMARK_METRICS_TOKEN.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        return _refused(
            401,
            "unauthorized",
            "GET /metrics needs the header 'Authorization: Bearer <MINTMARK_METRICS_TOKEN>'.",
        )
    settings.METRICS_DIR.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(settings.METRICS_DIR))
    registry.register(StateCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
