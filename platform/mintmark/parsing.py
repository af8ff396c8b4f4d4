"""The API's request parser: ninja's, refusing text that holds NUL (U+0000).

PostgreSQL cannot store NUL in text or jsonb, so such input would otherwise reach a query and
fail there as a 500; it is refused at the door, the same way on every database."""

from ninja.parser import Parser

from mintmark.errors import ApiError


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


class ApiParser(Parser):
    def parse_body(self, request):
        # ninja answers any exception here as 400 "Cannot parse request body".
        data = super().parse_body(request)
        refuse_nul(data)
        return data

    def parse_querydict(self, data, list_fields, request):
        # Query strings and form fields (uploaded files are not str and pass untouched).
        result = super().parse_querydict(data, list_fields, request)
        refuse_nul(result)
        return result
