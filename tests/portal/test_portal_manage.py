"""The admin pages of the portal (Django test client): members, the policy editor, versions
and diff, datasets and licences with opt-outs, models with their licence posture, abuse
suspensions; every refusal in words, never a 500. tests/browser/test_manage_browser.py drives
the policy editor and the members page in Chromium."""

import csv
import json
import re

import pytest
from django.db import transaction

from licensing.models import ConsentRecord, DatasetItem, Licence
from licensing.services import dataset_create, dataset_import
from moderation.abuse import abuse_record
from moderation.models import Suspension
from orgs.models import Membership
from policies.models import Policy
from policies.rules import PolicyRules, default_rules
from policies.services import policy_create
from portal.manage_policy_form import rule_fields
from tests.mm_api_support import make_dataset, make_model, png_bytes

PAGES = (
    "manage/members/",
    "manage/policy/",
    "manage/policy/edit/",
    "manage/policy/diff/",
    "manage/policy/1/",
    "manage/datasets/",
    "manage/models/",
    "manage/abuse/",
)


@pytest.fixture
def admin(personas):
    return personas["admin"].portal()


def html(response) -> str:
    return response.content.decode()


def form_data(rules: dict, **changes) -> dict:
    """What the editor's form posts for `rules` (as the page fills it in), with `changes`
    (path -> value; None leaves the input out, as an unticked box is)."""
    data = {"mode": "form", "note": ""}
    for rule in rule_fields():
        if rule.kind == "fixed":
            continue
        value = rule.form_value(rules)
        if rule.kind == "bool":
            value = "on" if value else None
        data[rule.path] = value
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def active_version(org) -> int:
    return Policy.objects.filter(org=org).order_by("-version").first().version


# ---------------------------------------------------------------------------------------------
# Access


@pytest.mark.parametrize("page", PAGES)
def test_every_admin_page_renders_for_an_admin_and_refuses_other_roles(personas, page):
    assert personas["admin"].portal().get(f"/o/acme/{page}").status_code == 200
    for role in ("staff", "reviewer", "auditor"):
        response = personas[role].portal().get(f"/o/acme/{page}")
        assert response.status_code == 403, (role, page)
        assert "for the admin role" in html(response)
    assert personas["outsider"].portal().get(f"/o/acme/{page}").status_code == 404


def test_the_menu_offers_admin_pages_to_admins_only(personas):
    menu = ("Members", "Policy", "Datasets", "Models", "Abuse")
    admin_home = html(personas["admin"].portal().get("/o/acme/"))
    staff_home = html(personas["staff"].portal().get("/o/acme/"))
    for label in menu:
        assert f">{label}</a>" in admin_home
        assert f">{label}</a>" not in staff_home


def test_another_orgs_objects_are_404_from_ones_own_org(personas, tmp_path):
    """An admin of globex naming acme's member, dataset, item or suspension under /o/globex/."""
    acme_staff = personas["staff"].membership
    dataset, (item,) = make_dataset(personas["admin"].org, seeds=(1,))
    outsider = personas["outsider"].portal()
    urls = (
        f"/o/globex/manage/members/{acme_staff.pk}/role/",
        f"/o/globex/manage/members/{acme_staff.pk}/remove/",
        f"/o/globex/manage/datasets/{dataset.pk}/",
        f"/o/globex/manage/datasets/{dataset.pk}/items/{item.pk}/opt-out/",
        f"/o/globex/manage/datasets/{dataset.pk}/items/{item.pk}/image/",
    )
    for url in urls:
        assert outsider.post(url, {"role": "admin", "requested_by": "x"}).status_code == 404, url
    acme_staff.refresh_from_db()
    assert acme_staff.role == "staff"
    assert not ConsentRecord.objects.exists()


# ---------------------------------------------------------------------------------------------
# Members


def test_members_lists_everyone_with_their_role(admin):
    page = html(admin.get("/o/acme/manage/members/"))
    for role in ("admin", "staff", "reviewer", "auditor"):
        assert f'data-member="{role}@acme.test"' in page
    assert re.search(r'<option value="reviewer" selected>Reviewer</option>', page)


