"""API errors: every refusal is JSON {"error": code, "detail": sentence}."""

from ninja import Schema
from pydantic import ConfigDict


class ErrorOut(Schema):
    """Every error answer; some carry more fields (e.g. `fields` on 422 `invalid_request`)."""

    model_config = ConfigDict(extra="allow")

    error: str
    detail: str


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra

    def body(self) -> dict:
        return {"error": self.code, "detail": self.detail, **self.extra}


def concurrent_conflict() -> ApiError:
    """What a unique constraint's refusal means to the caller. Services check for duplicates
    before writing, so the database refuses only a row written by another request between
    that check and this write (two admins adding the same member at once): 409, try again,
    and the second try gets the service's own refusal, never a 500."""
    return ApiError(
        409, "conflict", "Another request changed the same thing at the same moment; try again."
    )
