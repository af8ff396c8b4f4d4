"""`as_json`: a record's free-form fields (gate details, audit data, policy rules) shown as
compact, stable JSON instead of Python's repr."""

import json

from django import template

register = template.Library()


@register.filter
def as_json(value, indent=None) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=indent, default=str)