def test_adding_a_member_with_a_password_lets_them_log_in(admin, acme):
    response = admin.post(
        "/o/acme/manage/members/",
        {"email": "New.Person@acme.test", "role": "reviewer", "password": "a-long-passphrase-7"},
        follow=True,
    )
    assert response.status_code == 200
    assert "new.person@acme.test added as Reviewer" in html(response)
    added = Membership.objects.get(org=acme, user__username="new.person@acme.test")
    assert added.role == "reviewer"
    assert added.user.check_password("a-long-passphrase-7")


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        ({"email": "nobody", "role": "staff"}, 422, "Enter an email address"),
        ({"email": "", "role": "staff"}, 422, "Enter an email address"),
        ({"email": "x@acme.test", "role": "owner"}, 422, "role must be one of"),
        ({"email": "x@acme.test", "role": "staff", "password": "short"}, 422, "at least 8"),
        ({"email": "x@acme.test", "role": "staff", "password": "password123"}, 422, "too common"),
        ({"email": "STAFF@acme.test", "role": "auditor"}, 409, "already a member"),
    ],
)
def test_adding_a_member_refusals_are_words_beside_the_form(admin, acme, form, status, words):
    before = Membership.objects.count()
    response = admin.post("/o/acme/manage/members/", form)
    assert response.status_code == status
    page = html(response)
    assert words in page
    assert 'role="alert"' in page and 'aria-invalid="true"' in page
    assert Membership.objects.count() == before


def test_changing_a_role(admin, personas):
    staff = personas["staff"].membership
    response = admin.post(f"/o/acme/manage/members/{staff.pk}/role/", {"role": "auditor"})
    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.role == "auditor"


def test_the_last_admin_cannot_step_down_or_be_removed(admin, personas):
    me = personas["admin"].membership
    demoted = admin.post(f"/o/acme/manage/members/{me.pk}/role/", {"role": "staff"})
    assert demoted.status_code == 409
    assert "must keep at least one admin" in html(demoted)
    removed = admin.post(f"/o/acme/manage/members/{me.pk}/remove/")
    assert removed.status_code == 409
    assert "must keep at least one admin" in html(removed)
    me.refresh_from_db()
    assert me.role == "admin"


def test_an_unknown_role_is_refused(admin, personas):
    staff = personas["staff"].membership
    response = admin.post(f"/o/acme/manage/members/{staff.pk}/role/", {"role": "owner"})
    assert response.status_code == 422 and "role must be one of" in html(response)
    staff.refresh_from_db()
    assert staff.role == "staff"


def test_removing_asks_first_then_removes(admin, personas):
    reviewer = personas["reviewer"].membership
    confirm = admin.get(f"/o/acme/manage/members/{reviewer.pk}/remove/")
    assert confirm.status_code == 200
    assert "Remove reviewer@acme.test?" in html(confirm)
    assert Membership.objects.filter(pk=reviewer.pk).exists()
    done = admin.post(f"/o/acme/manage/members/{reviewer.pk}/remove/", follow=True)
    assert "reviewer@acme.test removed" in html(done)
    assert not Membership.objects.filter(pk=reviewer.pk).exists()


def test_role_change_is_post_only(admin, personas):
    staff = personas["staff"].membership
    assert admin.get(f"/o/acme/manage/members/{staff.pk}/role/").status_code == 405


# ---------------------------------------------------------------------------------------------
# Policy


def test_policy_page_shows_the_active_rules_readably(admin):
    page = html(admin.get("/o/acme/manage/policy/"))
    assert "Version 1" in page and "is active" in page
    assert '<dd data-rule="max_steps">50</dd>' in page
    assert '<dd data-rule="provenance.watermark">always on</dd>' in page
    assert "Prompt gate" in page and "Monthly quota" in page
    # An empty list of allowed models allows every registered model, not none.
    assert '<dd data-rule="allowed_models">any registered model</dd>' in page
    assert '<dd data-rule="prompt.blocked_terms">none</dd>' in page


