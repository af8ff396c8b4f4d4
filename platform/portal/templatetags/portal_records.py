"""Filters for showing stored records: free-form fields (gate details, audit data, policy
rules) as compact, stable JSON instead of Python's repr, and the records' ISO times in words
a person reads at a glance."""

import json
from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def as_json(value, indent=None) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=indent, default=str)


@register.filter
def iso_time(value) -> str:
    """'2025-03-01T12:00:03.123456+00:00' → '2025-03-01 12:00:03 UTC'; anything else as is."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
