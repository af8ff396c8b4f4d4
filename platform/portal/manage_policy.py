"""Admin pages: the active policy, its versions, the editor (a form built from the rules'
schema, or the JSON) and the difference between two versions. Saving always makes a new
version through the API's service; versions are never edited."""

import json

from django.contrib import messages
from django.shortcuts import redirect, render

from mintmark.errors import ApiError
from mintmark.parsing import json_too_deep
from orgs.access import ADMIN
from policies.models import Policy
from policies.selectors import policy_active
from policies.services import PolicyInvalid, policy_create, policy_rules_validate
from portal.access import org_page
from portal.manage_policy_diff import rule_changes, unified_lines
from portal.manage_policy_form import (
    problems_by_field,
    readable_rules,
    rule_fields,
    rule_sections,
    rules_from_form,
)
from portal.paging import page_of, query_without_page


def _versions(org):
    return Policy.objects.for_org(org).select_related("created_by").order_by("-version")


def _version_number(raw: str | None, name: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be a version number.") from None


@org_page(ADMIN)
def policy(request):
    org = request.membership.org
    active = policy_active(org=org)
    context = {
        "active": active,
        "readable": readable_rules(active.rules),
        "page": page_of(request, _versions(org)),
        "query": query_without_page(request),
        "numbers": list(_versions(org).values_list("version", flat=True)),
    }
    return render(request, "portal/manage/policy.html", context)


@org_page(ADMIN)
def policy_version(request, version):
    org = request.membership.org
    shown = Policy.objects.get_for_org(org, version=version)
    context = {
        "shown": shown,
        "active": policy_active(org=org),
        "readable": readable_rules(shown.rules),
        "rules_json": json.dumps(shown.rules, indent=2, sort_keys=True),
    }
    return render(request, "portal/manage/policy_version.html", context)


def _form_sections(values: dict, errors: dict[str, str]) -> list:
    return [
        (
            section.legend,
            [(rule, values[rule.path], errors.get(rule.path)) for rule in section.fields],
        )
        for section in rule_sections()
    ]


def _editor(request, base: Policy, active: Policy, *, status: int = 200, **state):
    """The editor page. `state` carries what the admin typed and what was refused, so a
    refused save shows their input again, not the stored version."""
    values = state.pop("values", None) or {
        rule.path: rule.form_value(base.rules) for rule in rule_fields()
    }
    field_errors = state.pop("field_errors", {})
    context = {
        "base": base,
        "active": active,
        "sections": _form_sections(values, field_errors),
        "error_count": len(field_errors),
        "field_errors": field_errors,
        "general_errors": [],
        "json_errors": [],
        "rules_json": json.dumps(base.rules, indent=2, sort_keys=True),
        "note": "",
        "mode": "form",
        **state,
    }
    return render(request, "portal/manage/policy_edit.html", context, status=status)


def _submitted_values(data) -> dict:
    return {rule.path: rule.submitted_value(data) for rule in rule_fields()}


@org_page(ADMIN)
def policy_edit(request):
    org = request.membership.org
    active = policy_active(org=org)
    source = request.POST if request.method == "POST" else request.GET
    number = _version_number(source.get("base"), "base")
    base = active if number is None else Policy.objects.get_for_org(org, version=number)
    if request.method != "POST":
        return _editor(request, base, active)

    mode = "json" if request.POST.get("mode") == "json" else "form"
    note = request.POST.get("note", "").strip()
    state = {"mode": mode, "note": note}
    if mode == "json":
        state["rules_json"] = request.POST.get("rules_json", "")
    else:
        state["values"] = _submitted_values(request.POST)

    # A version saved by someone else since this editor opened would be silently replaced.
    seen = _version_number(request.POST.get("active_seen"), "active_seen")
    if seen is not None and seen != active.version:
        state["stale"] = True
        return _editor(request, base, active, status=409, **state)
    if len(note) > 500:
        state["general_errors"] = ["The note can be at most 500 characters."]
        return _editor(request, base, active, status=422, **state)

    if mode == "json":
        # Counted before parsing: json.loads recurses once per level and would fail with a
        # RecursionError (a 500) on a pasted '[' x 100 000.
        if too_deep := json_too_deep(state["rules_json"]):
            state["json_errors"] = [too_deep]
            return _editor(request, base, active, status=422, **state)
        try:
            rules = json.loads(state["rules_json"])
        except json.JSONDecodeError as exc:
            state["json_errors"] = [
                f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ]
            return _editor(request, base, active, status=422, **state)
    else:
        rules, unreadable = rules_from_form(request.POST, base.rules)
        if unreadable:
            # The other inputs are checked too, so every problem shows at once.
            try:
                policy_rules_validate(rules)
            except PolicyInvalid as exc:
                state["field_errors"], state["general_errors"] = problems_by_field(exc.problems)
            state["field_errors"] = {**state.get("field_errors", {}), **unreadable}
            return _editor(request, base, active, status=422, **state)

    try:
        created = policy_create(org=org, actor=request.user, rules=rules, note=note)
    except PolicyInvalid as exc:
        if mode == "json":
            state["json_errors"] = [f"{where or 'rules'}: {msg}" for where, msg in exc.problems]
        else:
            state["field_errors"], state["general_errors"] = problems_by_field(exc.problems)
        return _editor(request, base, active, status=exc.status, **state)
    except ApiError as exc:
        state["json_errors" if mode == "json" else "general_errors"] = [exc.detail]
        return _editor(request, base, active, status=exc.status, **state)
    messages.success(request, f"Saved as version {created.version}; it is now the active policy.")
    return redirect("portal:manage_policy", org=org.slug)


@org_page(ADMIN)
def policy_diff(request):
    org = request.membership.org
    active = policy_active(org=org)
    new_number = _version_number(request.GET.get("b"), "b") or active.version
    old_number = _version_number(request.GET.get("a"), "a") or max(new_number - 1, 1)
    old = Policy.objects.get_for_org(org, version=old_number)
    new = Policy.objects.get_for_org(org, version=new_number)
    context = {
        "old": old,
        "new": new,
        "changes": rule_changes(old.rules, new.rules),
        "lines": unified_lines(
            old.rules, new.rules, f"version {old.version}", f"version {new.version}"
        ),
        "numbers": list(_versions(org).values_list("version", flat=True)),
    }
    return render(request, "portal/manage/policy_diff.html", context)