def test_the_editor_is_a_form_with_labelled_inputs_hints_and_limits(admin):
    page = html(admin.get("/o/acme/manage/policy/edit/"))
    for rule in rule_fields():
        if rule.kind in ("int", "float", "lines", "mapping", "choice", "bool"):
            assert f'<label for="{rule.input_id}">' in page, rule.path
    assert 'name="max_width" type="number"' in page
    assert 'min="64" max="4096" step="8"' in page
    assert "<legend>Image safety</legend>" in page
    assert "Denoising steps per image." in page
    # The mandatory category is ticked and fixed; the JSON editor is the alternative.
    assert 'id="rule-prompt-blocked-categories-sexual_minors" checked disabled' in page
    assert 'name="rules_json"' in page


def test_saving_the_form_unchanged_keeps_every_rule(admin, acme):
    rules = Policy.objects.get(org=acme, version=1).rules
    response = admin.post("/o/acme/manage/policy/edit/", form_data(rules, active_seen="1"))
    assert response.status_code == 302
    assert Policy.objects.get(org=acme, version=2).rules == rules


def test_saving_the_form_makes_a_new_version_with_the_change(admin, acme, personas):
    v1 = Policy.objects.get(org=acme, version=1)
    data = form_data(
        v1.rules,
        **{
            "max_steps": "30",
            "quota.user_monthly_images": "200",
            "prompt.blocked_terms": "  acme rival \n\nsecret project",
            "image_safety.thresholds": "nudity = 0.3\nviolence=0.7",
            "image_safety.required_classifiers": ["nudenet"],
            "review_contexts": ["medical"],
            "provenance.public_disclosure": ["org", "model", "policy_version"],
            "memorization.embedding_similarity": "",
            "commercial_use": None,
            "note": "tighter steps",
        },
    )
    response = admin.post("/o/acme/manage/policy/edit/", data, follow=True)
    assert response.status_code == 200
    assert "Saved as version 2" in html(response)
    v2 = Policy.objects.get(org=acme, version=2)
    assert v2.note == "tighter steps" and v2.created_by == personas["admin"].user
    rules = v2.rules
    assert rules["max_steps"] == 30 and rules["quota"]["user_monthly_images"] == 200
    assert rules["prompt"]["blocked_terms"] == ["acme rival", "secret project"]
    assert rules["image_safety"] == {
        "required_classifiers": ["nudenet"],
        "thresholds": {"nudity": 0.3, "violence": 0.7},
    }
    assert rules["review_contexts"] == ["medical"]
    assert rules["provenance"]["public_disclosure"] == ["org", "model", "policy_version"]
    assert rules["commercial_use"] is False
    v1.refresh_from_db()
    assert v1.rules == default_rules(), "a version is never edited in place"


@pytest.mark.parametrize(
    ("changes", "field_id", "words"),
    [
        ({"max_width": "1001"}, "rule-max-width", "multiple of 8"),
        ({"max_steps": "lots"}, "rule-max-steps", "valid integer"),
        ({"max_steps": ""}, "rule-max-steps", "Enter a number."),
        ({"abuse.window_hours": "0"}, "rule-abuse-window-hours", "greater than or equal to 1"),
        ({"image_safety.thresholds": "nudity = 1.5"}, "rule-image-safety-thresholds", "between"),
        ({"image_safety.thresholds": "nudity"}, "rule-image-safety-thresholds", "Line 1"),
        (
            {"prompt.blocked_categories": ["sexual", "hate"]},
            "rule-prompt-blocked-categories",
            "&#x27;sexual_minors&#x27; is blocked by every policy and cannot be removed",
        ),
        ({"review_contexts": ["astrology"]}, "rule-review-contexts", "Input should be"),
    ],
)
def test_an_invalid_form_shows_the_error_at_its_field_and_saves_nothing(
    admin, acme, changes, field_id, words
):
    rules = Policy.objects.get(org=acme, version=1).rules
    response = admin.post("/o/acme/manage/policy/edit/", form_data(rules, **changes))
    assert response.status_code == 422
    page = html(response)
    assert f'id="{field_id}-error" class="error" role="alert">' in page
    assert words in page.split(f'id="{field_id}-error"', 1)[1].split("</p>", 1)[0]
    assert "The policy was not saved" in page
    # What was typed is shown again, not the stored version.
    typed = next(iter(changes.values()))
    if isinstance(typed, str) and typed:
        assert typed.split("\n")[0] in page
    assert active_version(acme) == 1


