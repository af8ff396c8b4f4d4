"""The policy editor's form, built from the PolicyRules schema: one input per rule, grouped in
fieldsets, with the schema's limits and descriptions. The schema stays the only validator;
the form only turns inputs into the JSON the schema reads and puts its refusals back beside
the fields they concern.

A rule the form cannot show (a type it has no input for) keeps the value of the version the
edit started from, so saving from the form never resets what it does not display."""

import copy
import types
from dataclasses import dataclass, field
from functools import cache
from typing import Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from policies.rules import MANDATORY_CATEGORY, PolicyRules

# Top-level rules, grouped as an admin thinks of them; a rule missing here lands in "Other".
TOP_GROUPS = {
    "Models": ("allowed_models", "commercial_use", "allow_opted_out_models"),
    "Limits per job": ("max_width", "max_height", "max_steps", "max_images_per_job"),
    "Human review": ("review_contexts",),
}
SECTION_TITLES = {
    "quota": "Monthly quota",
    "prompt": "Prompt gate",
    "image_safety": "Image safety",
    "memorization": "Memorization (copies of training items)",
    "provenance": "Provenance",
    "adapters": "LoRA adapters",
    "controlnets": "ControlNets",
    "abuse": "Abuse limits",
}
# Choices a policy cannot drop: shown ticked and fixed.
LOCKED = {"prompt.blocked_categories": (MANDATORY_CATEGORY,)}
# Labels where the rule's name reads poorly to a person; the others are the name, humanised.
LABELS = {
    "provenance.watermark": "Invisible watermark",
    "provenance.c2pa": "C2PA content credentials",
    "memorization.max_hamming": "Hash matches always compared (bits)",
    "memorization.candidate_radius": "Candidate search radius (bits)",
    "memorization.min_similarity": "Pixel similarity that makes a copy standing apart",
    "memorization.exact_similarity": "Pixel similarity that always makes a copy",
    "memorization.max_neighbour_ratio": "Distance to its nearest item against the next ones",
    "memorization.inputs": "Edit inputs that copy a training item",
    "quota.org_monthly_images": "Organization images per month",
    "quota.user_monthly_images": "Images per member per month",
    "abuse.max_blocked": "Blocked requests before suspension",
    "abuse.window_hours": "Counting window (hours)",
    "adapters.allowed": "Adapters jobs may apply",
    "adapters.max_per_job": "Adapters per job",
    "adapters.max_weight": "Largest adapter weight",
    "controlnets.allowed": "ControlNets jobs may use",
    "controlnets.max_scale": "Largest conditioning scale",
}
# What an empty list means where it is not "none" (the schema's description says so).
EMPTY_MEANS = {
    "allowed_models": "any registered model",
    "adapters.allowed": "any adapter of the chosen model",
    "controlnets.allowed": "any ControlNet of the chosen model",
}
# How to type a rule into its input, added to the schema's description of the rule.
INPUT_HINTS = {
    "allowed_models": "One per line.",
    "adapters.allowed": "One per line.",
    "controlnets.allowed": "One per line.",
    "prompt.blocked_terms": "One per line.",
    "prompt.protected_names": "One per line.",
    "image_safety.thresholds": "One per line, as name = value (for example nudity = 0.5).",
}


@dataclass(frozen=True)
class RuleField:
    path: str
    label: str
    hint: str
    kind: str  # bool, int, float, choice, multi, lines, mapping or fixed
    choices: tuple = ()
    locked: tuple = ()
    optional: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: str = ""

    @property
    def input_id(self) -> str:
        return "rule-" + self.path.replace(".", "-").replace("_", "-")

    def value_in(self, rules: dict):
        value = rules
        for part in self.path.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    def form_value(self, rules: dict):
        """The value as the input shows it."""
        value = self.value_in(rules)
        if self.kind == "lines":
            return "\n".join(value or ())
        if self.kind == "mapping":
            return "\n".join(f"{name} = {number}" for name, number in (value or {}).items())
        if self.kind == "multi":
            return list(value or ())
        return "" if value is None else value

    def submitted_value(self, data):
        """What the admin typed, to show again beside a refusal."""
        if self.kind == "bool":
            return self.path in data
        if self.kind == "multi":
            return data.getlist(self.path)
        if self.kind == "fixed":
            return True
        return data.get(self.path, "")

    def readable(self, rules: dict) -> str:
        value = self.value_in(rules)
        if self.kind == "fixed":
            return "always on"
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind in ("multi", "lines"):
            return ", ".join(value) if value else EMPTY_MEANS.get(self.path, "none")
        if self.kind == "mapping":
            return ", ".join(f"{k} {v}" for k, v in value.items()) if value else "none"
        return "not set" if value is None else str(value)

    def parse(self, data):
        """The input's value as the schema reads it; ValueError for what no rule could mean."""
        name = self.path
        if self.kind == "bool":
            return name in data
        if self.kind == "multi":
            return data.getlist(name)
        raw = data.get(name, "")
        if self.kind == "lines":
            return [line.strip() for line in raw.splitlines() if line.strip()]
        if self.kind == "mapping":
            return _mapping_parse(raw)
        raw = raw.strip()
        if self.kind in ("int", "float") and not raw:
            if self.optional:
                return None
            raise ValueError("Enter a number.")
        # Numbers stay text here: the schema converts them and words its own refusal.
        return raw


