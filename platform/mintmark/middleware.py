from http import HTTPStatus

from django.conf import settings
from django.http import JsonResponse

from mintmark.errors import ApiError
from mintmark.parsing import body_size_check


def _json_error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


class ApiGuardMiddleware:
    """Two guarantees for everything under /api/:

    - a body whose declared size exceeds the upload cap is refused before Django reads it, so
      an oversized upload costs neither memory nor disk (mintmark.parsing checks the rest of
      each body: media type, JSON size and depth);
    - every error is JSON {"error", "detail"}, including the few that Django or the router
      answer before our handlers run (405, with its Allow header; a bad Host 400)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            body_size_check(
                request, settings.MAX_UPLOAD_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            )
        except ApiError as exc:
            return _json_error(exc.status, exc.code, exc.detail)
        response = self.get_response(request)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if response.status_code >= 400 and not is_json and not response.streaming:
            phrase = HTTPStatus(response.status_code).phrase
            code = phrase.lower().replace(" ", "_").replace("-", "_")
            answer = _json_error(response.status_code, code, f"{phrase}.")
            if response.has_header("Allow"):
                answer["Allow"] = response["Allow"]
            return answer
        return response