def test_a_rule_across_fields_is_reported_for_the_form(admin, acme):
    rules = Policy.objects.get(org=acme, version=1).rules
    data = form_data(rules, **{"quota.org_monthly_images": "10", "quota.user_monthly_images": "11"})
    response = admin.post("/o/acme/manage/policy/edit/", data)
    assert response.status_code == 422
    assert "user_monthly_images cannot exceed quota.org_monthly_images" in html(response)
    assert active_version(acme) == 1


def test_an_unreadable_input_does_not_hide_the_other_problems(admin, acme):
    rules = Policy.objects.get(org=acme, version=1).rules
    data = form_data(rules, **{"max_steps": "", "max_height": "12"})
    page = html(admin.post("/o/acme/manage/policy/edit/", data))
    assert 'id="rule-max-steps-error"' in page and 'id="rule-max-height-error"' in page
    assert "Correct the 2 fields marked below." in page
    assert active_version(acme) == 1


def test_a_version_saved_meanwhile_is_not_overwritten(admin, acme):
    rules = Policy.objects.get(org=acme, version=1).rules
    policy_create(org=acme, actor=None, rules={**rules, "max_steps": 20}, note="someone else")
    response = admin.post(
        "/o/acme/manage/policy/edit/",
        form_data(rules, base="1", active_seen="1", max_steps="40"),
    )
    assert response.status_code == 409
    page = html(response)
    assert "was saved while you were editing" in page and 'value="40"' in page
    assert active_version(acme) == 2
    # Saving again, now knowing about version 2, goes through.
    again = admin.post(
        "/o/acme/manage/policy/edit/",
        form_data(rules, base="1", active_seen="2", max_steps="40"),
    )
    assert again.status_code == 302
    assert Policy.objects.get(org=acme, version=3).rules["max_steps"] == 40


def test_the_json_editor_saves_a_new_version(admin, acme):
    rules = {**default_rules(), "max_images_per_job": 2}
    response = admin.post(
        "/o/acme/manage/policy/edit/",
        {"mode": "json", "rules_json": json.dumps(rules), "note": "via json"},
    )
    assert response.status_code == 302
    saved = Policy.objects.get(org=acme, version=2)
    assert saved.rules["max_images_per_job"] == 2 and saved.note == "via json"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"max_steps": 3', "This is not valid JSON"),
        ("[1, 2]", "rules must be a JSON object"),
        ('{"max_widht": 512}', "max_widht: Extra inputs are not permitted"),
        (
            '{"prompt": {"blocked_categories": ["hate"]}}',
            "cannot be removed",
        ),
        ("[" * 100_000, "levels deep"),
    ],
)
def test_the_json_editor_refusals(admin, acme, text, words):
    response = admin.post("/o/acme/manage/policy/edit/", {"mode": "json", "rules_json": text})
    assert response.status_code in (400, 422)
    page = html(response)
    assert 'data-testid="json-errors"' in page and words in page.replace("&#x27;", "'")
    assert "<details" in page and "open" in page.split('data-testid="json-editor"')[0][-80:]
    assert active_version(acme) == 1


def test_a_note_over_500_characters_is_refused(admin, acme):
    rules = Policy.objects.get(org=acme, version=1).rules
    response = admin.post("/o/acme/manage/policy/edit/", form_data(rules, note="x" * 501))
    assert response.status_code == 422 and "at most 500" in html(response)
    assert active_version(acme) == 1


