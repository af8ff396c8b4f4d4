"""structlog wired into stdlib logging: Django, Celery and our own records share one format."""

import logging

import structlog

# Messages that libraries log on every start of a worker although nothing is wrong here, by the
# logger that emits them. Each was checked and is harmless for Mintmark:
KNOWN_NOISE = {
    # transformers falls back to the PIL image processors when torchvision is missing;
    # torchvision is left out on purpose (requirements-nodeps.txt) and diffusers' CLIP feature
    # extractors work on the PIL ones.
    "transformers.utils.import_utils": ("requires torchvision (not installed)",),
}


class KnownNoiseFilter(logging.Filter):
    """Drops a record whose message contains one of the fragments; logs everything else."""

    def __init__(self, fragments=()):
        super().__init__()
        self.fragments = tuple(fragments)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def structured_logging(*, json: bool, level: str) -> dict:
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    renderer,
                ],
                "foreign_pre_chain": _SHARED,
            }
        },
        "filters": {
            f"noise:{name}": {"()": KnownNoiseFilter, "fragments": fragments}
            for name, fragments in KNOWN_NOISE.items()
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        # A filter on a logger sees only that logger's own records, so each sits on the emitter.
        "loggers": {name: {"filters": [f"noise:{name}"]} for name in KNOWN_NOISE},
        "root": {"handlers": ["console"], "level": level},
    }
