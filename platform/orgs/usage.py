"""A member's generation usage this month, as /api/me and the portal header show it.

Counting it is the generation feature's business, and core records import no feature app, so
the function that counts is named by a setting (MINTMARK_QUOTA_USAGE), the way Django names
pluggable backends."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


@cache
def _counter(path: str):
    return import_string(path)


def membership_usage(membership) -> dict:
    return _counter(settings.QUOTA_USAGE)(membership)