def test_versions_list_and_diff_show_the_changed_key(admin, acme):
    rules = default_rules()
    policy_create(org=acme, actor=None, rules={**rules, "max_steps": 25}, note="fewer steps")
    listing = html(admin.get("/o/acme/manage/policy/"))
    assert 'data-version="2"' in listing and 'data-version="1"' in listing
    assert "fewer steps" in listing and "what changed in v2" in listing
    diff = admin.get("/o/acme/manage/policy/diff/?a=1&b=2")
    assert diff.status_code == 200
    page = html(diff)
    assert '<tr data-rule="max_steps">' in page
    assert (
        '<td class="del"><code class="breakable">50</code></td>'
        '<td class="add"><code class="breakable">25</code></td>'
    ) in page
    assert '<span class="del">-  &quot;max_steps&quot;: 50,</span>' in page
    assert '<span class="add">+  &quot;max_steps&quot;: 25,</span>' in page
    assert "1 rule changed" in page
    # Without parameters: the active version against the one before.
    assert '<tr data-rule="max_steps">' in html(admin.get("/o/acme/manage/policy/diff/"))
    same = html(admin.get("/o/acme/manage/policy/diff/?a=2&b=2"))
    assert "the same rules" in same


def test_diff_refusals(admin):
    assert admin.get("/o/acme/manage/policy/diff/?a=one&b=1").status_code == 400
    assert admin.get("/o/acme/manage/policy/diff/?a=1&b=9").status_code == 404
    assert admin.get("/o/acme/manage/policy/9/").status_code == 404
    assert admin.get("/o/acme/manage/policy/edit/?base=9").status_code == 404


def test_editing_from_an_older_version(admin, acme):
    policy_create(org=acme, actor=None, rules={**default_rules(), "max_steps": 25})
    page = html(admin.get("/o/acme/manage/policy/edit/?base=1"))
    assert "You are starting from version 1" in page
    assert 'name="max_steps" type="number" inputmode="decimal" value="50"' in page
    version_page = html(admin.get("/o/acme/manage/policy/1/"))
    assert "Start a new version from this one" in version_page


# ---------------------------------------------------------------------------------------------
# Datasets and licences


def _import(org, tmp_path, name="Imported"):
    folder = tmp_path / "import"
    folder.mkdir()
    rows = []
    for seed in (21, 22, 23):
        (folder / f"{seed}.png").write_bytes(png_bytes(seed))
        rows.append({"file": f"{seed}.png", "licence": "CC-BY-4.0", "creator": f"Ann {seed}"})
    manifest = folder / "items.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "licence", "creator"])
        writer.writeheader()
        writer.writerows(rows)
    dataset = dataset_create(org=org, actor=None, name=name)
    dataset_import(dataset=dataset, actor=None, folder=folder, manifest=manifest)
    return dataset


def test_datasets_page_shows_licences_counts_imports_and_the_command(admin, acme, tmp_path):
    make_dataset(acme, name="One by one", seeds=(1, 2))
    _import(acme, tmp_path)
    page = html(admin.get("/o/acme/manage/datasets/"))
    one_by_one = page.split('data-dataset="One by one"')[1].split("</tr>")[0]
    assert "<td>2</td>" in one_by_one and "CC0-1.0" in one_by_one
    assert "items added one by one" in one_by_one
    imported = page.split('data-dataset="Imported"')[1].split("</tr>")[0]
    assert '3 items from <code class="breakable">items.csv</code>' in imported
    assert "CC-BY-4.0" in imported
    assert "manage.py import_dataset" in page and "--org acme" in page
    assert 'data-licence="CC0-1.0"' in page


