"""Answers 429 to an address over one of the limits in throttle.limits: before the view runs
for the public routes, and before the token is looked up for API requests from an address that
sent too many invalid tokens. Failed token checks are counted on the way out."""

from django.http import JsonResponse
from django.shortcuts import render

from throttle.limits import BAD_TOKEN, ROUTES, Limit, limit_hit, limit_reached


def too_many_requests(request, limit: Limit, retry_after: int):
    detail = f"{limit.detail} Try again in {retry_after} s."
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": "rate_limited", "detail": detail, "retry_after": retry_after}, status=429
        )
    else:
        response = render(request, "throttle/too_many.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _bearer(request) -> bool:
    # The API reads credentials from Authorization alone when the header is there
    # (orgs/auth.py), so a 401 to such a request means the header was not accepted.
    return request.path.startswith("/api/") and "Authorization" in request.headers


class ThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 401 and _bearer(request):
            limit_hit(BAD_TOKEN, request)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        limit = ROUTES.get((match.view_name, request.method)) if match else None
        if limit is not None and (retry_after := limit_hit(limit, request)):
            return too_many_requests(request, limit, retry_after)
        if _bearer(request) and (retry_after := limit_reached(BAD_TOKEN, request)):
            return too_many_requests(request, BAD_TOKEN, retry_after)
        return None
