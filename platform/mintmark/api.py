"""The one HTTP API under /api/: routers per app, JSON errors everywhere, and an OpenAPI
schema that documents every operation's error answers and refuses two schemas of one name."""

from http import HTTPStatus

from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.db import IntegrityError
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import REF_TEMPLATE, OpenAPISchema

from mintmark.errors import ApiError, ErrorOut, concurrent_conflict
from mintmark.parsing import ApiParser
from orgs.auth import API_AUTH

_BODY_SOURCES = {"body", "form", "file"}
_ERROR_REF = {"$ref": REF_TEMPLATE.format(model="ErrorOut")}


def error_statuses(operation, *, has_body: bool) -> set[int]:
    """The error answers every operation of its kind can give (API.md): credentials (401),
    role, CSRF or org membership (403, 404), ids in the path (404), parameters (422), bodies
    (400 unreadable, 413 too large, 415 wrong media type, 422 invalid), and, for writes, a
    conflict with the current state (409). Every operation may answer 429 rate_limited: an
    address over a public route's limit or past too many invalid tokens (throttle/). Answers
    only some operations give (429 quota, 503 a gate down) are declared on those operations'
    `response`."""
    sources = {model.__ninja_param_source__ for model in operation.models}
    statuses = {429}
    authenticated = bool(operation.auth_callbacks)
    if authenticated:
        statuses |= {401, 403, 404}
    if "path" in sources:
        statuses |= {404, 422}
    if "query" in sources:
        statuses.add(422)
    if has_body:
        statuses |= {400, 413, 415, 422}
    if authenticated and set(operation.methods) - {"GET", "HEAD", "OPTIONS"}:
        statuses.add(409)
    return statuses


class ApiSchema(OpenAPISchema):
    def add_schema_definitions(self, definitions: dict) -> None:
        # ninja keys components by class name and lets a later one overwrite an earlier one,
        # so an operation would point at another operation's schema.
        for name, definition in definitions.items():
            known = self.schemas.get(name)
            if known is not None and known != definition:
                raise ImproperlyConfigured(
                    f"Two different schemas are both named {name!r}; give each a distinct "
                    "class name (the name is the OpenAPI component's)."
                )
        super().add_schema_definitions(definitions)

    def operation_details(self, operation) -> dict:
        details = super().operation_details(operation)
        responses = details["responses"]
        for status in sorted(error_statuses(operation, has_body="requestBody" in details)):
            responses.setdefault(status, {"description": HTTPStatus(status).phrase})
        for status, answer in responses.items():
            if int(status) >= 400:
                answer.setdefault("content", {"application/json": {"schema": _ERROR_REF}})
        return details

    def get_components(self) -> dict:
        self.add_schema_definitions(
            {"ErrorOut": ErrorOut.model_json_schema(ref_template=REF_TEMPLATE)}
        )
        return super().get_components()


class MintmarkAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return ApiSchema(self, path_prefix)


api = MintmarkAPI(
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
    if isinstance(exc.__cause__, ApiError):
        # ninja wraps whatever the body parser raises in a 400; the guard's answer is precise.
        return _api_error(request, exc.__cause__)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    return error_response(request, exc.status_code, code, str(exc))


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return error_response(request, 413, "body_too_large", str(exc))


@api.exception_handler(MultiPartParserError)
def _bad_form(request, exc):
    return error_response(request, 400, "invalid_form", f"The multipart body cannot be read: {exc}")


@api.exception_handler(IntegrityError)
def _conflict(request, exc):
    return _api_error(request, concurrent_conflict())


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
    from generation.provenance_api import router as provenance_router
    from licensing.api import router as licensing_router
    from mintmark.health import router as health_router
    from moderation.api import router as moderation_router
    from orgs.api import router as orgs_router
    from policies.api import router as policies_router
    from sso.api import router as sso_router
    from webhooks.api import router as webhooks_router

    api.add_router("/", orgs_router)
    api.add_router("/", policies_router)
    api.add_router("/", licensing_router)
    api.add_router("/", generation_router)
    api.add_router("/", jobs_router)
    api.add_router("/", moderation_router)
    api.add_router("/", provenance_router)
    api.add_router("/", sso_router)
    api.add_router("/", webhooks_router)
    api.add_router("/audit", audit_router)
    api.add_router("/", health_router)


_register_routers()