def test_last_import_counts_every_batch_of_the_import(admin, acme, tmp_path, monkeypatch):
    # Committed two items at a time: five items are three batches, three audit events.
    monkeypatch.setattr("licensing.services.IMPORT_BATCH", 2)
    folder = tmp_path / "batches"
    folder.mkdir()
    with (folder / "items.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "licence"])
        for seed in range(5):
            (folder / f"{seed}.png").write_bytes(png_bytes(100 + seed))
            writer.writerow([f"{seed}.png", "CC0-1.0"])
    dataset = dataset_create(org=acme, actor=None, name="Batched")
    dataset_import(dataset=dataset, actor=None, folder=folder, manifest=folder / "items.csv")
    page = html(admin.get("/o/acme/manage/datasets/"))
    row = page.split('data-dataset="Batched"')[1].split("</tr>")[0]
    assert "5 items from" in row, row


def test_dataset_page_lists_items_imports_and_finds_an_item(admin, acme, tmp_path):
    dataset = _import(acme, tmp_path)
    page = html(admin.get(f"/o/acme/manage/datasets/{dataset.pk}/"))
    assert page.count('data-item="') == 3
    assert '<code class="breakable">items.csv</code></td><td>3</td>' in page
    found = html(admin.get(f"/o/acme/manage/datasets/{dataset.pk}/?q=Ann+22"))
    assert found.count('data-item="') == 1 and "Ann 22" in found


def test_recording_an_opt_out_flags_the_models(admin, acme, tmp_path):
    dataset, (item, _) = make_dataset(acme, seeds=(1, 2))
    make_model(acme, tmp_path, name="studio", datasets=[dataset])
    url = f"/o/acme/manage/datasets/{dataset.pk}/items/{item.pk}/opt-out/"
    form = html(admin.get(url))
    assert "studio:1" in form and item.sha256 in form
    response = admin.post(url, {"requested_by": "Ann Owner <ann@example.org>", "reason": "mine"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.consent == DatasetItem.Consent.OPTED_OUT
    record = ConsentRecord.objects.get(item=item)
    assert record.kind == "opt_out" and record.requested_by == "Ann Owner <ann@example.org>"
    page = html(admin.get(f"/o/acme/manage/datasets/{dataset.pk}/"))
    assert "Ann Owner &lt;ann@example.org&gt;" in page
    assert 'data-testid="opted-out-count">1<' in page
    models = html(admin.get("/o/acme/manage/models/"))
    assert "1 item(s) whose owner opted out" in models


def test_an_opt_out_needs_who_asked(admin, acme):
    dataset, (item,) = make_dataset(acme, seeds=(1,))
    url = f"/o/acme/manage/datasets/{dataset.pk}/items/{item.pk}/opt-out/"
    for blank in ("", "   "):
        response = admin.post(url, {"requested_by": blank})
        assert response.status_code == 422
        assert 'id="requested-by-error"' in html(response)
    assert not ConsentRecord.objects.exists()


def test_an_item_of_another_dataset_is_404(admin, acme):
    dataset, _ = make_dataset(acme, name="A", seeds=(1,))
    _, (other_item,) = make_dataset(acme, name="B", seeds=(2,))
    url = f"/o/acme/manage/datasets/{dataset.pk}/items/{other_item.pk}/opt-out/"
    assert admin.post(url, {"requested_by": "someone"}).status_code == 404


def test_the_item_image_is_served_to_admins(admin, personas, acme):
    dataset, (item,) = make_dataset(acme, seeds=(1,))
    url = f"/o/acme/manage/datasets/{dataset.pk}/items/{item.pk}/image/"
    response = admin.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png_bytes(1)
    assert personas["staff"].portal().get(url).status_code == 403


def test_adding_a_licence(admin, acme):
    response = admin.post(
        "/o/acme/manage/datasets/",
        {
            "key": "acme-stock-2024",
            "name": "Acme stock photos 2024",
            "custom_text": "You may train on these images.",
            "allows_training": "on",
            "expires_at": "2030-01-01",
        },
    )
    assert response.status_code == 302
    licence = Licence.objects.get(org=acme, key="acme-stock-2024")
    assert licence.allows_training and not licence.allows_commercial
    assert licence.expires_at.isoformat() == "2030-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("form", "status", "field", "words"),
    [
        ({"key": "CC0-1.0", "name": "again", "spdx_id": "CC0-1.0"}, 409, "key", "exists"),
        ({"key": "has space", "name": "x", "spdx_id": "MIT"}, 422, "key", "A key of letters"),
        ({"key": "mine", "name": "x"}, 422, "spdx", "SPDX id or its custom text"),
        ({"key": "mine", "name": "", "spdx_id": "MIT"}, 422, "name", "at least 1 character"),
        (
            {"key": "mine", "name": "x", "spdx_id": "MIT", "expires_at": "soon"},
            422,
            "expires",
            "valid datetime",
        ),
    ],
)
def test_licence_refusals(admin, acme, form, status, field, words):
    before = Licence.objects.filter(org=acme).count()
    response = admin.post("/o/acme/manage/datasets/", form)
    assert response.status_code == status
    page = html(response)
    assert f'id="licence-{field}-error" class="error" role="alert">' in page
    assert words in page
    assert Licence.objects.filter(org=acme).count() == before


# ---------------------------------------------------------------------------------------------
# Models


def test_models_page_shows_posture_reasons_datasets_and_card(admin, acme, tmp_path):
    licence_free, _ = make_dataset(acme, name="Free", seeds=(1,))
    non_commercial, _ = make_dataset(acme, name="NC", licence="CC-BY-NC-4.0", seeds=(2,))
    good = make_model(acme, tmp_path, name="good", datasets=[licence_free])
    good.model_card = "# Good model\nTrained on CC0 shapes."
    good.save(update_fields=["model_card"])
    make_model(acme, tmp_path, name="nc", datasets=[licence_free, non_commercial])
    page = html(admin.get("/o/acme/manage/models/"))
    good_card = page.split('data-model="good:1"')[1].split("</article>")[0]
    assert 'data-testid="usable">usable' in good_card
    assert "Trained on CC0 shapes." in good_card and ">Free</a>" in good_card
    nc_card = page.split('data-model="nc:1"')[1].split("</article>")[0]
    assert 'data-testid="usable">not usable' in nc_card
    assert 'data-testid="commercial">not allowed' in nc_card
    assert 'data-testid="non-commercial">allowed' in nc_card
    assert "dataset &#x27;NC&#x27;: licence CC-BY-NC-4.0 does not allow commercial use" in nc_card


# ---------------------------------------------------------------------------------------------
# Abuse


def _suspend(personas, role="staff"):
    persona = personas[role]
    rules = PolicyRules.model_validate({**default_rules(), "abuse": {"max_blocked": 2}})
    with transaction.atomic():
        for _ in range(2):
            suspension = abuse_record(
                org=persona.org,
                user=persona.user,
                kind="prompt_blocked",
                category="hate",
                rules=rules,
            )
    return suspension


def test_abuse_page_lists_open_suspensions(admin, personas):
    _suspend(personas)
    page = html(admin.get("/o/acme/manage/abuse/"))
    row = page.split('data-user="staff@acme.test"')[1].split("</tr>")[0]
    assert "2 prompts" in row and "2 blocked requests within 24 h" in row
    assert 'name="reason"' in row


def test_lifting_needs_a_reason(admin, personas):
    suspension = _suspend(personas)
    url = f"/o/acme/manage/abuse/{suspension.pk}/lift/"
    response = admin.post(url, {"reason": "   "})
    assert response.status_code == 422
    assert "Say why the suspension is lifted." in html(response)
    suspension.refresh_from_db()
    assert suspension.lifted_at is None
    too_long = admin.post(url, {"reason": "x" * 2001})
    assert too_long.status_code == 422 and "at most 2000" in html(too_long)


def test_lifting_with_a_reason_moves_it_to_recently_lifted(admin, personas):
    suspension = _suspend(personas)
    url = f"/o/acme/manage/abuse/{suspension.pk}/lift/"
    response = admin.post(url, {"reason": "talked to them"}, follow=True)
    assert "Suspension of staff@acme.test lifted." in html(response)
    suspension.refresh_from_db()
    assert suspension.lifted_by == personas["admin"].user
    lifted = html(response).split('data-testid="lifted-suspensions"')[1]
    assert "talked to them" in lifted and "staff@acme.test" in lifted
    again = admin.post(url, {"reason": "twice"})
    assert again.status_code == 409 and "already lifted" in html(again)


def test_another_orgs_suspension_is_404(personas):
    suspension = _suspend(personas)
    outsider = personas["outsider"].portal()
    url = f"/o/globex/manage/abuse/{suspension.pk}/lift/"
    assert outsider.post(url, {"reason": "not yours"}).status_code == 404
    assert Suspension.objects.get(pk=suspension.pk).lifted_at is None
