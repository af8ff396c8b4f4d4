"""The one HTTP API under /api/: routers per app, JSON errors everywhere."""

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from mintmark.errors import ApiError
from mintmark.parsing import ApiParser
from orgs.auth import API_AUTH

api = NinjaAPI(
    title="Mintmark API",
    version="1",
    description="Governed image generation with provenance. Errors are "
    '`{"error": code, "detail": sentence}`.',
    auth=API_AUTH,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=ApiParser(),
)


def error_response(request, status: int, code: str, detail: str, **extra):
    return api.create_response(request, {"error": code, "detail": detail, **extra}, status=status)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return api.create_response(request, exc.body(), status=exc.status)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    parts = []
    for error in exc.errors:
        where = ".".join(
            str(part) for part in error.get("loc", ()) if part not in ("body", "payload")
        )
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return error_response(
        request, 422, "invalid_request", "; ".join(parts) or "Invalid request.", fields=exc.errors
    )


@api.exception_handler(AuthenticationError)
def _not_authenticated(request, exc):
    return error_response(
        request, 401, "not_authenticated", "Send 'Authorization: Bearer <token>' or log in."
    )


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    return error_response(request, exc.status_code, code, str(exc))


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return error_response(request, 413, "body_too_large", str(exc))


@api.exception_handler(OverflowError)
def _out_of_range(request, exc):
    # A date or number the database cannot represent (e.g. 0001-01-01T00:00+05:00 in UTC).
    return error_response(
        request, 422, "invalid_request", "A value in the request is out of range."
    )


def _register_routers() -> None:
    from audit.api import router as audit_router
    from generation.api import router as generation_router
    from generation.jobs_api import router as jobs_router
    from licensing.api import router as licensing_router
    from mintmark.health import router as health_router
    from moderation.api import router as moderation_router
    from orgs.api import router as orgs_router
    from policies.api import router as policies_router
    from provenance.api import router as provenance_router

    api.add_router("/", orgs_router)
    api.add_router("/", policies_router)
    api.add_router("/", licensing_router)
    api.add_router("/", generation_router)
    api.add_router("/", jobs_router)
    api.add_router("/", moderation_router)
    api.add_router("/", provenance_router)
    api.add_router("/audit", audit_router)
    api.add_router("/", health_router)


_register_routers()
