from mintmark import paths  # noqa: F401  (must run before any app is imported)
from mintmark.celery import app as celery_app

__all__ = ("celery_app",)
