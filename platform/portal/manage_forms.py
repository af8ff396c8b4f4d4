"""Form input for the admin pages, validated by the API's own request schemas, so a form and
the API accept and refuse exactly the same things; refusals come back per field, in words."""

from pydantic import BaseModel, ValidationError

from mintmark.errors import ApiError

GENERAL = "form"


def validated(schema: type[BaseModel], data: dict, wording: dict[str, str] | None = None):
    """(the schema instance, {}) or (None, {field: message}). `wording` replaces the schema's
    message for a field whose rule reads badly to a person (a pattern, say)."""
    try:
        return schema.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else GENERAL
            errors.setdefault(name, (wording or {}).get(name) or error["msg"])
        return None, errors


def refusal_errors(exc: ApiError, field_of_code: dict[str, str]) -> dict[str, str]:
    """A service's refusal, beside the field it is about (by its code), else for the form."""
    return {field_of_code.get(exc.code, GENERAL): exc.detail}
