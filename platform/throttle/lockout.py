"""django-axes, adapted to the portal: password logins are locked per username and address
after MINTMARK_LOGIN_FAILURE_LIMIT failures for MINTMARK_LOGIN_LOCKOUT_S; SSO logins, which
carry no password, are not counted (settings.py names these hooks)."""

from math import ceil

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.shortcuts import render

from throttle.services import login_lockout_record


class LockoutBackend(AxesStandaloneBackend):
    """Refuses any login of a locked username and address (first in AUTHENTICATION_BACKENDS).
    A login without a request (a script, the test client's login()) has no address to lock and
    is not checked; axes itself would refuse it with an error."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def sso_login(request, credentials=None) -> bool:
    """Axes' allow-list: an SSO callback authenticates with a code, not a username and
    password, so it is neither counted nor refused (its failures are the provider's)."""
    source = credentials if credentials is not None else request.POST
    return not source.get("username")


def login_locked(request, username: str) -> bool:
    """Whether password logins of `username` from this request's address are locked now."""
    return request is not None and not AxesProxyHandler.is_allowed(request, {"username": username})


def lockout_message(request) -> tuple[str, int]:
    seconds = int(get_cool_off(request).total_seconds())
    minutes = ceil(seconds / 60)
    return (
        "Too many failed logins for this account from your address: it is locked for "
        f"{minutes} minute{'s' if minutes != 1 else ''}. Try again later, or ask an operator to "
        "unlock it.",
        seconds,
    )


def lockout_response(request, original_response=None, credentials=None):
    """The login page with the lockout said on it (429, Retry-After), for the portal's login
    and the admin site's alike: the portal's form signs operators in too."""
    message, seconds = lockout_message(request)
    response = render(request, "portal/login.html", {"locked_out": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def lockout_audit(sender, request, username, ip_address, **kwargs):
    """The lockout in the audit log of each org the account belongs to, once: when the failure
    that reaches the limit locks it (later failures only extend it)."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures != get_failure_limit(request, None):
        return
    login_lockout_record(
        username=username,
        ip_address=ip_address,
        failures=failures,
        cool_off_s=int(get_cool_off(request).total_seconds()),
    )