def _mapping_parse(text: str) -> dict[str, str]:
    mapping = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"Line {number}: write a name, '=' and a number.")
        mapping[name.strip()] = value.strip()
    return mapping


@dataclass
class Section:
    legend: str
    fields: list[RuleField] = field(default_factory=list)


def _humanise(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _limits(info: FieldInfo) -> dict:
    limits = {}
    for constraint in info.metadata:
        if isinstance(constraint, annotated_types.Ge):
            limits["minimum"] = constraint.ge
        elif isinstance(constraint, annotated_types.Le):
            limits["maximum"] = constraint.le
        elif isinstance(constraint, annotated_types.MultipleOf):
            limits["step"] = str(constraint.multiple_of)
    return limits


def _rule_field(path: str, info: FieldInfo) -> RuleField | None:
    annotation = info.annotation
    origin, args = get_origin(annotation), get_args(annotation)
    optional = False
    if origin in (Union, types.UnionType) and type(None) in args:
        (annotation,) = [arg for arg in args if arg is not type(None)]
        origin, args = get_origin(annotation), get_args(annotation)
        optional = True
    common = {
        "path": path,
        "label": LABELS.get(path) or _humanise(path.rsplit(".", 1)[-1]),
        "hint": " ".join(filter(None, (info.description, INPUT_HINTS.get(path)))),
        "optional": optional,
    }
    if annotation is bool:
        return RuleField(kind="bool", **common)
    if annotation is int:
        return RuleField(kind="int", **{**common, "step": "1", **_limits(info)})
    if annotation is float:
        return RuleField(kind="float", **{**common, "step": "any", **_limits(info)})
    if origin is Literal:
        return RuleField(kind="fixed" if args == (True,) else "choice", choices=args, **common)
    if origin is list and args and get_origin(args[0]) is Literal:
        choices = get_args(args[0])
        return RuleField(kind="multi", choices=choices, locked=LOCKED.get(path, ()), **common)
    if origin is list and args == (str,):
        return RuleField(kind="lines", **common)
    if origin is dict and args == (str, float):
        return RuleField(kind="mapping", **common)
    return None


@cache
def rule_sections() -> tuple[Section, ...]:
    """The fieldsets, in the schema's order (a group sits where its first rule is)."""
    sections: dict[str, Section] = {}
    group_of = {name: group for group, names in TOP_GROUPS.items() for name in names}
    for name, info in PolicyRules.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            section = sections.setdefault(name, Section(SECTION_TITLES.get(name, _humanise(name))))
            for sub_name, sub_info in nested.model_fields.items():
                rule = _rule_field(f"{name}.{sub_name}", sub_info)
                if rule is not None:
                    section.fields.append(rule)
            continue
        rule = _rule_field(name, info)
        if rule is not None:
            group = group_of.get(name, "Other")
            sections.setdefault(group, Section(group)).fields.append(rule)
    return tuple(sections.values())


def rule_fields() -> list[RuleField]:
    return [rule for section in rule_sections() for rule in section.fields]


def readable_rules(rules: dict) -> list[tuple[str, list[tuple[RuleField, str]]]]:
    return [
        (section.legend, [(rule, rule.readable(rules)) for rule in section.fields])
        for section in rule_sections()
    ]


def rules_from_form(data, base: dict) -> tuple[dict, dict[str, str]]:
    """The base version's rules with the form's values put in, and the inputs that could not
    be read (path -> message)."""
    rules = copy.deepcopy(base)
    problems = {}
    for rule in rule_fields():
        if rule.kind == "fixed":
            continue
        try:
            value = rule.parse(data)
        except ValueError as exc:
            problems[rule.path] = str(exc)
            continue
        *parents, leaf = rule.path.split(".")
        target = rules
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return rules, problems


def problems_by_field(problems: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """The schema's refusals (dotted location, message) attached to the form's fields; those
    that concern no one field (a rule across fields) come back apart."""
    paths = sorted((rule.path for rule in rule_fields()), key=len, reverse=True)
    by_field: dict[str, str] = {}
    general: list[str] = []
    for where, message in problems:
        message = message.removeprefix("Value error, ")
        path = next((p for p in paths if where == p or where.startswith(p + ".")), None)
        if path is None:
            general.append(f"{where}: {message}" if where else message)
        else:
            by_field[path] = f"{by_field[path]} {message}" if path in by_field else message
    return by_field, general
