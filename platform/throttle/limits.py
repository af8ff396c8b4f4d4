"""Per-address request limits on what anyone can call without an account, counted in the
cache every web process shares (Redis in production, the database cache table on the embedded
default) by django-ratelimit, so a limit holds across all gunicorn workers.

Each limit is a rate such as `20/m` or `30/5m` (count / [multiple] s, m, h or d) from a setting,
or `off`. Windows are fixed (django-ratelimit staggers their edges per address)."""

import re
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django_ratelimit.core import get_usage

from throttle.client import client_ip, proxy_networks

RATE = re.compile(r"^[1-9]\d*/([1-9]\d*)?[smhd]$")


@dataclass(frozen=True)
class Limit:
    group: str  # the counter's name: limits sharing a group share one count
    setting: str  # the settings attribute holding the rate
    detail: str  # what the 429 says was limited


VERIFY = Limit("verify", "RATE_VERIFY", "Too many images verified from your address.")
LOGIN = Limit("login", "RATE_LOGIN", "Too many login attempts from your address.")
PUBLIC = Limit("public", "RATE_PUBLIC", "Too many requests from your address.")
BAD_TOKEN = Limit(
    "bad-token", "RATE_BAD_TOKEN", "Too many requests with an invalid API token from your address."
)

# Every route that answers without an account and costs more than a lookup, by URL name and
# method (tests/throttle/test_public_routes.py walks every route and fails on one missing here).
ROUTES = {
    # C2PA validation, watermark decoding and a fingerprint search per upload.
    ("api:verify", "POST"): VERIFY,
    ("portal:verify", "POST"): VERIFY,
    # A password hash per attempt, whatever the username (the lockout counts per username).
    ("portal:login", "POST"): LOGIN,
    ("admin:login", "POST"): LOGIN,
    # The schema is built per request; health pings the database, broker and workers (a 2 s
    # broadcast); SSO fetches the provider's discovery document and exchanges codes with it.
    ("api:openapi-json", "GET"): PUBLIC,
    ("api:health", "GET"): PUBLIC,
    ("sso:login", "GET"): PUBLIC,
    ("sso:callback", "GET"): PUBLIC,
}


def rate(limit: Limit) -> str | None:
    value = getattr(settings, limit.setting)
    return None if value == "off" else value


def rates_check() -> None:
    for limit in (VERIFY, LOGIN, PUBLIC, BAD_TOKEN):
        value = getattr(settings, limit.setting)
        if value != "off" and not RATE.match(value):
            raise ImproperlyConfigured(
                f"MINTMARK_{limit.setting}={value!r}: use a rate such as 20/m or 30/5m, or off"
            )
    proxy_networks(tuple(settings.TRUSTED_PROXIES))


def _client_key(group, request) -> str:
    return client_ip(request)


def _one_writer(increment: bool):
    # The database cache increments by reading then writing; inside one transaction (IMMEDIATE
    # on SQLite, so one writer at a time) two processes cannot both read the same count.
    # Redis increments atomically on its own, and a look without counting needs neither.
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    if increment and isinstance(cache, DatabaseCache):
        return transaction.atomic()
    return nullcontext()


def _usage(limit: Limit, request, *, increment: bool) -> dict | None:
    value = rate(limit)
    if value is None:
        return None
    with _one_writer(increment):
        return get_usage(
            request, group=limit.group, key=_client_key, rate=value, increment=increment
        )


def limit_hit(limit: Limit, request) -> int | None:
    """Counts one request; the seconds until the window ends if it is over the limit."""
    usage = _usage(limit, request, increment=True)
    return _retry_after(usage)


def limit_reached(limit: Limit, request) -> int | None:
    """Like limit_hit, without counting: for limits that count failures only."""
    usage = _usage(limit, request, increment=False)
    if usage is None or usage["count"] < usage["limit"]:
        return None
    return _seconds_left(usage)


def _retry_after(usage: dict | None) -> int | None:
    if usage is None or not usage["should_limit"]:
        return None
    return _seconds_left(usage)


def _seconds_left(usage: dict) -> int:
    # django-ratelimit's window still holds during the whole second it names as its end.
    return max(usage["time_left"], 0) + 1
