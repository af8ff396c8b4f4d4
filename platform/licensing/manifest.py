"""Dataset manifests: a CSV or JSON list of items (plain module, no Django).

Each row names a `file` relative to the image folder and its `licence` key, with optional
`source_url`, `creator`, `caption` and `consent` (unknown/granted/opted_out)."""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

CONSENT_VALUES = ("unknown", "granted", "opted_out")


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class ManifestRow:
    line: int
    file: str
    licence: str
    source_url: str = ""
    creator: str = ""
    caption: str = ""
    consent: str = "unknown"


def _rows_from(path: Path) -> list[tuple[int, dict]]:
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                data = data.get("items")
            if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
                raise ManifestError(f"{path}: expected a list of objects (or {{'items': [...]}})")
            return list(enumerate(data, start=1))
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                # Line 1 is the header, so data rows start at 2, as a spreadsheet shows them.
                return list(enumerate(csv.DictReader(handle), start=2))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise ManifestError(f"{path}: cannot be read: {exc}") from None
    raise ManifestError(f"{path}: a manifest must be .csv or .json")


def manifest_read(path: Path) -> list[ManifestRow]:
    rows, problems = [], []
    for line, raw in _rows_from(path):
        values = {key.strip(): str(value or "").strip() for key, value in raw.items() if key}
        missing = [key for key in ("file", "licence") if not values.get(key)]
        if missing:
            problems.append(f"row {line}: missing {', '.join(missing)}")
            continue
        consent = values.get("consent") or "unknown"
        if consent not in CONSENT_VALUES:
            problems.append(f"row {line}: consent {consent!r} is not one of {CONSENT_VALUES}")
            continue
        rows.append(
            ManifestRow(
                line=line,
                file=values["file"],
                licence=values["licence"],
                source_url=values.get("source_url", ""),
                creator=values.get("creator", ""),
                caption=values.get("caption", ""),
                consent=consent,
            )
        )
    if problems:
        raise ManifestError("; ".join(problems))
    if not rows:
        raise ManifestError(f"{path}: the manifest lists no items")
    return rows
