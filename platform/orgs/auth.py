"""API authentication: per-user bearer tokens, or the portal's session cookie (with CSRF).

A request that carries an Authorization header is decided by it alone: a bad token is 401 even
beside a session cookie, and a token request is never CSRF-checked (a browser cannot be made to
send the header cross-site). CSRF is checked only where a logged-in session is what
authenticates, so a caller with no credentials at all gets 401, not a CSRF 403."""

from django.conf import settings
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from mintmark.errors import ApiError
from orgs.services import token_authenticate


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        return token_authenticate(secret=token)


class PortalSessionAuth(APIKeyCookie):
    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request):
        if "Authorization" in request.headers or not request.user.is_authenticated:
            return None
        return super().__call__(request)

    def _get_key(self, request):
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise ApiError(
                403,
                "csrf_failed",
                "A portal session needs the CSRF token (header X-CSRFToken); API clients "
                "send 'Authorization: Bearer <token>' instead.",
            )
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        return request.user


API_AUTH = [TokenAuth(), PortalSessionAuth()]
