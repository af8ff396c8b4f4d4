"""The one guard for API request bodies: size, media type, JSON nesting depth and NUL.

Every operation reaches it: ninja's body, form and file parameters are read through ApiParser,
and a view that reads its body itself (POST /api/generations, which takes JSON or a multipart
form) calls json_body / form_check. What an operation accepts is what its signature declares
(Body → JSON, Form/File → multipart), which is also what its OpenAPI entry documents. Bodies are
examined after authentication, so a caller without credentials gets 401 whatever it sent.

- size: over DATA_UPLOAD_MAX_MEMORY_SIZE (JSON) or the upload cap (everything, refused by
  ApiGuardMiddleware before Django reads a byte) → 413 `body_too_large`;
- media type: JSON operations take `application/json` (charset, if given, UTF-8), form
  operations `multipart/form-data` → else 415 `unsupported_media_type`;
- JSON: UTF-8, at most MAX_JSON_DEPTH levels of arrays/objects (counted before parsing, so a
  nesting bomb never reaches the recursive parser) → else 400 `invalid_json` with the reason;
- text holding NUL (U+0000) → 422: PostgreSQL cannot store it in text or jsonb, so it would
  otherwise fail in a query as a 500; it is refused at the door, the same on every database."""

import json
import re
from datetime import UTC, datetime
from typing import Annotated

import numpy as np
from django.conf import settings
from ninja.parser import Parser
from pydantic import AfterValidator

from mintmark.errors import ApiError

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "multipart/form-data"
# Far below the interpreter's recursion limit (json.loads recurses per level), far above what
# any operation's schema nests (policy rules: 4 levels).
MAX_JSON_DEPTH = 64

# A complete JSON string literal; removing them leaves only structure, so the brackets left are
# exactly the nesting (inside a valid prefix, which is all json.loads ever descends into).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
# +1 for an opening bracket, -1 for a closing one, 0 for any other byte (UTF-8 bytes of other
# characters never equal these four). A running sum in numpy: 2 MiB of brackets in ~40 ms.
_STEP = np.zeros(256, dtype=np.int32)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text`, without parsing it."""
    structure = np.frombuffer(_JSON_STRING.sub("", text).encode(), dtype=np.uint8)
    return int(np.cumsum(_STEP[structure]).max(initial=0))


def json_too_deep(text: str) -> str | None:
    """Why `text` nests too deep for json.loads to be given it, or None when it does not."""
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        return f"The JSON nests {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted."
    return None


def body_size_check(request, limit: int) -> None:
    """413 when the declared body size is over `limit`, before any of it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise ApiError(
            413, "body_too_large", f"The request body is {length} bytes; the limit is {limit}."
        )


def _media_type_check(request, accepted: tuple[str, ...]) -> None:
    media_type = request.content_type or "(none)"
    charset = request.content_params.get("charset")
    if media_type not in accepted:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"This operation takes {' or '.join(accepted)}, not {media_type}.",
        )
    if media_type == JSON_MEDIA_TYPE and charset and charset.lower().replace("_", "-") != "utf-8":
        raise ApiError(415, "unsupported_media_type", f"JSON must be UTF-8, not {charset}.")


def json_body(request, *, also: tuple[str, ...] = ()):
    """The request's JSON body, parsed, after every check above. `also` names further media
    types the operation takes (checked here, parsed by the caller)."""
    _media_type_check(request, (JSON_MEDIA_TYPE, *also))
    body_size_check(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if not request.body:
        raise ApiError(400, "invalid_json", "The body is empty; this operation takes JSON.")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_json", f"The body is not UTF-8 (byte {exc.start}).") from None
    if too_deep := json_too_deep(text):
        raise ApiError(400, "invalid_json", too_deep)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {reason}.") from None
    except ValueError as exc:
        # e.g. an integer longer than Python converts (sys.get_int_max_str_digits).
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}.") from None
    refuse_nul(data)
    return data


def form_check(request) -> None:
    """415 unless the body is a multipart form (a broken one is answered by mintmark.api's
    MultiPartParserError handler: 400 `invalid_form`)."""
    _media_type_check(request, (FORM_MEDIA_TYPE,))


def form_data(request):
    """The form's fields and files of a view that reads its own multipart body."""
    form_check(request)
    refuse_nul(dict(request.POST.lists()))
    return request.POST, request.FILES


def refuse_nul(value) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiError(
                422, "invalid_request", "Text in a request may not contain NUL (U+0000)."
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key)
            refuse_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            refuse_nul(item)


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


# A time the API reads, in UTC. ISO 8601 allows offsets PostgreSQL cannot store (beyond ±15:59,
# e.g. -22:33) and ones that leave the representable years once converted (0001-01-01+05:00);
# converted here, such a value is either stored or refused as 422, never a database error.
UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


class ApiParser(Parser):
    def parse_body(self, request):
        # ninja wraps any exception raised here in HttpError(400); mintmark.api answers the
        # ApiError it wraps instead.
        return json_body(request)

    def parse_querydict(self, data, list_fields, request):
        # The query string, or a form's fields or files (uploaded files are not str and pass
        # untouched by refuse_nul).
        if data is not request.GET:
            form_check(request)
        result = super().parse_querydict(data, list_fields, request)
        refuse_nul(result)
        return result
