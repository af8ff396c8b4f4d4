"""Audit exports as JSON Lines or CSV, streamed in seq order."""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from audit.selectors import event_record

CSV_COLUMNS = (
    "seq",
    "created_at",
    "actor",
    "actor_label",
    "action",
    "subject_type",
    "subject_id",
    "data",
    "prev_hash",
    "hash",
    "org",
)
FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
# A spreadsheet runs a cell that starts with one of these as a formula; names and ids come from
# users and SSO providers, so such a cell gets a leading apostrophe (OWASP's CSV injection
# advice). `csv_cell_original` undoes it, so the chain still re-verifies from the CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, "'")):
        return "'" + value
    return value


def csv_cell_original(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def export_lines(events: Iterable, fmt: str) -> Iterator[str]:
    if fmt == "jsonl":
        for event in events:
            yield json.dumps(event_record(event), sort_keys=True, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for event in events:
        record = event_record(event)
        record["data"] = json.dumps(record["data"], sort_keys=True, ensure_ascii=False)
        writer.writerow([csv_cell(record[column]) for column in CSV_COLUMNS])
        yield flush()


def export_response(*, org, events, fmt: str) -> StreamingHttpResponse:
    """`events` (a queryset of the org's events) as a download, streamed in seq order."""
    rows = events.order_by("seq").iterator(chunk_size=2000)
    response = StreamingHttpResponse(export_lines(rows, fmt), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="audit-{org.slug}.{fmt}"'
    return response
