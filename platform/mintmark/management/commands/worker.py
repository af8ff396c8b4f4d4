"""`manage.py worker`: a real Celery worker of mintmark.celery.app, in this process.

One worker per GPU takes the "gpu" queue with concurrency 1; CPU workers take "gates". The
embedded default runs one worker on both queues (what `manage.py serve` starts)."""

from django.core.management.base import BaseCommand, CommandError

QUEUES = ("gpu", "gates")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
POOLS = ("prefork", "solo", "threads")


def parse_queues(raw: str) -> list[str]:
    queues = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if not queues or unknown:
        raise CommandError(
            f"--queues {raw!r}: name one or more of {', '.join(QUEUES)}, comma-separated"
        )
    return list(dict.fromkeys(queues))


def worker_argv(
    *,
    queues: list[str],
    concurrency: int | None,
    loglevel: str,
    hostname: str | None,
    pool: str | None,
    beat: bool = False,
) -> list[str]:
    argv = [
        "worker",
        "--queues",
        ",".join(queues),
        "--loglevel",
        loglevel,
        # One task at a time per process: a GPU job is long, and a prefetched task would wait
        # behind it while another worker sits idle.
        "--prefetch-multiplier",
        "1",
        "--hostname",
        hostname or f"{'-'.join(queues)}@%h",
    ]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    if pool:
        argv += ["--pool", pool]
    if beat:
        argv.append("--beat")
    return argv


class Command(BaseCommand):
    help = "Runs a Celery worker of the platform in this process (Ctrl-C or SIGTERM stops it)."

    # The worker checks its own configuration; Django's checks would only slow its start.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--queues",
            default=",".join(QUEUES),
            help=f"comma-separated queues to consume (default: {','.join(QUEUES)})",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="worker processes (default: Celery's, the number of CPUs)",
        )
        parser.add_argument(
            "--loglevel", default="INFO", type=str.upper, choices=LOG_LEVELS, help="default: INFO"
        )
        parser.add_argument(
            "--hostname",
            default=None,
            help="node name (default: <queues>@<host>, e.g. gates@web1)",
        )
        parser.add_argument(
            "--pool", default=None, choices=POOLS, help="execution pool (default: prefork)"
        )
        parser.add_argument(
            "--beat",
            action="store_true",
            help="also run the periodic tasks (the stale-job sweep); exactly one worker should",
        )

    def handle(self, *args, queues, concurrency, loglevel, hostname, pool, beat, **options):
        if concurrency is not None and concurrency < 1:
            raise CommandError("--concurrency must be at least 1")
        argv = worker_argv(
            queues=parse_queues(queues),
            concurrency=concurrency,
            loglevel=loglevel,
            hostname=hostname,
            pool=pool,
            beat=beat,
        )
        from mintmark.celery import app

        app.worker_main(argv)
