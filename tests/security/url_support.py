"""Every URL the project serves, read from the URL configuration and the API object, so a page
or an operation added later (by any app) is walked by the security tests as soon as it exists."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

from tests.test_access_matrix import api_routes


@dataclass(frozen=True)
class Route:
    """One URL pattern: its template with {name} placeholders and the methods to send."""

    template: str
    methods: tuple[str, ...]

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.template)

    def url(self, values: dict) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: str(values[m[1]]), self.template)


def django_patterns(patterns=None, prefix=""):
    """Each URL pattern of the project as its route string ('o/<slug:org>/jobs/')."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from django_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def routes() -> list[Route]:
    """The API's operations (with their methods) and every other page (GET and POST), less the
    operators' admin site and the API's catch-all, which have tests of their own."""
    found = {
        Route(path, (method,))
        for method, path in api_routes() | {("GET", "/api/openapi.json"), ("GET", "/api/docs")}
    }
    for pattern in django_patterns():
        if pattern.startswith(("api/", "^api/", "admin/")):
            continue
        template = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)
        found.add(Route(template, ("GET", "POST")))
    return sorted(found, key=lambda route: (route.template, route.methods))
