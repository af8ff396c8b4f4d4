"""Filters for showing stored records: free-form fields (gate details, audit data, policy
rules) as compact, stable JSON instead of Python's repr, and the records' times as a person
reads them at a glance, in <time> elements."""

import json
from datetime import UTC, datetime

from django import template
from django.template.defaultfilters import date
from django.utils.html import format_html

register = template.Library()


@register.filter
def as_json(value, indent=None) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=indent, default=str)


def _time_element(machine: str, shown: str) -> str:
    # A <time> never wraps (portal.css): a time split over two lines reads as two values.
    return format_html('<time datetime="{}">{}</time>', machine, shown)


@register.filter
def iso_time(value) -> str:
    """'2025-03-01T12:00:03.123456+00:00' → '2025-03-01 12:00:03 UTC' in a <time>; anything
    else as is."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    return _time_element(value, moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))


@register.filter
def when(value, fmt: str = "Y-m-d H:i") -> str:
    """A stored datetime as Django's date filter shows it with `fmt`, in a <time>; nothing for
    none, so `|default:` still applies."""
    if not value:
        return ""
    return _time_element(value.isoformat(), date(value, fmt))
