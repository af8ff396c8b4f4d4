"""NUL (U+0000) in what a page request sends is refused with 400 before any view runs.

PostgreSQL cannot hold NUL in text, not even as a query parameter: a lookup or a save with one
fails in the database as a 500. The API refuses it in its parser (mintmark/parsing.py); the
portal, the login and single sign-on pages read request.GET and request.POST directly into
selectors and services, so the same refusal is made here, once, for all of them."""

from django.core.exceptions import BadRequest


def _holds_nul(querydict) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in querydict.lists()
    )


class NulRefusalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # /api/ bodies and query strings are refused by its parser after authentication, so
        # that a caller without credentials still gets 401 (API.md).
        if not request.path.startswith("/api/") and (
            "\x00" in request.path or _holds_nul(request.GET) or _holds_nul(request.POST)
        ):
            raise BadRequest("Text in a request may not contain NUL (U+0000).")
        return self.get_response(request)
