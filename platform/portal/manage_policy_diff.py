"""What changed between two policy versions: the rules that differ, by dotted path, and a
unified diff of the pretty-printed JSON for the full picture."""

import difflib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    path: str
    old: str
    new: str


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add, del, hunk or same
    text: str


def _leaves(rules: dict, prefix: str = "") -> dict[str, object]:
    leaves = {}
    for name, value in rules.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            leaves.update(_leaves(value, path + "."))
        else:
            leaves[path] = value
    return leaves


_ABSENT = object()


def _shown(value) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value)


def rule_changes(old: dict, new: dict) -> list[Change]:
    before, after = _leaves(old), _leaves(new)
    return [
        Change(path, _shown(before.get(path, _ABSENT)), _shown(after.get(path, _ABSENT)))
        for path in sorted(before.keys() | after.keys())
        if before.get(path, _ABSENT) != after.get(path, _ABSENT)
    ]


def unified_lines(old: dict, new: dict, old_name: str, new_name: str) -> list[DiffLine]:
    lines = difflib.unified_diff(
        json.dumps(old, indent=2, sort_keys=True).splitlines(),
        json.dumps(new, indent=2, sort_keys=True).splitlines(),
        fromfile=old_name,
        tofile=new_name,
        lineterm="",
        n=2,
    )
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return [
        DiffLine("hunk" if line[:3] in ("---", "+++") else kinds.get(line[:1], "same"), line)
        for line in lines
    ]
